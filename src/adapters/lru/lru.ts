import { LRUCache } from 'lru-cache'
import type { Clock } from '../../domain/clock'
import type { Stored } from '../../domain/model'
import { ABSENT, type CacheTier, type Lookup, MISS } from '../../data/tier'

/**
 * Hits are stored as the Lookup they answer with, so a hit allocates nothing; `until` is
 * their deadline when entries have a lifetime.
 */
type Entry = { kind: 'hit'; stored: Stored; until?: number } | { kind: 'absent'; until: number } | { kind: 'floor'; version: number; until: number }

/** How long an invalidation's version floor outlives it: longer than any read in flight. */
const FLOOR_MS = 10_000

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
 * The in-process tier: `lru-cache` bounded by entry count. Records and tombstones are kept
 * until evicted, expired or not (the service judges liveness against `expire` on every
 * hit), or, with `ttlMs`, until their lifetime ends; "absent" entries carry their own
 * deadline. Every deadline is read from the injected clock (lru-cache's own `ttl` reads
 * performance.now(), which tests cannot move).
 */
export class LruTier implements CacheTier {
  readonly name = 'lru'
  readonly stats: LruStats = { hits: 0, misses: 0 }
  private readonly cache: LRUCache<string, Entry> | null
  private bypassed = false
  private readonly ttlMs: number
  /** How long an "absent" answer is kept: the negative TTL, within the lifetime. */
  private readonly absentMs: number

  constructor(private readonly options: LruTierOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 0) throw new TypeError('maxEntries must be a non-negative integer')
    this.ttlMs = options.ttlMs ?? 0
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 0) throw new TypeError('ttlMs must be a non-negative integer')
    this.absentMs = this.ttlMs > 0 ? Math.min(options.negativeTtlMs, this.ttlMs) : options.negativeTtlMs
    this.cache = options.maxEntries === 0 ? null : new LRUCache<string, Entry>({ max: options.maxEntries })
  }

  get size(): number {
    return this.cache?.size ?? 0
  }

  /**
   * While bypassed the tier is empty and stays so: used when the invalidations that keep it
   * true across instances cannot arrive (their connection is down).
   */
  bypass(on: boolean): void {
    this.bypassed = on
    if (on) this.cache?.clear()
  }

  get(guid: string, _nowSec?: number): Lookup {
    const entry = this.cache?.get(guid)
    if (entry !== undefined) {
      if (entry.kind === 'hit') {
        // Expired or not: an expired state still says which version is latest (the caller
        // answers 404), so a read never falls through to an older version below.
        if (entry.until === undefined || entry.until > this.options.clock.now()) {
          this.stats.hits++
          return entry
        }
      } else if (entry.kind === 'floor') {
        if (entry.until > this.options.clock.now()) {
          this.stats.misses++
          return MISS
        }
      } else if (entry.until > this.options.clock.now()) {
        this.stats.hits++
        return ABSENT
      }
      this.cache!.delete(guid)
    }
    this.stats.misses++
    return MISS
  }

  /** Another instance wrote `version`: drop the copy, and refuse older fills still in flight. */
  invalidate(guid: string, version: number): void {
    if (this.bypassed || !Number.isInteger(version)) return void this.cache?.delete(guid)
    this.cache?.set(guid, { kind: 'floor', version, until: this.options.clock.now() + FLOOR_MS })
  }

  private belowFloor(guid: string, version: number): boolean {
    const entry = this.cache?.peek(guid)
    return entry?.kind === 'floor' && entry.until > this.options.clock.now() && version < entry.version
  }

  set(stored: Stored, _nowSec?: number): void {
    if (this.belowFloor(stored.guid, stored.version)) return
    if (!this.bypassed) this.cache?.set(stored.guid, this.ttlMs > 0 ? { kind: 'hit', stored, until: this.options.clock.now() + this.ttlMs } : { kind: 'hit', stored })
  }

  setAbsent(guid: string): void {
    if (this.belowFloor(guid, 0)) return
    if (this.absentMs > 0 && !this.bypassed) this.cache?.set(guid, { kind: 'absent', until: this.options.clock.now() + this.absentMs })
    // Without negative caching, at least forget what was there (a delete must not be served).
    else this.cache?.delete(guid)
  }

  forget(guid: string): void {
    this.cache?.delete(guid)
  }

  clear(): void {
    this.cache?.clear()
  }
}
