import type { Mutation, Stored } from '../domain/model'
import type { UserIndex } from './user-index'

/** How one mutation of a batch fared in the durable store. */
export type ApplyOutcome =
  /** Written, or already there (a replay): either way the store now reflects it. */
  | 'applied'
  /** A newer (or the same) version is stored: no effect, by design. */
  | 'stale'
  /** This entry cannot be written for a reason of its own (retrying will not help). */
  | { rejected: string }

/**
 * A durable store of GUID states (records and tombstones): SQLite (embedded default) and
 * MongoDB implement it, and one contract test suite runs against both.
 *
 * Writes are version-guarded so a batch may be replayed or reordered without moving a GUID
 * backwards: a mutation takes effect exactly when its version is newer than the stored one,
 * whether or not either has expired. Expiry only hides a state from reads; it never lets an
 * older version come back (versions never repeat across delete or expiry, see GuidService).
 */
export interface Store extends UserIndex {
  readonly name: string
  /** The unexpired record or tombstone, or null. Never an expired one, whatever the store's own TTL lag. */
  get(guid: string, nowSec: number): Promise<Stored | null>
  /**
   * The latest state, expired or not (optional; the data path prefers it to `get`): a write over
   * a record whose expire has passed must know it to record that expiry in the change feed
   * (domain/change.ts), and the expiry sweep must see what it replaces.
   */
  getLatest?(guid: string): Promise<Stored | null>
  /**
   * Apply a batch; outcomes in input order. Throws when the batch as a whole could not be
   * applied (store unreachable): the caller retries it, which the version guard makes safe.
   */
  applyBatch(mutations: readonly Mutation[]): Promise<ApplyOutcome[]>
  /** Delete up to `limit` expired records and tombstones; returns how many went. */
  sweepExpired(nowSec: number, limit: number): Promise<number>
  /** Throws when the store cannot answer. */
  ping(): Promise<void>
  /** One small real write, to learn whether writes work again after a storage fault (optional). */
  probeWrite?(): Promise<void>
  close(): Promise<void>
}
