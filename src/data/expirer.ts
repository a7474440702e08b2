import { type Clock, nowSeconds } from '../domain/clock'
import type { Logger } from '../ops/logger'

export interface ExpirerOptions {
  /** GUIDs whose record's expire is at or before `nowSec` and whose expiry is not yet recorded, up to `limit`. */
  due(nowSec: number, limit: number): Promise<string[]>
  /** Records one GUID's expiry through its actor and compare-and-set (GuidService.expire); false when there was none to record. */
  expire(guid: string): Promise<boolean>
  /** Told of a listed GUID that had no expiry to record (the list is kept apart from the state, in Redis), so it is not listed again. */
  dismiss?(guid: string, nowSec: number): Promise<void>
  intervalMs: number
  batch: number
  clock: Clock
  logger: Logger
  onExpired?: (count: number) => void
}

/** Most batches one round runs before it yields to the next interval. */
const MAX_BATCHES_PER_ROUND = 20

/**
 * Records each expiry in the change feed (`expired`) soon after the expire instant: a GUID's
 * expiry is otherwise silent (reads just stop seeing it). Each due GUID goes through the same
 * actor and compare-and-set as a write, so with several instances sweeping the same GUIDs one
 * records it and the others find it done; a write that reaches an expired record first records
 * the expiry itself (domain/change.ts).
 *
 * `reportedThrough` is the instant up to which every expiry is recorded: the store sweep
 * deletes nothing newer, so no record goes before its expiry is told.
 */
export class Expirer {
  private timer: ReturnType<typeof setTimeout> | null = null
  private running: Promise<void> | null = null
  private stopped = false
  /** Unix seconds: every record that expired at or before it has its `expired` change. */
  reportedThrough = 0
  /** Expiries this instance recorded since start. */
  recorded = 0
  /** Whether the last round failed (a failure is logged when a streak starts and when it ends, not each round). */
  private failing = false

  constructor(private readonly options: ExpirerOptions) {}

  start(): void {
    this.schedule()
  }

  /** One round: batches of due GUIDs until a short one (nothing more due) or the round's bound. Returns how many it recorded. */
  async runOnce(): Promise<number> {
    const { due, expire, batch, clock } = this.options
    const now = nowSeconds(clock)
    let recorded = 0
    for (let i = 0; i < MAX_BATCHES_PER_ROUND && !this.stopped; i++) {
      const guids = await due(now, batch)
      const results = await Promise.allSettled(guids.map(async (guid) => (await expire(guid)) || void (await this.options.dismiss?.(guid, now)) || false))
      recorded += results.filter((r) => r.status === 'fulfilled' && r.value).length
      // One GUID that failed (its actor's mailbox full, the store down) is tried again next
      // round, and until it succeeds `reportedThrough` stays where it is: the store sweep waits.
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed !== undefined) {
        this.recorded += recorded
        throw failed.reason
      }
      if (guids.length < batch) {
        this.reportedThrough = Math.max(this.reportedThrough, now)
        break
      }
    }
    this.recorded += recorded
    if (recorded > 0) this.options.onExpired?.(recorded)
    return recorded
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await this.running
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then(
          () => {
            if (this.failing) this.options.logger.info('expiry sweep works again')
            this.failing = false
          },
          (error) => {
            if (!this.failing) this.options.logger.warn({ err: error }, 'expiry sweep failed; retrying every round until it works')
            this.failing = true
          },
        )
        .finally(() => {
          this.running = null
          this.schedule()
        })
    }, this.options.intervalMs)
    this.timer.unref?.()
  }
}
