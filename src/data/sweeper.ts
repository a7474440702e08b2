import { type Clock, nowSeconds } from '../domain/clock'
import type { Logger } from '../ops/logger'
import type { Store } from './store'

export interface SweeperOptions {
  intervalMs: number
  batch: number
  clock: Clock
  logger: Logger
  onSwept?: (count: number) => void
  /**
   * Unix seconds up to which expired records may go (the expiry sweep's progress, data/expirer.ts):
   * a record whose expiry the change feed has not told yet is kept. Unset: up to now.
   */
  horizon?: () => number
}

/** Most batches one sweep runs before it yields to the next interval. */
const MAX_BATCHES_PER_SWEEP = 100

/**
 * Deletes expired records from the durable store so it does not grow without bound.
 * Reads never depend on it (they filter on expire); it only reclaims space. Each batch
 * is bounded, and the loop yields between batches so requests keep flowing.
 */
export class Sweeper {
  private timer: ReturnType<typeof setTimeout> | null = null
  private running: Promise<void> | null = null
  private stopped = false

  constructor(
    private readonly store: Store,
    private readonly options: SweeperOptions,
  ) {}

  start(): void {
    this.schedule()
  }

  /** One sweep: batches until a short one (nothing more due) or the per-sweep bound. */
  async sweepOnce(): Promise<number> {
    let total = 0
    for (let i = 0; i < MAX_BATCHES_PER_SWEEP && !this.stopped; i++) {
      const now = nowSeconds(this.options.clock)
      const deleted = await this.store.sweepExpired(Math.min(now, this.options.horizon?.() ?? now), this.options.batch)
      total += deleted
      if (deleted < this.options.batch) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    if (total > 0) this.options.onSwept?.(total)
    return total
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await this.running
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.sweepOnce()
        .then(
          (count) => void (count > 0 && this.options.logger.debug({ count }, 'swept expired records')),
          (error) => this.options.logger.warn({ err: error }, 'sweep failed; will retry'),
        )
        .finally(() => {
          this.running = null
          this.schedule()
        })
    }, this.options.intervalMs)
    this.timer.unref?.()
  }
}
