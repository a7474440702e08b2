import type { Clock } from '../../domain/clock'
import type { Logger } from '../../ops/logger'
import { badPosition, type EventLog, type FeedPage, feedGone, type LoggedChange } from '../../data/feed'
import { type RedisConnection, redisCall } from './client'
import { parseId, type StreamEntries, toChange } from './events'
import type { RedisKeys } from './keys'
import type { PartitionRouting } from './partition-masters'
import type { ScriptClient } from './scripts'
import { DISMISS_EXPIRY, FOLLOW_NODE, NOT_LOCAL, Script, TRIM_EVENTS } from './scripts'

/** A stream entry id as [ms, seq]. */
type Id = [number, number]
/** Where a consumer is in every partition's events stream: one entry id per partition. */
type Vector = Id[]

const ZERO: Id = [0, 0]
const cmpId = (a: Id, b: Id): number => a[0] - b[0] || a[1] - b[1]
/** A partition's part of an encoded position: `<ms>-<seq>` in base 36, empty for 0-0. */
const component = ([ms, seq]: Id): string => (ms === 0 && seq === 0 ? '' : `${ms.toString(36)}-${seq.toString(36)}`)
const joinComponents = (components: readonly string[]): string => `${components.length}_${components.join('.')}`
const COMPONENT = /^([0-9a-z]{1,11})-([0-9a-z]{1,11})$/

export interface PartitionedEventLogOptions {
  /** The cluster client (each partition's stream is read on its own slot). */
  client: RedisConnection
  keys: RedisKeys
  timeoutMs: number
  retentionSeconds: number
  /** How long the follower waits after a round over every partition found nothing (FLUSH_INTERVAL_MS). */
  pollMs: number
  clock: Clock
  logger: Logger
  /**
   * Which master serves each partition now: with it, the follower reads the partitions of one
   * master in one call to that master (FOLLOW_NODE) instead of one read per partition.
   */
  routing?: PartitionRouting
}

/** Most entries the follower reads from one partition in one round. */
const FOLLOW_COUNT = 256

/**
 * The change feed on a Redis Cluster: each partition has its own events stream, appended by
 * the journal's script on the partition's slot (so a GUID's events, all in its partition, are
 * in version order), and no command reads several slots at once. A position is therefore one
 * entry id per partition, written as one opaque string (`<partitions>_` then each partition's
 * `<ms>-<seq>` in base 36, empty for 0-0, joined by `.`): resuming from it reads each
 * partition after its own id, so nothing is missed or repeated whatever the interleaving.
 * A page merges the partitions' entries by entry id (then partition), a linear extension of
 * each partition's order; the position after each event is the one before it advanced in that
 * event's partition. Two instances may interleave partitions differently, so positions are
 * only partially ordered (`partial`): the hub serves a cursor from memory only when it is one
 * of its own positions, else from the streams. A position below a partition's trim mark may
 * have lost events there: 410, as in Redis mode.
 */
export class PartitionedEventLog implements EventLog {
  readonly partial = true
  private readonly dismissScript = new Script(DISMISS_EXPIRY)
  private readonly trimScript = new Script(TRIM_EVENTS)
  private readonly followScript = new Script(FOLLOW_NODE)
  private readonly partitions: number[]

  constructor(private readonly options: PartitionedEventLogOptions) {
    this.partitions = Array.from({ length: options.keys.partitions }, (_, p) => p)
  }

  encode(vector: Vector): string {
    return joinComponents(vector.map(component))
  }

  decode(position: string): Vector {
    const sep = position.indexOf('_')
    if (sep < 0 || position.slice(0, sep) !== String(this.partitions.length)) throw badPosition(position)
    const parts = position.slice(sep + 1).split('.')
    if (parts.length !== this.partitions.length) throw badPosition(position)
    return parts.map((part) => {
      if (part === '') return ZERO
      const match = COMPONENT.exec(part)
      const id: Id | undefined = match === null ? undefined : [Number.parseInt(match[1]!, 36), Number.parseInt(match[2]!, 36)]
      if (id === undefined || !Number.isSafeInteger(id[0]) || !Number.isSafeInteger(id[1]) || (id[0] === 0 && id[1] === 0)) throw badPosition(position)
      return id
    })
  }

