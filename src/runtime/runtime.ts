import { hostname } from 'node:os'
import { ActorRegistry } from '../data/actors'
import { type App, createApp } from '../http/app'
import { ApiKeys } from '../http/api-keys'
import { authRequired, loadKeys } from './key-source'
import { LruTier } from '../adapters/lru/lru'
import type { CacheTier } from '../data/tier'
import { type Clock, systemClock } from '../domain/clock'
import type { Config } from './config'
import { GuidService } from '../data/guid-service'
import { behindProxy, type ClientAddress } from '../http/client-address'
import { Cors } from '../http/cors'
import { Deadlines } from '../http/deadlines'
import { RateLimiter } from '../http/rate-limit'
import type { Logger } from '../ops/logger'
import { Metrics } from '../ops/metrics'
import { Readiness, type ReadinessCheck } from '../ops/readiness'
import { WriteHealth } from '../ops/write-health'
import { Records } from '../data/records'
import { type RedisMode, startRedisMode } from './modes/redis'
import type { Flusher } from '../adapters/redis/flusher'
import { GroupCommitJournal } from '../adapters/sqlite/group-commit'
import type { Journal } from '../data/journal'
import { reportServerFit } from '../adapters/mongo/fit'
import { openStore } from './open-store'
import { SqliteStore } from '../adapters/sqlite/store'
import type { Store } from '../data/store'
import { Sweeper } from '../data/sweeper'

export interface Runtime {
  app: App
  actors: ActorRegistry
  lru: LruTier
  readiness: Readiness
  sweeper: Sweeper
  metrics: Metrics
  /** Undefined when no key is configured. */
  keys: ApiKeys | undefined
  /** Undefined when REQUEST_TIMEOUT_MS is 0. */
  deadlines: Deadlines | undefined
  /** 'embedded' (LRU + SQLite), 'redis' (LRU + Redis journal + flusher to the store) or 'mongodb' (LRU + MongoDB as journal and store). */
  mode: 'embedded' | 'redis' | 'mongodb'
  store: Store
  flusher?: Flusher
  /** Starts the background loops: the sweep, the request deadlines, the event-loop sampler. */
  start(): void
  /**
   * Re-reads API_KEYS_FILE (SIGHUP) and swaps the key set; on failure keeps the old set and
   * throws. Returns the number of keys now accepted.
   */
  reloadKeys(): number
  /** Drains in order: actors, journal, flusher, background loops, clients, store. Bounded by `deadlineMs`. */
  close(deadlineMs?: number): Promise<void>
}

export interface RuntimeOptions {
  clock?: Clock
  logger: Logger
  /** The client address as the socket saw it (main.ts); tests pass a fake. */
  clientAddress?: ClientAddress
  /** How API_KEYS_FILE is read (tests pass a fake). */
  readText?: (path: string) => string
  /** Names this instance (Redis consumer, invalidation origin); unique per process by default. */
  instanceId?: string
  /** Flusher tuning for tests (backoff after a store failure). */
  flusherBackoffMs?: { min: number; max: number }
  /** A store to use instead of the configured one (tests wrap one to make it fail). */
  store?: Store
}

/** LRU entry lifetime in MongoDB-only mode when LRU_TTL_MS is unset. */
const MONGODB_ONLY_LRU_TTL_MS = 1_000

const withDeadline = <T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> => Promise.race([promise, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref?.())])

/**
 * Wires the service from a validated Config: the composition root shared by main.ts and
 * the tests. Opens the store and Redis connections, but no listening socket.
 *
 * - no REDIS_URL: embedded default, LRU + SQLite (journal and store in one, group commit);
 * - REDIS_URL: LRU + Redis tier + Redis journal, flushed to MongoDB (MONGODB_URL) or SQLite;
 * - MONGODB_URL alone: LRU (entries with a short lifetime) + MongoDB, the journal and the
 *   store at once (each write a compare-and-set written through before the reply).
 */
