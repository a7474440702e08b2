import { type Clock, nowSeconds } from '../../domain/clock'
import { unavailable } from '../../domain/errors'
import type { Claim, IdempotencyStore, KeepAnswer } from '../../data/idempotency'
import type { KeptAnswers } from './kept-answers'
import { isStorageFault } from './store'

/**
 * Idempotency keys in the embedded mode. One process owns the SQLite file, so a claim lives
 * in memory: a kill -9 ends every request in flight together with its claim, and each write
 * either committed with its answer (one transaction) or not at all, so a retry after a
 * restart replays the answer or runs afresh, never applies a write twice.
 */
export class SqliteIdempotency implements IdempotencyStore {
  readonly keptWithWrite = true
  private readonly inFlight = new Map<string, { fingerprint: string; token: string }>()

  constructor(
    private readonly kept: KeptAnswers,
    private readonly clock: Clock,
    /** Told when keeping an answer fails for a fault of the storage, and when it works again (as the group commit tells it). */
    private readonly health?: { failed(error: unknown): void; succeeded(): void },
  ) {}

  async claim(id: string, fingerprint: string, guid: string | undefined): Promise<Claim> {
    const running = this.inFlight.get(id)
    if (running !== undefined) return { kind: 'in-flight', fingerprint: running.fingerprint }
    const done = this.kept.get(id, nowSeconds(this.clock))
    if (done !== null) return { kind: 'done', ...done }
    const token = crypto.randomUUID()
    this.inFlight.set(id, { fingerprint, token })
    return { kind: 'claimed', token, guid, resumed: false }
  }

  async complete(token: string, keep: KeepAnswer): Promise<void> {
    try {
      this.kept.put(keep)
      this.health?.succeeded()
    } catch (error) {
      // Keeping an answer is a write like any other: a full disk makes the store "not ready".
      if (!isStorageFault(error)) throw error
      this.health?.failed(error)
      throw unavailable('The store cannot take writes right now; retry shortly.', error)
    } finally {
      // Kept or not, the claim ends: memory never holds a key for a request that is over.
      await this.settled(keep.id, token)
    }
  }

  async settled(id: string, token: string): Promise<void> {
    if (this.inFlight.get(id)?.token === token) this.inFlight.delete(id)
  }

  async release(id: string, token: string): Promise<void> {
    await this.settled(id, token)
  }
}
