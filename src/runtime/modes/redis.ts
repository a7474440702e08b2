import { reportServerFit } from '../../adapters/mongo/fit'
import { WriteHealth } from '../../ops/write-health'
import type { Config } from '../config'
import type { Mode, ModeDeps } from './mode'
import { idempotencyLeaseMs } from './idempotency-lease'
import { mongoStoreOptions, openStore, type StoreOptions, sqliteOptions } from './open-store'
import { flusherSettings, redisChecks, redisServiceParts } from './redis-shared'

export interface RedisModeOptions {
  url: string
  /** Prefix of every key and channel. */
  prefix: string
  /** The flusher's store: MongoDB with MONGODB_URL, else SQLite. */
  store: StoreOptions
  timeoutMs: number
  negativeCacheMs: number
  retainSeconds: number
  journalMaxLag: number
  flushBatchMax: number
  flushIntervalMs: number
  claimIdleMs: number
  maxAttempts: number
  /** LRU entry lifetime; 0 = until evicted (invalidations reach every instance). */
  lruTtlMs: number
  /** REDIS_WAIT_REPLICAS (0: no WAIT) and REDIS_WAIT_TIMEOUT_MS. */
  waitReplicas: number
  waitTimeoutMs: number
  /** EVENTS_RETENTION_SECONDS: how long the change feed keeps events. */
  eventsRetentionSeconds: number
  /** Longest a listing waits for the flusher (LIST_FLUSH_WAIT_MS). */
  listFlushWaitMs: number
  /** How long an Idempotency-Key claim holds without an answer (idempotency-lease.ts). */
  idempotencyLeaseMs: number
  /** IDEMPOTENCY_TTL_SECONDS: how long a key's answer is kept. */
  idempotencyTtlSeconds: number
}

export const redisOptions = (config: Config, url: string): RedisModeOptions => ({
  url,
  prefix: config.REDIS_PREFIX,
  store: config.MONGODB_URL === undefined ? sqliteOptions(config) : mongoStoreOptions(config, config.MONGODB_URL),
  timeoutMs: config.REDIS_TIMEOUT_MS,
  negativeCacheMs: config.NEGATIVE_CACHE_MS,
  retainSeconds: config.TOMBSTONE_TTL_SECONDS,
  journalMaxLag: config.JOURNAL_MAX_LAG,
  flushBatchMax: config.FLUSH_BATCH_MAX,
  flushIntervalMs: config.FLUSH_INTERVAL_MS,
  claimIdleMs: config.JOURNAL_CLAIM_IDLE_MS,
  maxAttempts: config.JOURNAL_MAX_ATTEMPTS,
  lruTtlMs: config.LRU_TTL_MS ?? 0,
  waitReplicas: config.REDIS_WAIT_REPLICAS,
  waitTimeoutMs: config.REDIS_WAIT_TIMEOUT_MS,
  eventsRetentionSeconds: config.EVENTS_RETENTION_SECONDS,
  listFlushWaitMs: config.LIST_FLUSH_WAIT_MS,
  idempotencyLeaseMs: idempotencyLeaseMs(config),
  idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
})

/** The Redis client and the parts over it, loaded only in this mode. */
const loadAdapters = async () => {
  const [barrier, client, events, flusher, idempotency, invalidation, journal, keys, liveness, probes, rateLimit, tier] = await Promise.all([
    import('../../adapters/redis/barrier'),
    import('../../adapters/redis/client'),
    import('../../adapters/redis/events'),
    import('../../adapters/redis/flusher'),
    import('../../adapters/redis/idempotency'),
    import('../../adapters/redis/invalidation'),
    import('../../adapters/redis/journal'),
    import('../../adapters/redis/keys'),
    import('../../adapters/redis/liveness'),
    import('../../adapters/redis/probes'),
    import('../../adapters/redis/rate-limit'),
    import('../../adapters/redis/tier'),
  ])
  return { ...barrier, ...client, ...events, ...flusher, ...idempotency, ...invalidation, ...journal, ...keys, ...liveness, ...probes, ...rateLimit, ...tier }
}

