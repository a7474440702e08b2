/**
 * Watches the MongoDB driver's server monitor for a heartbeat that never ends.
 *
 * The driver bounds each heartbeat itself: `connectTimeoutMS`, plus `heartbeatFrequencyMS`
 * for an awaited one (the streaming protocol holds it open that long on purpose). Under Bun
 * a heartbeat was seen never to end, neither answered nor timed out, after FerretDB shut down
 * with it in flight (the model-based tests, mongodb-only mode). The driver ignores every
 * request for a new check while one is in progress, so the server stays "unknown" and every
 * operation fails server selection for as long as the process lives, the database up. A
 * heartbeat past its bound (plus a grace) is that; the store then replaces the driver's
 * topology (mongo/store.ts), which is the only way out.
 */
export interface MonitorWatchOptions {
  connectTimeoutMS: number
  heartbeatFrequencyMS: number
  /** Past the driver's own bound, how long before a heartbeat counts as stuck. */
  graceMs: number
  now: () => number
}

export class MonitorWatch {
  /** Per server address: by when its heartbeat in progress must have ended (ms, `now`'s clock). */
  private readonly pending = new Map<string, number>()

  constructor(private readonly o: MonitorWatchOptions) {}

  started(address: string, awaited: boolean): void {
    const bound = this.o.connectTimeoutMS + (awaited ? this.o.heartbeatFrequencyMS : 0) + this.o.graceMs
    this.pending.set(address, this.o.now() + bound)
  }

  ended(address: string): void {
    this.pending.delete(address)
  }

  /** A server whose heartbeat is overdue, and by how long (ms), or undefined when none is. */
  overdue(): { address: string; lateMs: number } | undefined {
    const now = this.o.now()
    for (const [address, due] of this.pending) if (now > due) return { address, lateMs: now - due }
    return undefined
  }

  /** Forgets every heartbeat: the topology they belonged to is gone. */
  reset(): void {
    this.pending.clear()
  }
}