  async head(): Promise<string> {
    const { client, keys, timeoutMs } = this.options
    const trimmed = await this.trimMarks()
    const newest = await Promise.all(
      this.partitions.map(async (p) => (await redisCall('events', timeoutMs, () => client.xRevRange(keys.partition(p).events, '+', '-', { COUNT: 1 }))) as StreamEntries),
    )
    return this.encode(newest.map((entries, p) => (entries[0] === undefined ? trimmed[p]! : this.id(entries[0].id))))
  }

  async first(): Promise<string> {
    return this.encode(await this.trimMarks())
  }

  async read(after: string, limit: number): Promise<FeedPage> {
    const from = this.decode(after)
    const { client, keys, timeoutMs } = this.options
    const read = await Promise.all(
      this.partitions.map(async (p) => (await redisCall('events', timeoutMs, () => client.xRange(keys.partition(p).events, `(${from[p]![0]}-${from[p]![1]}`, '+', { COUNT: limit }))) as StreamEntries),
    )
    // Read after the ranges: a trim only raises a mark, so one that removed anything after the
    // position before its partition's range was read shows here.
    const trimmed = await this.trimMarks()
    if (trimmed.some((mark, p) => cmpId(mark, from[p]!) > 0)) throw feedGone(after, this.options.retentionSeconds)
    const { events, next } = this.merge(from, read, limit)
    return { events, next: this.encode(next) }
  }

  /** A linear extension of the partial order (partition by partition); the hub relies on `partial` instead for positions it did not hand out. */
  compare(a: string, b: string): number {
    const x = this.decode(a)
    const y = this.decode(b)
    for (let p = 0; p < x.length; p++) {
      const c = cmpId(x[p]!, y[p]!)
      if (c !== 0) return c
    }
    return 0
  }

  follow(from: string, deliver: (events: LoggedChange[]) => void): { stop(): Promise<void> } {
    const { logger, pollMs } = this.options
    let last = this.decode(from)
    let stopped = false
    let wake: (() => void) | undefined
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    const loop = (async () => {
      let backoffMs = 50
      let failing = false
      while (!stopped) {
        try {
          // Non-blocking: a blocking read would hold a connection per partition.
          const read = await this.readAfter(last)
          backoffMs = 50
          if (failing) logger.info('change feed follower: reading the events streams works again')
          failing = false
          const { events, next, entries } = this.merge(last, read, Number.MAX_SAFE_INTEGER)
          last = next
          if (events.length > 0) deliver(events)
          if (entries === 0 && !stopped) await pause(pollMs)
        } catch (error) {
          if (stopped) break
          if (!failing) logger.warn({ err: error }, 'change feed follower: reading the events streams failed; retrying')
          failing = true
          await pause(backoffMs)
          backoffMs = Math.min(backoffMs * 2, 2_000)
        }
      }
    })()
    return {
      stop: async () => {
        stopped = true
        wake?.()
        await loop
      },
    }
  }

  /**
   * Up to FOLLOW_COUNT events of every partition after its position: one call per master that
   * serves several (FOLLOW_NODE), else, and whenever a master's call finds a stream not served
   * there, one XRANGE per partition (node-redis follows MOVED/ASK for those).
   */
  private async readAfter(after: Vector): Promise<StreamEntries[]> {
    const { client, keys, timeoutMs, routing } = this.options
    const one = async (p: number) =>
      (await redisCall('events', timeoutMs, () => client.xRange(keys.partition(p).events, `(${after[p]![0]}-${after[p]![1]}`, '+', { COUNT: FOLLOW_COUNT }))) as StreamEntries
    if (routing === undefined) return Promise.all(this.partitions.map(one))
    const read: StreamEntries[] = new Array(this.partitions.length)
    await Promise.all(
      routing.group(this.partitions).map(async ({ partitions, client: node }) => {
        const byMaster = partitions.length > 1 ? await this.readOnMaster(partitions, after, node) : undefined
        if (byMaster !== undefined) for (const [i, p] of partitions.entries()) read[p] = byMaster[i] ?? []
        else
          await Promise.all(
            partitions.map(async (p) => {
              read[p] = await one(p)
            }),
          )
      }),
    )
    return read
  }

