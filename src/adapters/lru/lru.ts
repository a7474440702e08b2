import type { Clock } from '../../domain/clock'
import type { Stored } from '../../domain/model'
import { ABSENT, type CacheTier, type Lookup, MISS } from '../../data/tier'
import { GuidTable } from './guid-table'

/** What a slot holds: the GUID's latest state (a record or a tombstone), a cached "absent", or an invalidation's version floor. */
const RECORD = 1
const TOMBSTONE = 2
const ABSENT_ENTRY = 3
const FLOOR = 4

/** How long an invalidation's version floor outlives it: longer than any read in flight. */
const FLOOR_MS = 10_000

/**
 * The last share of a record's lifetime in which a hit asks for it to be read again below
 * (refreshDue): at the default 1 s lifetime, its last 250 ms, long enough for a MongoDB read.
 */
const REFRESH_AHEAD_SHARE = 0.25

/** Answers kept as objects for the hottest slots (direct-mapped by slot), so a hot hit allocates nothing. */
const DECODED_SLOTS = 1024

export interface LruTierOptions {
  maxEntries: number
  /** How long (ms) an "absent" answer is remembered. 0 disables negative caching. */
  negativeTtlMs: number
  /**
   * Longest (ms) any entry answers before the next read asks below again; 0 = no limit.
   * Where no invalidation can reach this instance (MongoDB-only mode), this bounds how
   * long it serves a state another instance has since replaced.
   */
  ttlMs?: number
  clock: Clock
}

export interface LruStats {
  hits: number
  misses: number
}

/**
 * The in-process tier: a GuidTable (entries off the JavaScript heap) bounded by entry count.
 * Records and tombstones are kept until evicted, expired or not (the service judges liveness
 * against `expire` on every hit), or, with `ttlMs`, until their lifetime ends; "absent"
 * entries and version floors carry their own deadline. Every deadline is read from the
 * injected clock. A hit decodes the state into an object, kept for the hottest slots only
 * (DECODED_SLOTS), so the heap holds nothing per entry beyond those.
 */
export class LruTier implements CacheTier {
  readonly name = 'lru'
  readonly stats: LruStats = { hits: 0, misses: 0 }
  private readonly table: GuidTable | null
  private bypassed = false
  private readonly ttlMs: number
  /** How long an "absent" answer is kept: the negative TTL, within the lifetime. */
  private readonly absentMs: number
  /** A record or tombstone with at most this much of its lifetime left is due a refresh (0: never). */
  private readonly refreshAheadMs: number
  /**
   * decoded[slot % DECODED_SLOTS] answers for the slot named in decodedSlot (-1: none). Every
   * write of a slot replaces or clears its line, so a line is always the slot's current state.
   */
  private readonly decodedSlot = new Int32Array(DECODED_SLOTS).fill(-1)
  private readonly decoded: (Lookup | undefined)[] = new Array(DECODED_SLOTS).fill(undefined)

