import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Stored } from '../guid/model'
import { type RedisClient, redisCall } from '../redis/client'
import { ABSENT_MARKER, type RedisKeys } from '../redis/keys'
import { FILL_IF_NEWER, Script } from '../redis/scripts'
import { ABSENT, type CacheTier, type Lookup, MISS } from './tier'

const checkStored = TypeCompiler.Compile(Stored)

export interface RedisTierOptions {
  client: RedisClient
  keys: RedisKeys
  /** How long (ms) an "absent" answer is remembered. 0 disables negative caching. */
  negativeTtlMs: number
  timeoutMs: number
}

/**
 * The shared tier: one key per GUID holding its state as JSON with EXAT = expire, so Redis
 * expires it by itself. Acknowledged writes land here through the journal's script
 * (`journaled`); this tier only fills from below, and only with newer versions.
 */
export class RedisTier implements CacheTier {
  readonly name = 'redis'
  readonly journaled = true
  private readonly fill = new Script(FILL_IF_NEWER)

  constructor(private readonly options: RedisTierOptions) {}

  async get(guid: string, nowSec: number): Promise<Lookup> {
    const { client, keys, timeoutMs } = this.options
    const raw = await redisCall('read', timeoutMs, () => client.get(keys.guid(guid)))
    if (raw === null) return MISS
    if (raw === ABSENT_MARKER) return ABSENT
    const stored: unknown = JSON.parse(raw)
    // Validate what comes out of Redis as we do what comes in over HTTP; an unreadable value is a miss.
    if (!checkStored.Check(stored)) return MISS
    return stored.expire > nowSec ? { kind: 'hit', stored } : MISS
  }

  async set(stored: Stored, nowSec: number): Promise<void> {
    if (stored.expire <= nowSec) return
    const { client, keys, timeoutMs } = this.options
    await redisCall('fill', timeoutMs, () => this.fill.run(client, [keys.guid(stored.guid)], [JSON.stringify(stored), String(stored.version), String(stored.expire)]))
  }

  async setAbsent(guid: string): Promise<void> {
    const { client, keys, timeoutMs, negativeTtlMs } = this.options
    if (negativeTtlMs <= 0) return
    // NX: never replace a real state with the marker.
    await redisCall('fill', timeoutMs, () => client.set(keys.guid(guid), ABSENT_MARKER, { NX: true, PX: negativeTtlMs }))
  }

  async forget(guid: string): Promise<void> {
    const { client, keys, timeoutMs } = this.options
    await redisCall('forget', timeoutMs, () => client.del(keys.guid(guid)))
  }

  clear(): void {
    // Shared by every instance and kept exact by the journal's script: nothing to drop.
  }
}
