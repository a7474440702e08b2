import { reportServerFit } from '../../adapters/mongo/fit'
import { connectRedis } from '../../adapters/redis/client'
import { Flusher } from '../../adapters/redis/flusher'
import { Invalidation } from '../../adapters/redis/invalidation'
import { RedisEventLog } from '../../adapters/redis/events'
import { RedisJournal } from '../../adapters/redis/journal'
import { redisKeys } from '../../adapters/redis/keys'
import { RedisTier } from '../../adapters/redis/tier'
import type { ReadinessCheck } from '../../ops/readiness'
import { WriteHealth } from '../../ops/write-health'
import type { Mode, ModeDeps } from './mode'
import { openDurableStore } from './open-store'
import { storeCheck } from './store-check'

/**
 * Redis mode (REDIS_URL): Redis is the shared tier and the write-behind journal; the flusher
 * moves journal entries to the durable store (MongoDB with MONGODB_URL, else SQLite). Three
 * connections: commands; the flusher's blocking reads; the invalidation subscription.
 */
export const redisMode = async (deps: ModeDeps & { url: string }): Promise<Mode> => {
  const { config, lru, clock, logger, metrics, lifecycle, instanceId } = deps
  const store = deps.store ?? (await openDurableStore(config, logger))
  lifecycle.onClose('store', () => store.close())
  reportServerFit(store, metrics.registry, logger)

  const keys = redisKeys(config.REDIS_PREFIX)
  const onError = (error: Error) => logger.warn({ err: error }, 'redis connection error')
  const main = await connectRedis({ url: deps.url, onError })
  const [streamClient, subClient, feedClient] = await Promise.all([
    main.duplicate().on('error', onError).connect(),
    main.duplicate().on('error', onError).connect(),
    main.duplicate().on('error', onError).connect(),
  ])
  lifecycle.onClose('redis connections', () =>
    // QUIT waits for Redis to answer; a connection that is down (or reconnecting) is dropped.
    Promise.all([main, streamClient, subClient, feedClient].map((c) => (c.isReady ? c.quit().catch(() => c.destroy()) : c.destroy()))),
  )

  const journalState = async () => {
    const [length, first] = await Promise.all([main.xLen(keys.journal), main.xRange(keys.journal, '-', '+', { COUNT: 1 })])
    const oldest = first?.[0] ? Number(first[0].id.split('-')[0]) : null
    return { length, oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (clock.now() - oldest) / 1000) }
  }
  metrics.watchJournal(journalState)
  // Redis can answer PING and still refuse writes (MISCONF after a failed AOF/RDB write, a
  // full disk, OOM): the journal's own writes tell, and a probe write ends the incident.
  const journalHealth = new WriteHealth('redis', logger, async () => void (await main.set(`${config.REDIS_PREFIX}write-probe`, String(clock.now()), { PX: 60_000 })), clock)
  const checks: ReadinessCheck[] = [
    storeCheck(store),
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
    logger,
    backoffMinMs: deps.flusherBackoffMs?.min,
    backoffMaxMs: deps.flusherBackoffMs?.max,
    events: {
      flushed: (n, seconds) => {
        metrics.flushedTotal.inc(n)
        metrics.observeCommit(n, seconds)
      },
      deadLettered: (n) => metrics.deadLettersTotal.inc(n),
      storeFailed: () => metrics.flushFailuresTotal.inc(),
    },
  })
  await new Invalidation({ client: subClient, channel: keys.invalidations, instanceId, local: lru, logger, onInvalidation: () => metrics.invalidationsTotal.inc() }).start()
  await flusher.start()
  // Registered after the journal's step would be wrong: the journal closes first (no new
  // entries), then the flusher drains what is there within what is left of the deadline.
  lifecycle.onClose('flusher', (remainingMs) => flusher.stop(remainingMs))

  const journal = new RedisJournal({
    client: main,
    keys,
    maxLag: config.JOURNAL_MAX_LAG,
    timeoutMs: config.REDIS_TIMEOUT_MS,
    instanceId,
    retainSeconds: config.TOMBSTONE_TTL_SECONDS,
    health: journalHealth,
  })
  lifecycle.onClose('journal', () => journal.close())
  const shared = new RedisTier({ client: main, keys, negativeTtlMs: config.NEGATIVE_CACHE_MS, timeoutMs: config.REDIS_TIMEOUT_MS, retainSeconds: config.TOMBSTONE_TTL_SECONDS })
  // The change feed: a stream the journal's script appends to; its own connection follows it.
  const log = new RedisEventLog({ client: main, followClient: feedClient, keys, timeoutMs: config.REDIS_TIMEOUT_MS, retentionSeconds: config.EVENTS_RETENTION_SECONDS, clock, logger })
  const feed = {
    log,
    due: (nowSec: number, limit: number) => log.due(nowSec, limit),
    dismiss: (guid: string, nowSec: number) => log.dismiss(guid, nowSec),
  }
  return { name: 'redis', journal, store, shared, sharedWriters: true, checks, feed }
}
