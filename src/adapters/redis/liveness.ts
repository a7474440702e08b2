import type { RedisConnection } from './client'

/**
 * How long an instance's liveness key outlives its last refresh. Entries a killed instance left
 * pending are claimed by the others within about this much plus one claim check (1 s); an
 * instance that cannot refresh its key for this long (Redis unreachable from it, its event loop
 * stalled) is taken for dead, which costs a second, version-guarded and so harmless, store write
 * of the entries it was storing.
 */
export const LIVENESS_TTL_MS = 3_000

/** Refreshes per TTL: two can be missed (a busy moment) before the key lapses. */
const REFRESH_MS = 1_000

/** What a flusher asks before it claims another consumer's entries at once. */
export interface LivenessView {
  /** Whether the instance named `consumer` is alive: its key is there (or Redis cannot tell). */
  alive(consumer: string): Promise<boolean>
}

export interface LivenessOptions {
  /** A non-blocking connection (not the flusher's own, which a blocking read holds). */
  client: RedisConnection
  keys: { alive(consumer: string): string }
  /** This instance's consumer name. */
  consumer: string
}

/**
 * This instance's liveness key (`<prefix>alive:<consumer>`, SET PX LIVENESS_TTL_MS, refreshed
 * every second while the instance runs, deleted on a graceful stop), and the others' as seen by
 * the flushers. JOURNAL_CLAIM_IDLE_MS alone cannot tell a dead consumer from a slow one, so it
 * must be long; a consumer whose key is gone is dead, and its pending entries need not wait.
 */
export class Liveness implements LivenessView {
  private timer: ReturnType<typeof setInterval> | undefined
  /** The answers of the last second, per consumer: every partition's flusher asks in each round. */
  private readonly seen = new Map<string, { alive: boolean; at: number }>()

  constructor(private readonly o: LivenessOptions) {}

  /** Writes the key before the flusher reads anything, then keeps it. */
  async start(): Promise<void> {
    await this.refresh()
    // A failed refresh is retried by the next; the connection's own error handler logs outages.
    this.timer = setInterval(() => void this.refresh().catch(() => {}), REFRESH_MS)
    this.timer.unref?.()
  }

  /** After the flusher stopped: what this instance left pending can be claimed at once. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.o.client.del(this.o.keys.alive(this.o.consumer)).catch(() => {})
  }

  async alive(consumer: string): Promise<boolean> {
    if (consumer === this.o.consumer) return true
    const now = performance.now()
    const known = this.seen.get(consumer)
    if (known !== undefined && now - known.at < REFRESH_MS) return known.alive
    let alive: boolean
    try {
      alive = (await this.o.client.exists(this.o.keys.alive(consumer))) === 1
    } catch {
      // Unknown (on a cluster, the key's master may be failing over): alive, so every partition's
      // flush goes on meanwhile; JOURNAL_CLAIM_IDLE_MS still claims from one that is dead.
      return true
    }
    this.seen.set(consumer, { alive, at: now })
    // Names come and go with instances: keep only fresh answers.
    for (const [name, entry] of this.seen) if (now - entry.at >= REFRESH_MS) this.seen.delete(name)
    return alive
  }

  private async refresh(): Promise<void> {
    await this.o.client.set(this.o.keys.alive(this.o.consumer), '1', { PX: LIVENESS_TTL_MS })
  }
}
