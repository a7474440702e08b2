import { overloaded, unavailable } from '../../domain/errors'
import type { Mutation } from '../../domain/model'
import { type RedisConnection, redisCall } from './client'
import type { RedisKeys } from './keys'
import { encodeKept } from './idempotency'
import { encodeInvalidation } from './invalidation'
import { encodeChanges } from './events'
import { JOURNAL_WRITE_BATCH, JOURNAL_WRITE_BATCH_SHARDED, Script } from './scripts'
import { encodeState } from './state'
import { keepUntil } from './tier'
import { type Journal, VersionConflict } from '../../data/journal'
import { type Pending, TurnBatch } from '../../data/turn-batch'

export interface RedisJournalOptions {
  client: RedisConnection
  keys: RedisKeys
  /** Journal length past which mutations are refused with 503 (split evenly over the partitions). */
  maxLag: number
  /** Redis Cluster: invalidations go out on sharded pub/sub (SPUBLISH), in the partition's slot. */
  sharded?: boolean
  /**
   * REDIS_WAIT_REPLICAS: after a partition's script, wait until this many replicas have it
   * (`waitFor(firstKey)` sends WAIT on the connection that ran the script) before answering;
   * fewer within the timeout means 503, never an acknowledgement.
   */
  replicas?: { count: number; waitFor(firstKey: string): Promise<number> }
  timeoutMs: number
  /** This instance, so its own invalidations can be told from others'. */
  instanceId: string
  /** How long a state is kept past its expire (see keepUntil). */
  retainSeconds: number
  /** Told when a journal write fails (Redis down or refusing writes) and when one succeeds. */
  health?: { failed(error: unknown): void; succeeded(): void }
}

/** Most writes sent in one script call; more in one turn go in the next call. */
const BATCH_MAX = 256

/**
 * The write-behind journal (SPEC §4): one script sets the GUID's new state in Redis, appends
 * the mutation to the journal stream and publishes the invalidation, guarded by the version
 * the actor read. Redis (with AOF) then holds the write durably; the flusher moves it to
 * the store later.
 *
 * The writes of one event-loop turn go to Redis in one script call (JOURNAL_WRITE_BATCH), which
 * applies each exactly as a call of its own would, in arrival order, and answers each on its
 * own: one round trip, one command's client-side cost and one timeout per turn instead of
 * per write. Each caller is answered only after Redis has answered the call holding its write.
 */
export class RedisJournal implements Journal {
  private readonly write: Script
  private readonly batches = new TurnBatch({ max: BATCH_MAX, windowMs: 0, send: (batch) => this.send(batch) })
  /** Each partition's share of the lag bound. */
  private readonly maxLagPerPartition: number

  constructor(private readonly options: RedisJournalOptions) {
    this.write = new Script(options.sharded ? JOURNAL_WRITE_BATCH_SHARDED : JOURNAL_WRITE_BATCH)
    this.maxLagPerPartition = Math.max(1, Math.ceil(options.maxLag / options.keys.partitions))
  }

  append(mutation: Mutation): Promise<void> {
    return this.batches.add(mutation)
  }

  async close(): Promise<void> {
    this.batches.close()
  }

  /** Sends one batch: one script call per partition it touches (one on a single Redis). */
  private send(batch: Pending[]): void {
    const { keys } = this.options
    if (keys.partitions === 1) return void this.sendPartition(0, batch)
    const byPartition = new Map<number, Pending[]>()
    for (const p of batch) {
      const partition = keys.partitionOf(p.mutation.next.guid)
      const list = byPartition.get(partition)
      if (list === undefined) byPartition.set(partition, [p])
      else list.push(p)
    }
    for (const [partition, pending] of byPartition) void this.sendPartition(partition, pending)
  }

  /** One partition's writes in one script call (one slot); answers each caller by its own entry. */
  private async sendPartition(partition: number, batch: Pending[]): Promise<void> {
    const { client, keys, timeoutMs, instanceId, retainSeconds, health, replicas } = this.options
    const maxLag = this.maxLagPerPartition
    const journalKeys = keys.partition(partition)
    const guidKeys = [journalKeys.journal, journalKeys.events, journalKeys.expiries]
    const args = [String(maxLag), journalKeys.invalidations]
    const keeps: string[] = []
    batch.forEach(({ mutation: { keep, next } }, i) => {
      if (keep !== undefined) keeps.push(String(i + 1), keys.idempotencyAt(keep.id, next.guid), encodeKept(keep), String(keep.expire))
    })
    for (const { mutation } of batch) {
      const { next, prevVersion } = mutation
      guidKeys.push(keys.guid(next.guid))
      args.push(
        String(prevVersion),
        encodeState(next),
        String(keepUntil(next, retainSeconds)),
        encodeInvalidation({ guid: next.guid, version: next.version, origin: instanceId }),
        JSON.stringify(next),
        encodeChanges(mutation.changes),
        'deleted' in next ? '' : String(next.expire),
      )
    }
    args.push(...keeps)
    let replies: Array<[number, string | number]>
    try {
      replies = (await redisCall('journal', timeoutMs, () => this.write.run(client, guidKeys, args))) as Array<[number, string | number]>
    } catch (error) {
      health?.failed(error)
      for (const p of batch) p.reject(error)
      return
    }
    // Written on the master: with REDIS_WAIT_REPLICAS, acknowledged only once enough replicas have it too.
    let unreplicated: unknown
    if (replicas !== undefined && replicas.count > 0 && replies.some((r) => r[0] === 1)) {
      try {
        const acked = await redisCall('replication', timeoutMs, () => replicas.waitFor(journalKeys.journal))
        if (acked < replicas.count)
          unreplicated = unavailable(`Only ${acked} of ${replicas.count} Redis replicas confirmed the write in time; it may or may not be kept: read the GUID before retrying.`)
      } catch (error) {
        unreplicated = error
      }
    }
    let failed: unknown
    batch.forEach((p, i) => {
      const [status, detail] = replies[i] ?? [-2, 'no reply for this entry']
      if (status === 1) {
        if (unreplicated === undefined) p.resolve()
        else p.reject(unreplicated)
      } else if (status === 0) p.reject(new VersionConflict(p.mutation.next.guid, p.mutation.prevVersion, Number(detail)))
      else if (status === -1) p.reject(overloaded(`The write-behind journal holds ${detail} unflushed mutations (limit ${maxLag}${keys.partitions > 1 ? ' in this partition' : ''}); retry shortly.`))
      else {
        failed = new Error(String(detail))
        p.reject(unavailable('Redis is unavailable (journal); retry shortly.', failed))
      }
    })
    if (failed === undefined) health?.succeeded()
    else health?.failed(failed)
  }
}
