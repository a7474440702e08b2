import type { StoredRecord } from '../guid/model'

/** What a cache tier knows of one GUID. `absent` is a cached negative answer; `miss` means "ask below". */
export type Lookup = { kind: 'hit'; record: StoredRecord } | { kind: 'absent' } | { kind: 'miss' }

export const MISS: Lookup = Object.freeze({ kind: 'miss' })
export const ABSENT: Lookup = Object.freeze({ kind: 'absent' })

/**
 * A cache in front of the durable store: the in-process LRU, and (when configured) Redis.
 * A tier never serves an expired record: `get` checks `expire` against `nowSec`.
 */
export interface CacheTier {
  readonly name: string
  get(guid: string, nowSec: number): Lookup | Promise<Lookup>
  /** Remember the record as it now is (after a read from below, or an acknowledged write). */
  set(record: StoredRecord, nowSec: number): void | Promise<void>
  /** Remember, briefly, that the GUID does not exist. */
  setAbsent(guid: string): void | Promise<void>
  /** Forget the GUID (deleted, or changed elsewhere). */
  forget(guid: string): void | Promise<void>
  /** Forget everything (e.g. when cross-instance invalidation was interrupted). */
  clear(): void | Promise<void>
}
