/**
 * Where guidd keeps things in Redis, all under one prefix (REDIS_PREFIX), so several
 * deployments or test runs can share a server.
 *
 * A GUID's key and its journal are written by one script, so on Redis Cluster they must share
 * a hash slot: there the journal is partitioned (JOURNAL_PARTITIONS), a GUID belongs to the
 * partition its hash picks, and every key of a partition carries the partition's hash tag
 * `{<prefix><p>}` (docs/cluster.md). One Redis has a single partition with the original
 * key names, unchanged.
 */
export interface JournalKeys {
  /** The write-behind journal (a Stream). */
  readonly journal: string
  /** The journal's consumer group: every instance's flusher reads through it. */
  readonly group: string
  /** Entries that failed repeatedly for a reason of their own. */
  readonly deadLetters: string
  /** Pub/sub channel of cross-instance LRU invalidations (sharded pub/sub on a cluster). */
  readonly invalidations: string
  /** The change feed: a Stream of every write's changes, appended by the write's own script. */
  readonly events: string
  /** The id of the newest event trimmed from `events`: positions before it have lost events (410). */
  readonly eventsTrimmed: string
  /** GUIDs by the instant their record expires (a sorted set), kept by the write's script: the expiry sweep's work list. */
  readonly expiries: string
}

export interface RedisKeys extends JournalKeys {
  /** A GUID's current state: record or tombstone JSON (EXAT = its expire), or the absent marker. */
  guid(guid: string): string
  /** Partitions of the journal: 1 on one Redis. */
  readonly partitions: number
  /** The partition a GUID's writes are journaled in. */
  partitionOf(guid: string): number
  /** A partition's journal keys (partition 0's are the top-level ones). */
  partition(p: number): JournalKeys
  /** Written by the readiness probe to learn whether Redis still accepts writes (expires in a minute). */
  readonly writeProbe: string
  /**
   * An instance's liveness key (liveness.ts), kept by it while it runs: its consumer's pending
   * entries are claimed at once when the key is gone. Not in a partition: one plain key per
   * instance, which a cluster client reads on whichever node serves it.
   */
  alive(consumer: string): string
  /**
   * An Idempotency-Key's claim, then its kept answer (`id`: the caller's scope and the key).
   * The answer is written by the journal's script with the write it answers, where the key
   * shares the GUID's slot: on Redis Cluster a key lives in the partition its own hash picks
   * (found by the key alone, so a key reused on another GUID is still seen), and a create
   * without a GUID draws its GUID in that partition (docs/cluster.md).
   */
  idempotency(id: string): string
  /**
   * Where the journal's script keeps the answer of a write of `guid` under `id`: the key's own
   * record when it shares the GUID's slot (always on one Redis), else a copy beside the GUID, in
   * its partition, which a retry reads when the answer never reached the key's record.
   */
  idempotencyAt(id: string, guid: string): string
  /** The partition whose slot holds `idempotency(id)` (0 on one Redis). */
  idempotencyPartition(id: string): number
}

export const redisKeys = (prefix: string): RedisKeys => {
  const only: JournalKeys = {
    journal: `${prefix}journal`,
    group: 'flushers',
    deadLetters: `${prefix}journal:dead`,
    invalidations: `${prefix}invalidate`,
    events: `${prefix}events`,
    eventsTrimmed: `${prefix}events:trimmed`,
    expiries: `${prefix}expiries`,
  }
  return {
    ...only,
    guid: (guid) => `${prefix}g:${guid}`,
    partitions: 1,
    partitionOf: () => 0,
    partition: () => only,
    writeProbe: `${prefix}write-probe`,
    alive: (consumer) => `${prefix}alive:${consumer}`,
    idempotency: (id) => `${prefix}idem:${id}`,
    idempotencyAt: (id) => `${prefix}idem:${id}`,
    idempotencyPartition: () => 0,
  }
}

/**
 * FNV-1a (32 bits) of the canonical GUID: spreads even chosen GUIDs (a client may name its
 * own) over the partitions, and is the same in every instance and version.
 */
export const partitionOf = (guid: string, partitions: number): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < guid.length; i++) {
    hash ^= guid.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % partitions
}

/** The keys on a Redis Cluster: per partition, the hash tag `{<prefix><p>}` first. */
export const clusterKeys = (prefix: string, partitions: number): RedisKeys => {
  const parts: JournalKeys[] = Array.from({ length: partitions }, (_, p) => {
    const tag = `{${prefix}${p}}`
    return {
      journal: `${tag}journal`,
      group: 'flushers',
      deadLetters: `${tag}journal:dead`,
      invalidations: `${tag}invalidate`,
      events: `${tag}events`,
      eventsTrimmed: `${tag}events:trimmed`,
      expiries: `${tag}expiries`,
    }
  })
  return {
    ...parts[0]!,
    guid: (guid) => `{${prefix}${partitionOf(guid, partitions)}}g:${guid}`,
    partitions,
    partitionOf: (guid) => partitionOf(guid, partitions),
    partition: (p) => parts[p]!,
    writeProbe: `${prefix}write-probe`,
    alive: (consumer) => `${prefix}alive:${consumer}`,
    // In the partition the key's own hash picks: a create's GUID is drawn there (RedisIdempotency.guidFor).
    idempotency: (id) => `{${prefix}${partitionOf(id, partitions)}}idem:${id}`,
    idempotencyAt: (id, guid) => `{${prefix}${partitionOf(guid, partitions)}}idem:${id}`,
    idempotencyPartition: (id) => partitionOf(id, partitions),
  }
}

/** The value cached for "no such GUID" (briefly, PX); it has no version, so it reads as version 0. */
export const ABSENT_MARKER = '{"absent":1}'
