import type { Clock } from '../domain/clock'
import { overloaded } from '../domain/errors'
import { type EventLog, type FeedFilter, type FeedPage, type LoggedChange, matches } from './feed'

export interface FeedHubOptions {
  log: EventLog
  /** Most streams open at once on this instance (MAX_EVENT_STREAMS). */
  maxStreams: number
  /** Most recent events kept in memory for the streams that follow the head. */
  tailMax?: number
  /** EVENTS_RETENTION_SECONDS in ms: memory keeps no event longer than the log does, so every instance answers an old position alike (410). */
  retentionMs: number
  clock: Clock
  /**
   * How long after a delivery the streams wake (ms): the writes of that window reach each stream
   * as one read and one socket write instead of one per commit (0: at once).
   */
  coalesceMs?: number
  /** Told when the log cannot be followed (retried). */
  onError?: (error: unknown) => void
}

/** Recent events kept in memory: a consumer this far behind the head reads the log instead. */
const DEFAULT_TAIL_MAX = 4_096

/** Groups of streams woken a turn apart after a delivery (each stream joins the next group in turn). */
const WAKE_LANES = 25

/** Pages a filtered read scans in one call before it answers with no events and a moved position. */
const MAX_SCANNED_PAGES = 8

/**
 * This instance's side of the change feed: one follower of the mode's event log, whatever the
 * number of consumers, and the last events in memory, so a write costs the same with a hundred
 * streams open as with one (each stream reads memory, not the log). A consumer behind the
 * memory tail reads the log itself, a page at a time, at the pace it takes them.
 */
export class FeedHub {
  private tail: LoggedChange[] = []
  /** When each tail event arrived (clock ms). */
  private arrived: number[] = []
  /** The tail holds every event after this position (undefined until started). */
  private base: string | undefined
  /** Streams wait on one of WAKE_LANES lanes (in turn), woken one lane per event-loop turn; a lane exists only while a stream waits on it. */
  private lanes: Array<ReturnType<typeof awaken> | undefined> = []
  private nextLane = 0
  private follower: { stop(): Promise<void> } | undefined
  private open = 0
  private halted = false
  private wakeTimer: ReturnType<typeof setTimeout> | undefined
  private readonly tailMax: number

  constructor(private readonly options: FeedHubOptions) {
    this.tailMax = options.tailMax ?? DEFAULT_TAIL_MAX
  }

  /** Events the follower has delivered since start. */
  followed = 0

  get streams(): number {
    return this.open
  }

  get log(): EventLog {
    return this.options.log
  }

  /**
   * Starts following the log from its head. Resolves after the first attempt; while the log
   * cannot be reached (its backend is down at start) it tries again, backing off, and streams
   * read the log itself meanwhile.
   */
  start(): Promise<void> {
    const { log } = this.options
    const attempt = async (delayMs: number): Promise<void> => {
      if (this.halted) return
      try {
        const head = await log.head()
        if (this.halted) return
        this.base = head
        this.follower = log.follow(head, (events) => this.deliver(events))
      } catch (error) {
        this.options.onError?.(error)
        setTimeout(() => void attempt(Math.min(delayMs * 2, 5_000)), delayMs).unref?.()
      }
    }
    return attempt(100)
  }

  /** Whether the instance is shutting down: streams end (their clients resume elsewhere). */
  get stopped(): boolean {
    return this.halted
  }

  async stop(): Promise<void> {
    this.halted = true
    clearTimeout(this.wakeTimer)
    this.wakeStreams()
    await this.follower?.stop()
    this.follower = undefined
    this.wakeStreams()
  }

  /** Takes a stream slot, or refuses with 503 past MAX_EVENT_STREAMS; the caller returns it with `release`. */
  acquire(): void {
    if (this.open >= this.options.maxStreams) throw overloaded(`This instance serves ${this.open} event streams, its limit (MAX_EVENT_STREAMS); retry shortly or on another instance.`)
    this.open++
  }

  release(): void {
    this.open--
  }

