import type { Clock } from '../../domain/clock'
import type { RedisClient } from './client'
import type { RedisKeys } from './keys'

export interface JournalState {
  /** Entries in the journal stream (flushed entries are trimmed, so: not yet flushed). */
  length: number
  /** Age of the oldest entry, from its stream id's milliseconds; 0 when the journal is empty. */
  oldestAgeSeconds: number
}

/** The Redis mode's questions to Redis for metrics and /readyz, as commands on the main connection. */
export interface RedisProbes {
  journalState(): Promise<JournalState>
  /** A short-lived write: Redis can answer PING and still refuse writes (MISCONF, a full disk, OOM). */
  probeWrite(): Promise<void>
  ping(): Promise<void>
}

export const redisProbes = (client: RedisClient, keys: RedisKeys, clock: Clock): RedisProbes => ({
  journalState: async () => {
    const [length, first] = await Promise.all([client.xLen(keys.journal), client.xRange(keys.journal, '-', '+', { COUNT: 1 })])
    const oldest = first?.[0] ? Number(first[0].id.split('-')[0]) : null
    return { length, oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (clock.now() - oldest) / 1000) }
  },
  probeWrite: async () => {
    await client.set(keys.writeProbe, String(clock.now()), { PX: 60_000 })
  },
  ping: async () => {
    await client.ping()
  },
})
