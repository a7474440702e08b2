import type { Clock } from '../../domain/clock'
import type { RedisClient, RedisCluster } from './client'
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

/**
 * The same questions to a Redis Cluster: the journal's length and oldest entry over every
 * partition, and a PING to every master (a slot without a master that answers fails its writes).
 */
export const clusterProbes = (cluster: RedisCluster, keys: RedisKeys, clock: Clock): RedisProbes => {
  const streams = Array.from({ length: keys.partitions }, (_, p) => keys.partition(p).journal)
  return {
    journalState: async () => {
      const [lengths, firsts] = await Promise.all([Promise.all(streams.map((k) => cluster.xLen(k))), Promise.all(streams.map((k) => cluster.xRange(k, '-', '+', { COUNT: 1 })))])
      const oldest = Math.min(...firsts.map((f) => (f?.[0] ? Number(f[0].id.split('-')[0]) : Number.POSITIVE_INFINITY)))
      return { length: lengths.reduce((a, b) => a + b, 0), oldestAgeSeconds: Number.isFinite(oldest) ? Math.max(0, (clock.now() - oldest) / 1000) : 0 }
    },
    probeWrite: async () => {
      await cluster.set(keys.writeProbe, String(clock.now()), { PX: 60_000 })
    },
    ping: async () => {
      await Promise.all(cluster.masters.map(async (m) => (await cluster.nodeClient(m)).ping()))
    },
  }
}
