import { Deadline } from '../../domain/clock'
import type { Logger } from '../../ops/logger'
import { Flusher, type FlusherOptions, nextBackoff } from './flusher'
import type { RedisKeys } from './keys'
import { Pause } from './pause'

export interface PartitionedFlusherOptions extends Omit<FlusherOptions, 'keys'> {
  keys: RedisKeys
  logger: Logger
}

/**
 * The flusher of a partitioned journal (Redis Cluster): one Flusher per partition, each reading
 * its partition's stream through the consumer group, driven by one loop that visits every
 * partition without blocking and waits `blockMs` when a whole round found nothing. A blocking
 * read per partition would need a connection per partition; a round costs one read per
 * partition instead (64 reads every FLUSH_INTERVAL_MS when idle).
 *
 * Entries a dead instance left pending are claimed per partition, as by a single Flusher: at the
 * first claim check (at most every second) of a round once its liveness key is gone, or once
 * idle for `claimIdleMs`.
 */
export class PartitionedFlusher {
  private readonly flushers: Flusher[]
  private stopping = false
  private loop: Promise<void> | null = null
  private readonly pause = new Pause()
  private backoffMs = 0

  constructor(private readonly o: PartitionedFlusherOptions) {
    this.flushers = Array.from({ length: o.keys.partitions }, (_, p) => new Flusher({ ...o, keys: o.keys.partition(p) }))
  }

  async start(): Promise<void> {
    await Promise.all(this.flushers.map((f) => f.prepare()))
    this.loop = this.run()
  }

  /**
   * A reader waits for the journals to drain (a listing's read barrier): the wait between
   * rounds (idle, or backing off after a failure) ends now if it has lasted `backoffMinMs`.
   */
  retrySoon(): void {
    this.pause.cut(nextBackoff(0, this.o))
  }

  /** One round over every partition; returns the entries handled. A failing partition does not stop the others. */
  async round(): Promise<number> {
    let handled = 0
    let failure: unknown
    for (const f of this.flushers) {
      try {
        handled += await f.step(0)
      } catch (error) {
        f.rewind()
        failure ??= error
      }
    }
    if (failure !== undefined) throw failure
    return handled
  }

  async stop(deadlineMs: number): Promise<void> {
    const deadline = new Deadline(deadlineMs)
    this.stopping = true
    this.pause.cut()
    await this.loop
    while (deadline.remainingMs > 0) {
      const done = await this.round().catch((error: unknown) => {
        this.o.logger.warn({ err: error }, 'flush on shutdown failed; the journal keeps the rest')
        return -1
      })
      if (done <= 0) break
    }
    await Promise.all(this.flushers.map((f) => f.leave()))
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let waitMs = 0
      try {
        if ((await this.round()) === 0) waitMs = this.o.blockMs
        this.backoffMs = 0
      } catch (error) {
        this.o.events?.storeFailed?.()
        this.backoffMs = nextBackoff(this.backoffMs, this.o)
        this.o.logger.warn({ err: error, retryInMs: this.backoffMs }, 'flush failed; the entries stay in the journal')
        waitMs = this.backoffMs
      }
      if (waitMs > 0 && !this.stopping) await this.pause.for(waitMs)
    }
  }
}