export const createRuntime = async (config: Config, options: RuntimeOptions): Promise<Runtime> => {
  const clock = options.clock ?? systemClock
  const { logger } = options
  const instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`
  const mode: Runtime['mode'] = config.REDIS_URL !== undefined ? 'redis' : config.MONGODB_URL !== undefined ? 'mongodb' : 'embedded'
  const actors = new ActorRegistry({ mailboxMax: config.ACTOR_MAILBOX_MAX })
  // No invalidation reaches an instance in MongoDB-only mode: a short lifetime bounds how long
  // its LRU serves a GUID another instance has changed.
  const lruTtlMs = config.LRU_TTL_MS ?? (mode === 'mongodb' ? MONGODB_ONLY_LRU_TTL_MS : 0)
  const lru = new LruTier({ maxEntries: config.LRU_MAX_ENTRIES, negativeTtlMs: config.NEGATIVE_CACHE_MS, ttlMs: lruTtlMs, clock })
  // Throws a ConfigError when API_KEYS_FILE cannot be used, before any connection is opened:
  // the service does not start open by accident.
  const apiKeys = authRequired(config) ? new ApiKeys(loadKeys(config, options.readText)) : undefined
  const limiter =
    config.RATE_LIMIT_PER_SECOND > 0 ? new RateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST, maxClients: config.RATE_LIMIT_CLIENTS, clock }) : undefined
  const deadlines = config.REQUEST_TIMEOUT_MS > 0 ? new Deadlines(clock, config.REQUEST_TIMEOUT_MS) : undefined
  const socketAddress = options.clientAddress ?? (() => undefined)
  const store = options.store ?? (await openStore(config, (error) => logger.error({ err: error }, 'SQLite checkpoint thread failed; checkpointing inline')))
  // MongoDB-only mode: the journal writes through to the store's own collection.
  const mongoJournal =
    mode === 'mongodb'
      ? await import('../adapters/mongo/journal').then(({ MongoJournal }) =>
          MongoJournal.over(store, {
            w: config.MONGODB_WRITE_CONCERN === 'majority' ? 'majority' : Number(config.MONGODB_WRITE_CONCERN),
            clock,
            health: { failed: (error) => writeHealth.failed(error), succeeded: () => writeHealth.succeeded() },
            uncertain: (guid) => lru.forget(guid),
          }),
        )
      : undefined
  // Writes that fail for a fault of the storage (disk full, I/O error, read-only, MongoDB
  // unreachable) make the store "not ready" until a write (or the readiness probe's write) succeeds again.
  const probeWrite = mongoJournal !== undefined ? () => mongoJournal.probeWrite() : store.probeWrite === undefined ? undefined : () => store.probeWrite!()
  const writeHealth = new WriteHealth(store.name, logger, probeWrite, clock)
  const checks: ReadinessCheck[] = [
    {
      name: store.name,
      check: async () => {
        await writeHealth.check()
        await store.ping()
      },
    },
  ]
  const tiers: CacheTier[] = [lru]
  // The metrics are built once the journal is known; events before that have nothing to count.
  let metricsRef: Metrics | undefined
  let journal: Journal
  let redis: RedisMode | undefined

  if (mongoJournal !== undefined) {
    // No flusher: the journal is the store. The sweeper below deletes expired documents as in the other modes.
    journal = mongoJournal
  } else if (config.REDIS_URL === undefined) {
    if (!(store instanceof SqliteStore)) throw new Error('the embedded journal needs the SQLite store itself')
    journal = new GroupCommitJournal(store, {
      batchMax: config.COMMIT_BATCH_MAX,
      windowMs: config.COMMIT_WINDOW_MS,
      clock,
      onCommit: (size, seconds) => metricsRef?.observeCommit(size, seconds),
      health: writeHealth,
    })
  } else {
    redis = await startRedisMode({
      config: { ...config, REDIS_URL: config.REDIS_URL },
      store,
      lru,
      clock,
      logger,
      instanceId,
      flusherBackoffMs: options.flusherBackoffMs,
      onInvalidation: () => metricsRef?.invalidationsTotal.inc(),
      flusherEvents: {
        flushed: (n, seconds) => {
          metricsRef?.flushedTotal.inc(n)
          metricsRef?.observeCommit(n, seconds)
        },
        deadLettered: (n) => metricsRef?.deadLettersTotal.inc(n),
        storeFailed: () => metricsRef?.flushFailuresTotal.inc(),
      },
    })
    tiers.push(redis.tier)
    journal = redis.journal
    checks.push(...redis.checks)
  }

  const metrics = new Metrics({
    lruSize: () => lru.size,
    lruStats: () => lru.stats,
    actorsInFlight: () => actors.size,
    journal: redis?.journalState,
    apiKeys: () => apiKeys?.size ?? 0,
    rateLimitClients: () => limiter?.size ?? 0,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
  })
  metricsRef = metrics
  reportServerFit(store, metrics.registry, logger)
  // In MongoDB-only mode the requests and the sweeper use the journal's view of the store (outages as 503, claims swept).
  const records = new Records({ tiers, journal, store: mongoJournal?.view ?? store, sharedWriters: mode !== 'embedded' })
  const service = new GuidService({ actors, records, clock, defaultTtlSeconds: config.DEFAULT_TTL_SECONDS, tombstoneTtlSeconds: config.TOMBSTONE_TTL_SECONDS })
  const readiness = new Readiness(checks)
  const sweeper = new Sweeper(mongoJournal?.view ?? store, { intervalMs: config.SWEEP_INTERVAL_MS, batch: config.SWEEP_BATCH, clock, logger, onSwept: (n) => metrics.sweptTotal.inc(n) })
  const app = createApp({
    service,
    metrics,
    readiness,
    logger,
    keys: apiKeys,
    authOpsEndpoints: config.AUTH_OPS_ENDPOINTS,
    limiter,
    deadlines,
    cors: config.CORS_ORIGINS === undefined ? undefined : new Cors(config.CORS_ORIGINS),
    maxHeaderBytes: config.MAX_HEADER_BYTES,
    clientAddress: config.TRUST_PROXY ? behindProxy(socketAddress) : socketAddress,
    logSample2xx: config.LOG_SAMPLE_2XX,
  })

  const start = (): void => {
    sweeper.start()
    deadlines?.start()
    metrics.process.start()
  }

  const reloadKeys = (): number => {
    if (apiKeys === undefined) return 0
    try {
      apiKeys.replace(loadKeys(config, options.readText))
      metrics.guards.keyReloads++
      return apiKeys.size
    } catch (error) {
      metrics.guards.keyReloadFailures++
      throw error
    }
  }

  const close = async (deadlineMs = config.SHUTDOWN_TIMEOUT_MS): Promise<void> => {
    const deadline = Date.now() + deadlineMs
    readiness.draining = true
    if ((await withDeadline(actors.idle(), deadlineMs)) === 'timeout') logger.warn({ actors: actors.size }, 'shutdown deadline passed with work in flight')
    deadlines?.stop()
    metrics.process.stop()
    await journal.close()
    await redis?.flusher.stop(Math.max(0, deadline - Date.now()))
    await sweeper.stop()
    await redis?.close()
    await store.close()
  }

  return {
    app,
    actors,
    lru,
    readiness,
    sweeper,
    metrics,
    keys: apiKeys,
    deadlines,
    mode,
    store,
    flusher: redis?.flusher,
    start,
    reloadKeys,
    close,
  }
}
