import { createClient } from 'redis'
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
