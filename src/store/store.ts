import type { Mutation, StoredRecord } from '../guid/model'

/** How one mutation of a batch fared in the durable store. */
export type ApplyOutcome =
  /** Written, or already there (a replay): either way the store now reflects it. */
  | 'applied'
  /** A newer version is already stored; this one has no effect, by design. */
  | 'stale'

/**
 * A durable store of GUID records: SQLite (embedded default) and MongoDB implement it.
 *
 * Writes are version-guarded so a batch may be replayed or reordered without moving a
 * record backwards: a put takes effect when its version is newer than the stored one or
 * the stored one has expired; a delete removes a stored version not newer than its own.
 */
export interface Store {
  readonly name: string
  /** The unexpired record, or null. Never an expired one, whatever the store's own TTL lag. */
  get(guid: string, nowSec: number): Promise<StoredRecord | null>
  /** Apply a batch atomically where the store can (SQLite: one transaction). Outcomes in input order. */
  applyBatch(mutations: readonly Mutation[], nowSec: number): Promise<ApplyOutcome[]>
  /** Delete up to `limit` expired records; returns how many went. */
  sweepExpired(nowSec: number, limit: number): Promise<number>
  /** Throws when the store cannot answer. */
  ping(): Promise<void>
  close(): Promise<void>
}
