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
  get(guid: string, nowSec: number): Lookup | Promise<Lookup>
  /** Remember the GUID as it now is: a record or a tombstone (after a read from below, or an acknowledged write). */
  set(stored: Stored, nowSec: number): void | Promise<void>
  /** Remember, briefly, that nothing is known of the GUID anywhere. */
  setAbsent(guid: string): void | Promise<void>
}

/** This instance's own copies (the LRU): synchronous, and dropped when they may be stale. */
export interface LocalTier extends CacheTier {
  get(guid: string, nowSec: number): Lookup
  set(stored: Stored, nowSec: number): void
  /** Forget the GUID (another instance may have changed it). */
  forget(guid: string): void
  /**
   * Whether the GUID's copy still answers but is near the end of its lifetime (LRU_TTL_MS),
   * so it should be read again below now, before reads start waiting for it. Always false
   * where copies have no lifetime.
   */
  refreshDue(guid: string): boolean
}

/**
 * A tier that other instances' writes can make stale (the LRU): told of each such write, and
 * bypassed while those messages cannot arrive.
 */
export interface InvalidationTarget {
  /** Another instance wrote `version` of `guid`: drop the copy, refuse older fills still in flight. */
  invalidate(guid: string, version: number): void
  /** While on, hold nothing and answer nothing (messages may be missed). */
  bypass(on: boolean): void
}
