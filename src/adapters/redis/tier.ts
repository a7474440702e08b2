import type { Stored } from '../../domain/model'
import { type RedisConnection, redisCall } from './client'
import { ABSENT_MARKER, type RedisKeys } from './keys'
import { FILL_IF_NEWER, Script } from './scripts'
import { decodeState, encodeState } from './state'
import { ABSENT, type CacheTier, type Lookup, MISS } from '../../data/tier'

export interface RedisTierOptions {
  client: RedisConnection
  keys: RedisKeys
  /** How long (ms) an "absent" answer is remembered. 0 disables negative caching. */
  negativeTtlMs: number
  timeoutMs: number
  /** How long a state is kept past its expire (TOMBSTONE_TTL_SECONDS). */
  retainSeconds: number
}

/**
 * Until when Redis keeps a state: past its expire, for as long as the durable store may still
 * hold an older version (the flusher lags behind the journal). An expired state found here
 * answers 404 with its version known; without it a read would fall through to the store and
 * could find the older version that the acknowledged write replaced.
 */
export const keepUntil = (stored: Stored, retainSeconds: number): number => stored.expire + retainSeconds

/**
 * The shared tier: one key per GUID holding its state (src/redis/state.ts), which Redis
 * removes by itself `retainSeconds` after the state's expire (keepUntil). Acknowledged writes land here through the journal's script
 * (the journal's script writes it); this tier only fills from below, and only with newer versions.
 */
export class RedisTier implements CacheTier {
  readonly name = 'redis'
  private readonly fill = new Script(FILL_IF_NEWER)

  constructor(private readonly options: RedisTierOptions) {}

  async get(guid: string, _nowSec?: number): Promise<Lookup> {
    const { client, keys, timeoutMs } = this.options
    const raw = await redisCall('read', timeoutMs, () => client.get(keys.guid(guid)))
    if (raw === null) return MISS
    if (raw === ABSENT_MARKER) return ABSENT
    // An unreadable value is a miss; an expired state is a hit (see CacheTier).
    const stored = decodeState(raw)
    return stored === undefined ? MISS : { kind: 'hit', stored }
  }

  async set(stored: Stored, nowSec: number): Promise<void> {
    const until = keepUntil(stored, this.options.retainSeconds)
    if (until <= nowSec) return
    const { client, keys, timeoutMs } = this.options
    await redisCall('fill', timeoutMs, () => this.fill.run(client, [keys.guid(stored.guid)], [encodeState(stored), String(stored.version), String(until)]))
  }

  async setAbsent(guid: string): Promise<void> {
    const { client, keys, timeoutMs, negativeTtlMs } = this.options
    if (negativeTtlMs <= 0) return
    // NX: never replace a real state with the marker.
    await redisCall('fill', timeoutMs, () => client.set(keys.guid(guid), ABSENT_MARKER, { NX: true, PX: negativeTtlMs }))
  }
}
