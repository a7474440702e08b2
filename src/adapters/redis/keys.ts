/**
 * Where guidd keeps things in Redis, all under one prefix (REDIS_PREFIX), so several
 * deployments or test runs can share a server.
 *
 * A GUID's key and the journal are written by one script, so on Redis Cluster they would
 * have to share a hash slot; this layout targets a single primary (with replicas/Sentinel).
 */
export interface RedisKeys {
  /** A GUID's current state: record or tombstone JSON (EXAT = its expire), or the absent marker. */
  guid(guid: string): string
  /** The write-behind journal (a Stream). */
  readonly journal: string
  /** The journal's consumer group: every instance's flusher reads through it. */
  readonly group: string
  /** Entries that failed repeatedly for a reason of their own. */
  readonly deadLetters: string
  /** Pub/sub channel of cross-instance LRU invalidations. */
  readonly invalidations: string
  /** The change feed: a Stream of every write's changes, appended by the write's own script. */
  readonly events: string
  /** The id of the newest event trimmed from `events`: positions before it have lost events (410). */
  readonly eventsTrimmed: string
  /** GUIDs by the instant their record expires (a sorted set), kept by the write's script: the expiry sweep's work list. */
  readonly expiries: string
}

export const redisKeys = (prefix: string): RedisKeys => ({
  guid: (guid) => `${prefix}g:${guid}`,
  journal: `${prefix}journal`,
  group: 'flushers',
  deadLetters: `${prefix}journal:dead`,
  invalidations: `${prefix}invalidate`,
  events: `${prefix}events`,
  eventsTrimmed: `${prefix}events:trimmed`,
  expiries: `${prefix}expiries`,
})

/** The value cached for "no such GUID" (briefly, PX); it has no version, so it reads as version 0. */
export const ABSENT_MARKER = '{"absent":1}'
