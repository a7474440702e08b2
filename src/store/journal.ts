import type { Mutation } from '../guid/model'

/**
 * Where a mutation becomes durable before the client is answered. Embedded default: a
 * SQLite group commit. Redis mode: a Redis Stream entry written with the cache update.
 */
export interface Journal {
  /** Resolves once the mutation is durable; rejects (AppError 503/412 or otherwise) if it is not. */
  append(mutation: Mutation): Promise<void>
  /** Lag in mutations not yet in the durable store (0 when the journal is the store). */
  lag(): Promise<number>
  /** Commit whatever is waiting and stop accepting. */
  close(): Promise<void>
}