  /**
   * Events after `cursor` that `filter` takes, up to `limit`, for a stream: from memory when the
   * tail covers `cursor` (it then waits for this instance's follower), else from the log.
   */
  async read(cursor: string, limit: number, filter: FeedFilter): Promise<FeedPage> {
    this.dropOlderThan(this.options.clock.now() - this.options.retentionMs)
    const from = this.indexAfter(cursor)
    // Older than the tail, or past all this instance has seen (a position from a faster
    // instance, or one the log never handed out): the log decides.
    if (from === undefined || (!this.options.log.partial && from === this.tail.length && this.options.log.compare(cursor, this.tail.at(-1)?.id ?? this.base!) > 0))
      return this.readLog(cursor, limit, filter)
    const events: LoggedChange[] = []
    let next = cursor
    for (let i = from; i < this.tail.length && events.length < limit; i++) {
      const event = this.tail[i]!
      next = event.id
      if (matches(filter, event)) events.push(event)
    }
    return { events, next }
  }

  /** The same from the log itself, caught up first: a page answered after a write was acknowledged (by any instance) includes it. */
  async readLog(cursor: string, limit: number, filter: FeedFilter): Promise<FeedPage> {
    await this.options.log.catchUp?.()
    let next = cursor
    for (let page = 0; page < MAX_SCANNED_PAGES; page++) {
      const read = await this.options.log.read(next, limit)
      const events = read.events.filter((e) => matches(filter, e))
      if (events.length > 0) return { events, next: read.next }
      if (read.next === next) break
      next = read.next
    }
    return { events: [], next }
  }

  /** Resolves at the next delivery, or after `ms`; true when woken by a delivery. */
  waitForEvents(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms)
    })
    const at = this.nextLane++ % WAKE_LANES
    const lane = (this.lanes[at] ??= awaken())
    return Promise.race([lane.promise.then(() => true), timeout]).finally(() => clearTimeout(timer))
  }

  /** Where the tail holds the first event after `cursor`, or undefined when `cursor` is older than the tail. */
  private indexAfter(cursor: string): number | undefined {
    const { log } = this.options
    if (this.base === undefined) return undefined
    if (log.partial) {
      // Searched from the newest: a stream that keeps up holds one of the last positions.
      if (cursor === this.base) return 0
      const at = this.tail.findLastIndex((e) => e.id === cursor)
      return at < 0 ? undefined : at + 1
    }
    if (log.compare(cursor, this.base) < 0) return undefined
    let lo = 0
    let hi = this.tail.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (log.compare(this.tail[mid]!.id, cursor) <= 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private dropOlderThan(cutoff: number): void {
    let n = 0
    while (n < this.arrived.length && this.arrived[n]! < cutoff) n++
    if (n > 0) this.drop(n)
  }

  /** Forgets the oldest `n` events: the tail is then complete after the last of them. */
  private drop(n: number): void {
    this.base = this.tail[n - 1]!.id
    this.tail = this.tail.slice(n)
    this.arrived = this.arrived.slice(n)
  }

  private deliver(events: LoggedChange[]): void {
    if (events.length === 0) return
    this.followed += events.length
    const now = this.options.clock.now()
    for (const event of events) {
      this.tail.push(event)
      this.arrived.push(now)
    }
    // Trimmed back to tailMax only once it holds twice that: one copy per tailMax events, not one
    // per commit (a copy of 4,096 entries per group commit showed in a write's CPU).
    if (this.tail.length > 2 * this.tailMax) this.drop(this.tail.length - this.tailMax)
    const delay = this.options.coalesceMs ?? 0
    if (delay <= 0) {
      this.wakeStreams()
      return
    }
    if (this.wakeTimer !== undefined) return
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined
      this.wakeStreams()
    }, delay)
  }

  private wakeStreams(): void {
    // One lane per turn of the event loop (chained immediates), not every stream in one go: a
    // hundred streams writing their pages back to back held the loop for milliseconds, and the
    // requests that arrived meanwhile (the writes that made the events) waited behind them.
    // With no stream waiting (no subscriber) there is nothing to wake and nothing is scheduled.
    const lanes = this.lanes.filter((lane) => lane !== undefined)
    if (lanes.length === 0) return
    this.lanes = []
    let next = 0
    const wakeLane = (): void => {
      lanes[next++]!.resolve()
      if (next < lanes.length) setImmediate(wakeLane)
    }
    wakeLane()
  }
}

const awaken = () => {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}
