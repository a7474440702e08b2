import type { StoredRecord } from '../domain/model'

/**
 * A durable store's index of GUIDs by user (SQLite `(user, guid)`, MongoDB `{user: 1, _id: 1}`),
 * which the listing reads.
 */
export interface UserIndex {
  /**
   * Up to `limit` of `user`'s live records (unexpired at `nowSec`, not deleted) whose GUID
   * sorts after `after` (all when undefined), in ascending GUID order.
   */
  listUser(user: string, after: string | undefined, limit: number, nowSec: number): Promise<StoredRecord[]>
}

/**
 * What a listing waits for before it reads the store, so it reflects every write
 * acknowledged before it arrived: in Redis modes, the flusher having stored what the journal
 * held then. Rejects with 503 unavailable when that does not happen within its bound.
 */
export interface ReadBarrier {
  settled(): Promise<void>
}
