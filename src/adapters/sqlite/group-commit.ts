import type { Clock } from '../../domain/clock'
import { type ServiceError, shuttingDown, unavailable } from '../../domain/errors'
import type { Mutation } from '../../domain/model'
import type { ApplyOutcome } from '../../data/store'
import { type Journal, VersionConflict } from '../../data/journal'
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

interface Pending {
  mutation: Mutation
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * The embedded journal: mutations that arrive together are committed in one SQLite
 * transaction, and each caller is answered only after that transaction has committed.
 * Throughput then costs one commit per batch, not one per request.
 */
export class GroupCommitJournal implements Journal {
  private batch: Pending[] = []
  private scheduled = false
  private closed = false

  constructor(
    private readonly store: SqliteStore,
    private readonly options: GroupCommitOptions,
  ) {
    if (!Number.isInteger(options.batchMax) || options.batchMax < 1) throw new TypeError('batchMax must be a positive integer')
    if (!(options.windowMs >= 0)) throw new TypeError('windowMs must be >= 0')
  }

  append(mutation: Mutation): Promise<void> {
    if (this.closed) return Promise.reject(shuttingDown())
    return new Promise((resolve, reject) => {
      this.batch.push({ mutation, resolve, reject })
      if (this.batch.length >= this.options.batchMax) this.commit()
      else if (!this.scheduled) {
        this.scheduled = true
        if (this.options.windowMs === 0) setImmediate(this.commit)
        else setTimeout(this.commit, this.options.windowMs)
      }
    })
  }

  async close(): Promise<void> {
    this.commit()
    this.closed = true
  }

  /** Commits the waiting batch now. Bound, so timers can call it. */
  private readonly commit = (): void => {
    this.scheduled = false
    if (this.batch.length === 0) return
    const batch = this.batch
    this.batch = []
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
