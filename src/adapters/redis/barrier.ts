import { unavailable } from '../../domain/errors'
import type { ReadBarrier } from '../../data/user-index'
import { type RedisConnection, redisCall } from './client'
import type { RedisKeys } from './keys'

export interface JournalBarrierOptions {
  /** One Redis, or a cluster (each partition's stream is read on its own slot). */
  client: RedisConnection
  keys: RedisKeys
  /** Longest a reader waits for the flusher (LIST_FLUSH_WAIT_MS). */
  waitMs: number
  /** Bound of each Redis call. */
  timeoutMs: number
  /** Between two looks at the journal. */
  pollMs?: number
  /** Told at each look that finds entries left: this instance's flusher, so that it does not sit out a backoff while a reader waits. */
  waiting?: () => void
}

/**
 * The listing's read barrier in Redis modes: the store lags the journal, so a listing first
 * waits until the flusher has stored every entry the journal held when it arrived. An entry
 * leaves the stream (XACK + XDEL) only once the store has it, and entry ids grow, so "stored
 * up to X" is "no entry left with an id <= X", where X is the newest id at arrival; entries
 * appended later are not waited for. Past `waitMs`, 503 unavailable with Retry-After rather
 * than a page that may miss an acknowledged write. On a cluster, every partition's stream is
 * waited for this way, all at once (one Redis has one partition).
 */
export class JournalBarrier implements ReadBarrier {
  constructor(private readonly o: JournalBarrierOptions) {}

  async settled(): Promise<void> {
    const { keys, waitMs } = this.o
    const deadline = performance.now() + waitMs
    const partitions = Array.from({ length: keys.partitions }, (_, p) => keys.partition(p).journal)
    await Promise.all(partitions.map((journal) => this.drained(journal, deadline)))
  }

  /** Resolves once `journal` holds no entry older than the newest one it held when called. */
  private async drained(journal: string, deadline: number): Promise<void> {
    const { client, timeoutMs, waitMs } = this.o
    const newest = await redisCall('read', timeoutMs, () => client.xRevRange(journal, '+', '-', { COUNT: 1 }))
    const upTo = newest?.[0]?.id
    if (upTo === undefined) return
    for (;;) {
      const left = await redisCall('read', timeoutMs, () => client.xRange(journal, '-', upTo, { COUNT: 1 }))
      if (left === null || left.length === 0) return
      if (performance.now() >= deadline) break
      this.o.waiting?.()
      await Bun.sleep(this.o.pollMs ?? 2)
    }
    throw unavailable(`The write-behind journal has not reached the store within ${waitMs} ms (LIST_FLUSH_WAIT_MS); retry shortly.`)
  }
}
