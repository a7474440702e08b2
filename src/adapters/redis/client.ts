import { createClient, createCluster } from 'redis'
import { TIMED_OUT, withTimeout } from '../../domain/clock'
import { ServiceError, unavailable } from '../../domain/errors'

export interface RedisClientOptions {
  url: string
  onError: (error: Error) => void
}

/**
 * A node-redis client that fails fast: with no offline queue, a command sent while the
 * connection is down rejects at once (and the request gets 503) instead of waiting.
 */
const newClient = (url: string) =>
  createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5_000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000) },
  })

export type RedisClient = ReturnType<typeof newClient>

const newCluster = (seeds: string[]) =>
  createCluster({
    rootNodes: seeds.map((seed) => ({ url: `redis://${seed}` })),
    // Every node's connection fails fast too, and reconnects as the single client does.
    defaults: { disableOfflineQueue: true, socket: { connectTimeout: 5_000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000) } },
    // A failover or a reshard redirects (MOVED/ASK) a few times while the slots settle.
    maxCommandRedirections: 16,
    // A master that stops answering may have been failed over (cluster-node-timeout + an
    // election, seconds): ask the cluster for its slots 1 s after a node's first reconnection
    // attempt instead of node-redis' default 5 s, so the failover gap (503s) ends sooner.
    topologyRefreshOnReconnectionAttemptStrategy: 1_000,
  })

export type RedisCluster = ReturnType<typeof newCluster>
/** One Redis or a cluster: node-redis routes a cluster's commands by their first key. */
export type RedisConnection = RedisClient | RedisCluster

export interface RedisClusterOptions {
  /** `host:port` seed nodes (REDIS_CLUSTER_NODES). */
  seeds: string[]
  onError: (error: Error) => void
}

/** A node-redis cluster client: discovers the masters from the seeds and follows MOVED/ASK. */
export const connectCluster = async ({ seeds, onError }: RedisClusterOptions): Promise<RedisCluster> => {
  const cluster = newCluster(seeds)
  cluster.on('error', onError)
  await cluster.connect()
  return cluster
}

export const connectRedis = async ({ url, onError }: RedisClientOptions): Promise<RedisClient> => {
  const client = newClient(url)
  client.on('error', onError)
  await client.connect()
  return client
}

/** Bounds a Redis call in time and turns any failure of it into a 503 with Retry-After. */
export const redisCall = async <T>(what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> => {
  try {
    const result = await withTimeout(call(), timeoutMs)
    if (result === TIMED_OUT) throw new Error(`no answer within ${timeoutMs} ms`)
    return result
  } catch (error) {
    if (error instanceof ServiceError) throw error
    throw unavailable(`Redis is unavailable (${what}); retry shortly.`, error)
  }
}
