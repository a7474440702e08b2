/**
 * A flusher's wait between rounds (idle, or backing off after a failure) that can be cut
 * short: by a reader waiting for the journal to drain (a listing's read barrier), or by stop.
 */
export class Pause {
  private wake: (() => void) | null = null
  private since = 0

  /** Waits `ms`, or less if woken meanwhile. */
  for(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer)
        this.wake = null
        resolve()
      }
      const timer = setTimeout(end, ms)
      this.since = performance.now()
      this.wake = end
    })
  }

  /**
   * Ends the current wait if it has lasted at least `minMs` (a reader polling in a loop
   * then brings at most one round per `minMs`, even while every round fails).
   */
  cut(minMs = 0): void {
    if (this.wake !== null && performance.now() - this.since >= minMs) this.wake()
  }
}