  constructor(private readonly options: LruTierOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 0) throw new TypeError('maxEntries must be a non-negative integer')
    this.ttlMs = options.ttlMs ?? 0
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 0) throw new TypeError('ttlMs must be a non-negative integer')
    this.absentMs = this.ttlMs > 0 ? Math.min(options.negativeTtlMs, this.ttlMs) : options.negativeTtlMs
    this.refreshAheadMs = Math.ceil(this.ttlMs * REFRESH_AHEAD_SHARE)
    this.table = options.maxEntries === 0 ? null : new GuidTable(options.maxEntries)
  }

  get size(): number {
    return this.table?.size ?? 0
  }

  /** Bytes held off the heap (slots, index, user blocks). */
  bytes(): number {
    return this.table?.bytes() ?? 0
  }

  /**
   * While bypassed the tier is empty and stays so: used when the invalidations that keep it
   * true across instances cannot arrive (their connection is down).
   */
  bypass(on: boolean): void {
    this.bypassed = on
    if (on) this.clear()
  }

  get(guid: string, _nowSec?: number): Lookup {
    const t = this.table
    const slot = t === null ? -1 : t.find(guid)
    if (t !== null && slot >= 0) {
      if (t.until(slot) > this.options.clock.now()) {
        t.touch(slot)
        const kind = t.kind(slot)
        if (kind === FLOOR) {
          this.stats.misses++
          return MISS
        }
        this.stats.hits++
        if (kind === ABSENT_ENTRY) return ABSENT
        // Expired or not: an expired state still says which version is latest (the caller
        // answers 404), so a read never falls through to an older version below.
        const line = slot % DECODED_SLOTS
        if (this.decodedSlot[line] === slot) return this.decoded[line]!
        const stored: Stored =
          kind === RECORD ? { guid, user: t.user(slot)!, expire: t.expire(slot), version: t.version(slot) } : { guid, version: t.version(slot), expire: t.expire(slot), deleted: true }
        return this.remember(slot, { kind: 'hit', stored })
      }
      this.drop(slot)
    }
    this.stats.misses++
    return MISS
  }

  /**
   * A record or tombstone in the last REFRESH_AHEAD_SHARE of its lifetime: still answered, but
   * to be read again below now, so that the next lifetime starts before this one ends and a
   * hot GUID's reads never wait for the store. "Absent" answers and floors are never due.
   */
  refreshDue(guid: string): boolean {
    if (this.refreshAheadMs === 0 || this.table === null) return false
    const t = this.table
    const slot = t.find(guid)
    if (slot < 0) return false
    const kind = t.kind(slot)
    if (kind !== RECORD && kind !== TOMBSTONE) return false
    const left = t.until(slot) - this.options.clock.now()
    return left > 0 && left <= this.refreshAheadMs
  }

  /** Another instance wrote `version`: drop the copy, and refuse older fills still in flight. */
  invalidate(guid: string, version: number): void {
    if (this.bypassed || !Number.isInteger(version)) this.forget(guid)
    else this.put(guid, FLOOR, version, 0, undefined, FLOOR_MS)
  }

  private belowFloor(guid: string, version: number): boolean {
    const slot = this.table?.find(guid) ?? -1
    if (slot < 0) return false
    const t = this.table!
    return t.kind(slot) === FLOOR && t.until(slot) > this.options.clock.now() && version < t.version(slot)
  }

  set(stored: Stored, _nowSec?: number): void {
    if (this.bypassed || this.belowFloor(stored.guid, stored.version)) return
    const slot =
      'deleted' in stored
        ? this.put(stored.guid, TOMBSTONE, stored.version, stored.expire, undefined, this.ttlMs)
        : this.put(stored.guid, RECORD, stored.version, stored.expire, stored.user, this.ttlMs)
    // The state just written is the next hit's answer: no decode for it.
    if (slot >= 0) this.remember(slot, { kind: 'hit', stored })
  }

  setAbsent(guid: string): void {
    if (this.belowFloor(guid, 0)) return
    if (this.absentMs > 0 && !this.bypassed) this.put(guid, ABSENT_ENTRY, 0, 0, undefined, this.absentMs)
    // Without negative caching, at least forget what was there (a delete must not be served).
    else this.forget(guid)
  }

  forget(guid: string): void {
    const slot = this.table?.find(guid) ?? -1
    if (slot >= 0) this.drop(slot)
  }

  clear(): void {
    this.table?.clear()
    this.decodedSlot.fill(-1)
    this.decoded.fill(undefined)
  }

  private remember(slot: number, lookup: Lookup): Lookup {
    const line = slot % DECODED_SLOTS
    this.decodedSlot[line] = slot
    this.decoded[line] = lookup
    return lookup
  }

  private forgetDecoded(slot: number): void {
    const line = slot % DECODED_SLOTS
    if (this.decodedSlot[line] !== slot) return
    this.decodedSlot[line] = -1
    this.decoded[line] = undefined
  }

  private drop(slot: number): void {
    this.forgetDecoded(slot)
    this.table!.remove(slot)
  }

  /** Writes one entry, most recently used; `lifetimeMs` 0 means no deadline. Its slot, or -1. */
  private put(guid: string, kind: number, version: number, expire: number, user: string | undefined, lifetimeMs: number): number {
    const t = this.table
    if (t === null) return -1
    const slot = t.claim(guid)
    if (slot < 0) return -1
    // The slot may be a new GUID's (an evicted one's, reused) or this GUID's, now changed.
    this.forgetDecoded(slot)
    try {
      t.setUser(slot, user)
    } catch (error) {
      t.remove(slot)
      throw error
    }
    t.write(slot, kind, version, expire, lifetimeMs > 0 ? this.options.clock.now() + lifetimeMs : Number.POSITIVE_INFINITY)
    return slot
  }
}