/**
 * Redis mode (REDIS_URL): Redis is the shared tier and the write-behind journal; the flusher
 * moves journal entries to the durable store (MongoDB with MONGODB_URL, else SQLite). Three
 * connections: commands; the flusher's blocking reads; the invalidation subscription.
 */
export const redisMode = async (options: RedisModeOptions, deps: ModeDeps): Promise<Mode> => {
  const { lru, clock, logger, metrics, lifecycle, instanceId } = deps
  const { connectRedis, Flusher, Invalidation, JournalBarrier, Liveness, RedisEventLog, RedisIdempotency, RedisJournal, RedisRateLimit, redisKeys, redisProbes, RedisTier } = await loadAdapters()
  const store = deps.store ?? (await openStore(options.store, logger))
  lifecycle.onClose('store', () => store.close())
  reportServerFit(store, metrics.registry, logger)

  const keys = redisKeys(options.prefix)
  const onError = (error: Error) => logger.warn({ err: error }, 'redis connection error')
  const main = await connectRedis({ url: options.url, onError })
  const [streamClient, subClient, feedClient] = await Promise.all([
    main.duplicate().on('error', onError).connect(),
    main.duplicate().on('error', onError).connect(),
    main.duplicate().on('error', onError).connect(),
  ])
  lifecycle.onClose('redis connections', () =>
    // QUIT waits for Redis to answer; a connection that is down (or reconnecting) is dropped.
    Promise.all([main, streamClient, subClient, feedClient].map((c) => (c.isReady ? c.quit().catch(() => c.destroy()) : c.destroy()))),
  )

  const probes = redisProbes(main, keys, clock)
  metrics.watchJournal(probes.journalState)
  // Redis can answer PING and still refuse writes (MISCONF after a failed AOF/RDB write, a
  // full disk, OOM): the journal's own writes tell, and a probe write ends the incident.
  const journalHealth = new WriteHealth('redis', logger, probes.probeWrite, clock)
  const checks = redisChecks(store, journalHealth, probes, options.journalMaxLag)

  // On the command connection: the flusher's own is held by its blocking reads.
  const liveness = new Liveness({ client: main, keys, consumer: instanceId })
  const flusher = new Flusher({
    client: streamClient,
    keys,
    liveness,
    ...flusherSettings(options, deps, store),
  })
  await new Invalidation({ client: subClient, channel: keys.invalidations, instanceId, local: lru, logger, onInvalidation: () => metrics.invalidationsTotal.inc() }).start()
  // The key is there before the flusher reads anything, and goes once it has stopped (closed after it).
  await liveness.start()
  lifecycle.onClose('liveness', () => liveness.stop())
  await flusher.start()
  // Registered after the journal's step would be wrong: the journal closes first (no new
  // entries), then the flusher drains what is there within what is left of the deadline.
  lifecycle.onClose('flusher', (remainingMs) => flusher.stop(remainingMs))

  const journal = new RedisJournal({
    client: main,
    keys,
    maxLag: options.journalMaxLag,
    timeoutMs: options.timeoutMs,
    instanceId,
    retainSeconds: options.retainSeconds,
    health: journalHealth,
    // REDIS_WAIT_REPLICAS with a replicated Redis: each acknowledgement waits for the replicas.
    replicas: { count: options.waitReplicas, waitFor: () => main.sendCommand<number>(['WAIT', String(options.waitReplicas), String(options.waitTimeoutMs)]) },
  })
  lifecycle.onClose('journal', () => journal.close())
  const { shared, sharedRateLimit, barrier, idempotency } = redisServiceParts({ RedisTier, RedisRateLimit, JournalBarrier, RedisIdempotency }, main, keys, options, deps, { journalHealth, flusher })
  // The change feed: a stream the journal's script appends to; its own connection follows it.
  const log = new RedisEventLog({ client: main, followClient: feedClient, keys, timeoutMs: options.timeoutMs, retentionSeconds: options.eventsRetentionSeconds, clock, logger })
  const feed = {
    log,
    due: (nowSec: number, limit: number) => log.due(nowSec, limit),
    dismiss: (guid: string, nowSec: number) => log.dismiss(guid, nowSec),
  }
  return { name: 'redis', journal, store, shared, barrier, idempotency, sharedWriters: true, checks, sharedRateLimit, feed }
}
