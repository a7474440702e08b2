import type { Clock } from '../../domain/clock'
import { type ServiceError, unavailable } from '../../domain/errors'
import type { Mutation } from '../../domain/model'
import type { ApplyOutcome } from '../../data/store'
import { type Journal, VersionConflict } from '../../data/journal'
import { type Pending, TurnBatch } from '../../data/turn-batch'
import { isStorageFault, type SqliteStore } from './store'

export interface GroupCommitOptions {
  /** Most mutations in one transaction. */
  batchMax: number
  /** How long (ms) the first mutation of a batch waits for company; 0 = until the current I/O turn ends. */
  windowMs: number
  clock: Clock
  onCommit?: (size: number, seconds: number) => void
  /** Told when a commit fails for a fault of the storage (disk full, I/O error, read-only) and when one succeeds again. */
  health?: { failed(error: unknown): void; succeeded(): void }
}

/**
 * The embedded journal: mutations that arrive together are committed in one SQLite
 * transaction, and each caller is answered only after that transaction has committed.
 * Throughput then costs one commit per batch, not one per request.
 */
export class GroupCommitJournal implements Journal {
  private readonly batches: TurnBatch

  constructor(
    private readonly store: SqliteStore,
    private readonly options: GroupCommitOptions,
  ) {
    this.batches = new TurnBatch({ max: options.batchMax, windowMs: options.windowMs, send: (batch) => this.commit(batch) })
  }

  append(mutation: Mutation): Promise<void> {
    return this.batches.add(mutation)
  }

  async close(): Promise<void> {
    this.batches.close()
  }

  /**
   * Commits one batch in one transaction and answers each of its callers; while the store
   * holds writes (its checkpoint thread catching up with the WAL), after that.
   */
  private commit(batch: Pending[]): void {
    const held = this.store.writesHeld
    if (held !== undefined) {
      void held.then(() => this.commit(batch))
      return
    }
    const started = performance.now()
    let outcomes: ApplyOutcome[]
    try {
      outcomes = this.store.applyBatchSync(batch.map((p) => p.mutation))
    } catch (error) {
      const failure = isStorageFault(error) ? this.cannotWrite(error) : error
      for (const p of batch) p.reject(failure)
      return
    }
    this.options.health?.succeeded()
    this.options.onCommit?.(batch.length, (performance.now() - started) / 1000)
    // Each caller is answered by its own entry's outcome: a 2xx only for a write the store took.
    batch.forEach((p, i) => {
      const outcome = outcomes[i]
      if (outcome === 'applied') p.resolve()
      else if (outcome === 'stale') p.reject(new VersionConflict(p.mutation.next.guid, p.mutation.prevVersion))
      else p.reject(new Error(`the store refused the write of ${p.mutation.next.guid}: ${outcome?.rejected ?? 'no outcome'}`))
    })
  }

  private cannotWrite(error: unknown): ServiceError {
    this.options.health?.failed(error)
    return unavailable('The store cannot take writes right now; retry shortly.', error)
  }
}
