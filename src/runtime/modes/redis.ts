import { Invalidation } from '../../adapters/redis/invalidation'
import type { LruTier } from '../../adapters/lru/lru'
import { RedisTier } from '../../adapters/redis/tier'
import type { Clock } from '../../domain/clock'
import type { Config } from '../config'
import type { Logger } from '../../ops/logger'
import type { ReadinessCheck } from '../../ops/readiness'
import { WriteHealth } from '../../ops/write-health'
import { Flusher, type FlusherEvents } from '../../adapters/redis/flusher'
import { RedisJournal } from '../../adapters/redis/journal'
import type { Store } from '../../data/store'
import { connectRedis, type RedisClient } from '../../adapters/redis/client'
import { redisKeys } from '../../adapters/redis/keys'

/** Everything Redis mode adds to the runtime (SPEC §4-§5), wired from REDIS_URL. */
export interface RedisMode {
  tier: RedisTier
  journal: RedisJournal
  flusher: Flusher
  checks: ReadinessCheck[]
  /** Unflushed entries and the age of the oldest, for metrics and readiness. */
  journalState(): Promise<{ length: number; oldestAgeSeconds: number }>
  /** Closes the three connections (after the flusher has stopped). */
  close(): Promise<void>
}

export interface RedisModeDeps {
  config: Config & { REDIS_URL: string }
  store: Store
  lru: LruTier
  clock: Clock
  logger: Logger
  instanceId: string
  flusherEvents: FlusherEvents
  onInvalidation: () => void
  flusherBackoffMs?: { min: number; max: number }
}

/**
 * Connects the three Redis connections Redis mode needs (commands; the flusher's blocking
 * reads; the invalidation subscription), then starts the flusher and the subscription.
 */
export const startRedisMode = async (deps: RedisModeDeps): Promise<RedisMode> => {
  const { config, store, lru, clock, logger, instanceId } = deps
  const keys = redisKeys(config.REDIS_PREFIX)
  const onError = (error: Error) => logger.warn({ err: error }, 'redis connection error')
  const main = await connectRedis({ url: config.REDIS_URL, onError })
  const [streamClient, subClient] = await Promise.all([main.duplicate().on('error', onError).connect(), main.duplicate().on('error', onError).connect()])
  const clients: RedisClient[] = [main, streamClient, subClient]

  const journalState = async () => {
    const [length, first] = await Promise.all([main.xLen(keys.journal), main.xRange(keys.journal, '-', '+', { COUNT: 1 })])
    const oldest = first?.[0] ? Number(first[0].id.split('-')[0]) : null
    return { length, oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (clock.now() - oldest) / 1000) }
  }
  // Redis can answer PING and still refuse writes (MISCONF after a failed AOF/RDB write, a
  // full disk, OOM): the journal's own writes tell, and a probe write ends the incident.
  const journalHealth = new WriteHealth('redis', logger, async () => void (await main.set(`${config.REDIS_PREFIX}write-probe`, String(clock.now()), { PX: 60_000 })), clock)
  const checks: ReadinessCheck[] = [
    {
      name: 'redis',
      check: async () => {
        await journalHealth.check()
        await main.ping()
      },
    },
    {
      name: 'journal',
      check: async () => {
        const { length } = await journalState()
        if (length >= config.JOURNAL_MAX_LAG) throw new Error(`journal holds ${length} unflushed mutations (limit ${config.JOURNAL_MAX_LAG})`)
      },
    },
  ]
  const flusher = new Flusher({
    client: streamClient,
    keys,
    store,
    consumer: instanceId,
    batchMax: config.FLUSH_BATCH_MAX,
    blockMs: config.FLUSH_INTERVAL_MS,
    claimIdleMs: config.JOURNAL_CLAIM_IDLE_MS,
    maxAttempts: config.JOURNAL_MAX_ATTEMPTS,
    clock,
    logger,
    backoffMinMs: deps.flusherBackoffMs?.min,
    backoffMaxMs: deps.flusherBackoffMs?.max,
    events: deps.flusherEvents,
  })
  await new Invalidation({ client: subClient, channel: keys.invalidations, instanceId, local: lru, logger, onInvalidation: deps.onInvalidation }).start()
  await flusher.start()

  return {
    tier: new RedisTier({ client: main, keys, negativeTtlMs: config.NEGATIVE_CACHE_MS, timeoutMs: config.REDIS_TIMEOUT_MS, retainSeconds: config.TOMBSTONE_TTL_SECONDS }),
    journal: new RedisJournal({
      client: main,
      keys,
      maxLag: config.JOURNAL_MAX_LAG,
      timeoutMs: config.REDIS_TIMEOUT_MS,
      instanceId,
      retainSeconds: config.TOMBSTONE_TTL_SECONDS,
      health: journalHealth,
    }),
    flusher,
    checks,
    journalState,
    close: async () => {
      // QUIT waits for Redis to answer; a connection that is down (or reconnecting) is dropped.
      await Promise.all(clients.map((c) => (c.isReady ? c.quit().catch(() => c.destroy()) : c.destroy())))
    },
  }
}
