import type { Clock } from '../domain/clock'

/** One request racing its deadline. */
export interface Pending {
  readonly at: number
  settled: boolean
  readonly expire: () => void
}

/**
 * Per-request deadlines without a timer per request: every request has the same timeout, so
 * deadlines arrive in order and a FIFO queue holds them; `tick` (run on an interval by
 * `start`, or by tests after advancing the clock) expires the due ones. Settled entries are
 * skipped, and compacted away when they outnumber the live ones.
 */
export class Deadlines {
  private queue: Pending[] = []
  private head = 0
  private live = 0
  private timer: ReturnType<typeof setInterval> | undefined

  /** How often `start` ticks by default (a tenth of the timeout, 10 ms to 1 s): how late a deadline may fire. */
  readonly tickMs: number

  constructor(
    private readonly clock: Clock,
    readonly timeoutMs: number,
  ) {
    if (!(timeoutMs > 0)) throw new TypeError('Deadlines needs timeoutMs > 0')
    this.tickMs = Math.min(1_000, Math.max(10, Math.floor(timeoutMs / 10)))
  }

  /** Requests still racing their deadline. */
  get pending(): number {
    return this.live
  }

  /** Starts a race: `expire` runs once if the deadline passes before `settle`. */
  add(expire: () => void): Pending {
    const pending: Pending = { at: this.clock.now() + this.timeoutMs, settled: false, expire }
    this.queue.push(pending)
    this.live++
    return pending
  }

  /** Ends a race: true when the request beat its deadline (its answer is still wanted). */
  settle(pending: Pending): boolean {
    if (pending.settled) return false
    pending.settled = true
    this.live--
    const queued = this.queue.length - this.head
    if (queued > 1024 && this.live * 2 < queued) this.compact()
    return true
  }

  /** Expires every request whose deadline has passed; returns how many. */
  tick(): number {
    const now = this.clock.now()
    let expired = 0
    while (this.head < this.queue.length) {
      const pending = this.queue[this.head]!
      if (!pending.settled && pending.at > now) break
      this.head++
      if (!pending.settled) {
        pending.settled = true
        this.live--
        expired++
        pending.expire()
      }
    }
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.compact()
    }
    return expired
  }

  /** Ticks every `intervalMs` (a tenth of the timeout by default, 10 ms to 1 s): deadlines fire that late at most. */
  start(intervalMs = this.tickMs): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => this.tick(), intervalMs)
    this.timer.unref?.()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private compact(): void {
    this.queue = this.queue.slice(this.head).filter((p) => !p.settled)
    this.head = 0
  }
}
