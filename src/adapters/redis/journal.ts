import { overloaded, unavailable } from '../../domain/errors'
import type { Mutation } from '../../domain/model'
import { type RedisConnection, redisCall } from './client'
import type { RedisKeys } from './keys'
import { encodeKept } from './idempotency'
import { encodeInvalidation } from './invalidation'
import { encodeChanges } from './events'
import type { MasterGroup, NodeClient, PartitionRouting } from './partition-masters'
import { JOURNAL_WRITE_BATCH, JOURNAL_WRITE_BATCH_SHARDED, JOURNAL_WRITE_NODE, NOT_LOCAL, Script } from './scripts'
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
   * fewer within the timeout means 503, never an acknowledgement. `waitOn(node)` sends it on a
   * master's own connection (after a call to that master: `routing`).
   */
  replicas?: { count: number; waitFor(firstKey: string): Promise<number>; waitOn?(node: NodeClient): Promise<number> }
  /**
   * Redis Cluster: which master serves each partition now. With it, a turn's writes to several
   * partitions of one master go in one call to that master (JOURNAL_WRITE_NODE) instead of one
   * call per partition.
   */
  routing?: PartitionRouting
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
  private readonly writeNode = new Script(JOURNAL_WRITE_NODE)
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

  /**
   * Sends one batch: one script call per partition it touches (one on a single Redis), or on a
   * cluster with routing, one per master for the partitions it serves.
   */
  private send(batch: Pending[]): void {
    const { keys, routing } = this.options
    if (keys.partitions === 1) return void this.sendPartition(0, batch)
    const byPartition = new Map<number, Pending[]>()
    for (const p of batch) {
      const partition = keys.partitionOf(p.mutation.next.guid)
      const list = byPartition.get(partition)
      if (list === undefined) byPartition.set(partition, [p])
      else list.push(p)
    }
    if (routing === undefined || byPartition.size === 1) {
      for (const [partition, pending] of byPartition) void this.sendPartition(partition, pending)
      return
    }
    for (const group of routing.group(byPartition.keys())) {
      if (group.partitions.length === 1) void this.sendPartition(group.partitions[0]!, byPartition.get(group.partitions[0]!)!)
      else void this.sendMaster(group, byPartition)
    }
  }

  /** A partition's share of a call: write_partition's keys and arguments (scripts.ts). */
  private callOf(partition: number, batch: Pending[]): { keys: string[]; args: string[] } {
    const { keys, instanceId, retainSeconds } = this.options
    const journalKeys = keys.partition(partition)
    const guidKeys = [journalKeys.journal, journalKeys.events, journalKeys.expiries]
    const args = [String(this.maxLagPerPartition), journalKeys.invalidations]
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
    return { keys: guidKeys, args }
  }

  /** One partition's writes in one script call (one slot); answers each caller by its own entry. */
  private async sendPartition(partition: number, batch: Pending[]): Promise<void> {
    const { client, keys, timeoutMs, health, replicas } = this.options
    const call = this.callOf(partition, batch)
    let replies: Reply[]
    try {
      replies = (await redisCall('journal', timeoutMs, () => this.write.run(client, call.keys, call.args))) as Reply[]
    } catch (error) {
      health?.failed(error)
      for (const p of batch) p.reject(error)
      return
    }
    const unreplicated = replies.some((r) => r[0] === 1) ? await this.unreplicated(() => replicas!.waitFor(keys.partition(partition).journal)) : undefined
    this.answer(batch, replies, unreplicated)
  }

  /**
   * Several partitions' writes in one call to the master that serves them all. When that master
   * did not run it (a key not served there: a stale slot map, a slot migrating; a failover made
   * it a replica; a redirection), each partition goes on its own call, which follows MOVED/ASK
   * as before: the master's call wrote nothing then. A call that may have run (a timeout, a lost
   * connection) answers 503 to every write in it, as a partition's call does.
   */
  private async sendMaster(group: MasterGroup, byPartition: Map<number, Pending[]>): Promise<void> {
    const { timeoutMs, health } = this.options
    const parts = group.partitions.map((partition) => ({ partition, batch: byPartition.get(partition)! }))
    const argv: string[] = []
    for (const { partition, batch } of parts) {
      const call = this.callOf(partition, batch)
      argv.push(String(call.keys.length), String(call.args.length), ...call.keys, ...call.args)
    }
    let node: NodeClient | undefined
    const sent = await redisCall('journal', timeoutMs, async () => {
      try {
        node = await group.client()
      } catch {
        return DECLINED
      }
      try {
        return (await this.writeNode.run(node, [], argv)) as Reply[][]
      } catch (error) {
        if (declined(error)) return DECLINED
        throw error
      }
    }).catch((error: unknown) => ({ failed: error }))
    if (sent === DECLINED) {
      for (const { partition, batch } of parts) void this.sendPartition(partition, batch)
      return
    }
    if ('failed' in sent) {
      health?.failed(sent.failed)
      for (const { batch } of parts) for (const p of batch) p.reject(sent.failed)
      return
    }
    // One WAIT covers every partition's writes: they were one call on this connection.
    const unreplicated = sent.some((replies) => replies.some((r) => r[0] === 1))
      ? await this.unreplicated(() => {
          const { replicas, keys } = this.options
          return replicas!.waitOn === undefined ? replicas!.waitFor(keys.partition(parts[0]!.partition).journal) : replicas!.waitOn(node!)
        })
      : undefined
    parts.forEach(({ batch }, i) => {
      this.answer(batch, sent[i] ?? [], unreplicated)
    })
  }

  /**
   * With REDIS_WAIT_REPLICAS, after a call wrote on the master: why the writes may not be
   * acknowledged (fewer replicas confirmed in time, or WAIT failed), or undefined when they may.
   */
  private async unreplicated(wait: () => Promise<number>): Promise<unknown> {
    const { replicas, timeoutMs } = this.options
    if (replicas === undefined || replicas.count <= 0) return undefined
    try {
      const acked = await redisCall('replication', timeoutMs, wait)
      if (acked < replicas.count) return unavailable(`Only ${acked} of ${replicas.count} Redis replicas confirmed the write in time; it may or may not be kept: read the GUID before retrying.`)
      return undefined
    } catch (error) {
      return error
    }
  }

  /** Answers each caller of a partition's share by its own entry of the script's reply. */
  private answer(batch: Pending[], replies: Reply[], unreplicated: unknown): void {
    const { keys, health } = this.options
    const maxLag = this.maxLagPerPartition
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

/** A script's answer for one entry: [status, entry id | current version | journal length | error]. */
type Reply = [number, string | number]

const DECLINED = Symbol('declined')

/**
 * Errors with which Redis refuses a command before running it: the master's call wrote nothing,
 * and each partition's own call (which follows redirections) decides.
 */
const REFUSED = new RegExp(`^(?:${NOT_LOCAL}|MOVED|ASK|TRYAGAIN|CROSSSLOT|CLUSTERDOWN|READONLY|MASTERDOWN|LOADING|OOM)\\b`)
const declined = (error: unknown): boolean => error instanceof Error && REFUSED.test(error.message)
