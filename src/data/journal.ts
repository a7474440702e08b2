import type { Mutation } from '../domain/model'

/**
 * Where a mutation becomes durable before the client is answered. Embedded default: a
 * SQLite group commit. Redis mode: a Redis Stream entry written with the cache update.
 */
export interface Journal {
  /**
   * Resolves once the mutation is durable. Rejects with VersionConflict when the journal
   * holds another version than `prevVersion` (a compare-and-set journal: another instance
   * wrote first), with a ServiceError (unavailable, overloaded) when it cannot take writes, or otherwise.
   */
  append(mutation: Mutation): Promise<void>
  /** Commit whatever is waiting and stop accepting. */
  close(): Promise<void>
}

/** The journal held another version than the one the mutation was computed from. */
export class VersionConflict extends Error {
  constructor(
    readonly guid: string,
    readonly expected: number,
    /** The version the journal holds, when it says. */
    readonly found?: number,
  ) {
    super(`version conflict on ${guid}: expected ${expected}, found ${found ?? 'a newer one'}`)
    this.name = 'VersionConflict'
  }
}