  /** The partitions' events from their master in one call; undefined when it did not serve them all. */
  private async readOnMaster(partitions: number[], after: Vector, node: () => Promise<ScriptClient>): Promise<StreamEntries[] | undefined> {
    const { keys, timeoutMs } = this.options
    const args = [String(FOLLOW_COUNT)]
    for (const p of partitions) args.push(keys.partition(p).events, `${after[p]![0]}-${after[p]![1]}`)
    const reply = await redisCall('events', timeoutMs, async () => {
      let master: ScriptClient
      try {
        master = await node()
      } catch {
        return undefined
      }
      try {
        return (await this.followScript.run(master, [], args)) as Array<Array<[string, string[]]>>
      } catch (error) {
        // Not served there (or no connection to that master now): read partition by partition.
        if (error instanceof Error && (error.message.startsWith(NOT_LOCAL) || /^(?:MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING)\b/.test(error.message))) return undefined
        throw error
      }
    })
    return reply?.map((entries) =>
      entries.map(([id, fields]) => {
        const message: Record<string, string> = {}
        for (let i = 0; i + 1 < fields.length; i += 2) message[fields[i]!] = fields[i + 1]!
        return { id, message }
      }),
    )
  }

  /** Removes each partition's events older than the retention (TRIM_EVENTS); returns how many went. */
  async trim(): Promise<number> {
    const { client, keys, timeoutMs, clock, retentionSeconds } = this.options
    const minId = `${Math.max(0, clock.now() - retentionSeconds * 1000)}-0`
    const counts = await Promise.all(
      this.partitions.map(async (p) => {
        const k = keys.partition(p)
        return Number(await redisCall('events', timeoutMs, () => this.trimScript.run(client, [k.events, k.eventsTrimmed], [minId])))
      }),
    )
    return counts.reduce((a, b) => a + b, 0)
  }

  /** GUIDs whose record expired at or before `nowSec`, from every partition's expiry list. */
  async due(nowSec: number, limit: number): Promise<string[]> {
    const { client, keys, timeoutMs } = this.options
    const lists = await Promise.all(
      this.partitions.map((p) => redisCall('expiries', timeoutMs, () => client.zRangeWithScores(keys.partition(p).expiries, '-inf', nowSec, { BY: 'SCORE', LIMIT: { offset: 0, count: limit } }))),
    )
    return lists
      .flat()
      .sort((a, b) => a.score - b.score)
      .slice(0, limit)
      .map((e) => e.value)
  }

  /** As RedisEventLog.dismiss, on the GUID's partition (its expiry list shares the GUID key's slot). */
  async dismiss(guid: string, nowSec: number): Promise<void> {
    const { client, keys, timeoutMs } = this.options
    const expiries = keys.partition(keys.partitionOf(guid)).expiries
    await redisCall('expiries', timeoutMs, () => this.dismissScript.run(client, [expiries, keys.guid(guid)], [guid, String(nowSec)]))
  }

  private id(id: string): Id {
    const parsed = parseId(id)
    if (parsed === undefined) throw new Error(`events stream entry id ${id} is not <ms>-<seq>`)
    return parsed
  }

  private async trimMarks(): Promise<Vector> {
    const { client, keys, timeoutMs } = this.options
    const marks = await Promise.all(this.partitions.map((p) => redisCall('events', timeoutMs, () => client.get(keys.partition(p).eventsTrimmed))))
    return marks.map((mark) => (mark === null ? ZERO : this.id(mark)))
  }

  /**
   * Up to `limit` of the partitions' entries read after `from`, merged by entry id: each
   * partition's taken entries are a prefix of what was read from it, so the returned position
   * misses none of the rest.
   */
  private merge(from: Vector, read: StreamEntries[], limit: number): { events: LoggedChange[]; next: Vector; entries: number } {
    const all: Array<{ p: number; id: Id; message: Record<string, string> }> = []
    read.forEach((entries, p) => {
      for (const { id, message } of entries) all.push({ p, id: this.id(id), message })
    })
    all.sort((a, b) => cmpId(a.id, b.id) || a.p - b.p)
    const taken = all.slice(0, limit)
    const next = [...from]
    // Each event's position differs from the one before in one partition: its component is
    // encoded once, not the whole vector again (P components) for every event.
    const components = from.map(component)
    const events: LoggedChange[] = []
    for (const { p, id, message } of taken) {
      next[p] = id
      components[p] = component(id)
      const event = toChange('', message)
      if (event === undefined) continue
      event.id = joinComponents(components)
      events.push(event)
    }
    return { events, next, entries: taken.length }
  }
}
