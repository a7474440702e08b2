import type { Stored } from '../domain/model'

/** What a cache tier knows of one GUID. `absent` is a cached "never heard of it"; `miss` means "ask below". */
export type Lookup = { kind: 'hit'; stored: Stored } | { kind: 'absent' } | { kind: 'miss' }

export const MISS: Lookup = Object.freeze({ kind: 'miss' })
export const ABSENT: Lookup = Object.freeze({ kind: 'absent' })

/**
 * A cache in front of the durable store: the in-process LRU, and (when configured) Redis.
 * A hit is the GUID's latest state, which may have expired: expiry hides a state, it never
 * lets an older version come back, so a tier answers with an expired state rather than let
 * the read fall through to an older one below. The service never shows an expired state.
 */
export interface CacheTier {
  readonly name: string
  /** True when the journal's own write updates this tier, so a commit must not write it again. */
  readonly journaled?: boolean
  get(guid: string, nowSec: number): Lookup | Promise<Lookup>
  /** Remember the GUID as it now is: a record or a tombstone (after a read from below, or an acknowledged write). */
  set(stored: Stored, nowSec: number): void | Promise<void>
  /** Remember, briefly, that nothing is known of the GUID anywhere. */
  setAbsent(guid: string): void | Promise<void>
  /** Forget the GUID (changed elsewhere). */
  forget(guid: string): void | Promise<void>
  /** Forget everything (e.g. when cross-instance invalidation was interrupted). */
  clear(): void | Promise<void>
}
