import { hostname } from 'node:os'
import { LruTier } from '../adapters/lru/lru'
import { ActorRegistry } from '../data/actors'
import { GuidService } from '../data/guid-service'
import { ListingService } from '../data/listing-service'
import { Records } from '../data/records'
import type { Journal } from '../data/journal'
import type { Store } from '../data/store'
import { Expirer } from '../data/expirer'
import { FeedHub } from '../data/feed-hub'
import { Sweeper } from '../data/sweeper'
import { type Clock, systemClock, TIMED_OUT, withTimeout } from '../domain/clock'
import { ApiKeys } from '../http/api-keys'
import { type App, createApp } from '../http/app'
import { behindProxy, type ClientAddress } from '../http/client-address'
import { Cors } from '../http/cors'
import { Deadlines } from '../http/deadlines'
import { IdleHold, type SetIdleTimeout } from '../http/idle-hold'
import { RateLimiter } from '../http/rate-limit'
import type { RateLimit } from '../data/rate-limit'
import { DEFAULT_SSE_TIMING, type SseTiming } from '../http/sse'
import { droppedLinesOf, type Logger } from '../ops/logger'
import { Metrics } from '../ops/metrics'
import { Readiness } from '../ops/readiness'
import type { Config } from './config'
import { authRequired, loadKeys } from './key-source'
import { Lifecycle } from './lifecycle'
import { chooseMode, openMode } from './modes/choose'
import type { Mode, ModeFeed } from './modes/mode'
import { VERSION } from './version'

export interface Runtime {
  app: App
  actors: ActorRegistry
  lru: LruTier
  readiness: Readiness
  /** Undefined when no key is configured. */
  keys: ApiKeys | undefined
  /** Undefined when REQUEST_TIMEOUT_MS is 0. */
  deadlines: Deadlines | undefined
  /** 'embedded' (LRU + SQLite), 'redis' (LRU + Redis journal + flusher to the store) or 'mongodb' (LRU + MongoDB as journal and store). */
  mode: Mode['name']
  /** Where reads end below the tiers (tests read it to check what is durable). */
  store: Store
  /** Where a mutation becomes durable before its reply (the bench times its commits). */
  journal: Journal
  /** The change feed: its per-instance hub and the expiry sweep (tests drive them). */
  feed: { hub: FeedHub; expirer: Expirer } | undefined
  /** Ends every open event stream (shutdown: before waiting for requests in flight, which streams never finish). */
  endStreams(): Promise<void>
  /** Starts the background loops: the sweep, the request deadlines, the event-loop sampler. */
  start(): void
  /**
   * Re-reads API_KEYS_FILE (SIGHUP) and swaps the key set; on failure keeps the old set and
   * throws. Returns the number of keys now accepted.
   */
  reloadKeys(): number
  /** Drains under one deadline, in reverse order of opening: readiness, actors, background loops, journal, flusher, connections, store. */
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
  /** Event stream timing (heartbeat, retry, stall); tests shorten it. */
  sseTiming?: Partial<SseTiming>
  /** How often expiries are looked for (ms); each is recorded within about this after its instant. */
  expiryIntervalMs?: number
  /** Sets the idle timeout of one request's connection (main.ts: Bun's server.timeout): event streams, requests awaiting their answer. */
  setIdleTimeout?: SetIdleTimeout
  /** Embedded mode without its change feed: what the feed costs a write is measured against it (bench/feed.ts). */
  withoutFeed?: boolean
}

/** Expiries are looked for this often by default: each appears in the feed well within 2 s of its instant. */
const EXPIRY_INTERVAL_MS = 500
const EXPIRY_BATCH = 500

/**
 * The change feed's parts over a mode's feed: the expiry sweep (each expiry recorded through the
 * GUID's actor, GuidService.expire), the hub that follows the log for this instance's streams,
 * and the trim of events past the retention. Each registers its close step.
 */
const openFeed = async (
  feed: ModeFeed,
  service: GuidService,
  deps: { config: Config; options: RuntimeOptions; clock: Clock; logger: Logger; metrics: Metrics; lifecycle: Lifecycle },
): Promise<{ hub: FeedHub; expirer: Expirer; timing: SseTiming }> => {
  const { config, options, clock, logger, metrics, lifecycle } = deps
  const expirer = new Expirer({
    due: (nowSec, limit) => feed.due(nowSec, limit),
    expire: (guid) => service.expire(guid),
    dismiss: feed.dismiss === undefined ? undefined : (guid, nowSec) => feed.dismiss!(guid, nowSec),
    intervalMs: options.expiryIntervalMs ?? EXPIRY_INTERVAL_MS,
    batch: EXPIRY_BATCH,
    clock,
    logger,
  })
  lifecycle.onClose('expiry sweep', () => expirer.stop())
  const timing = { ...DEFAULT_SSE_TIMING, ...options.sseTiming }
  const hub = new FeedHub({
    log: feed.log,
    coalesceMs: timing.coalesceMs,
    maxStreams: config.MAX_EVENT_STREAMS,
    retentionMs: config.EVENTS_RETENTION_SECONDS * 1000,
    clock,
    onError: (error) => logger.warn({ err: error }, 'change feed: cannot follow the event log yet; retrying'),
  })
  await hub.start()
  metrics.watchFeed({ streams: () => hub.streams, followed: () => hub.followed, expired: () => expirer.recorded })
  lifecycle.onClose('event streams', () => hub.stop())
  // Events outlive the retention by at most this interval.
  const trimTimer = setInterval(() => feed.log.trim().catch((error) => logger.warn({ err: error }, 'change feed trim failed; will retry')), Math.min(config.SWEEP_INTERVAL_MS, 60_000))
  trimTimer.unref?.()
  lifecycle.onClose('change feed trim', () => clearInterval(trimTimer))
  return { hub, expirer, timing }
}

/**
 * Wires the service from a validated Config: the composition root shared by main.ts and
 * the tests. Opens the store and Redis connections, but no listening socket. Every resource
 * registers its close step with one Lifecycle where it is opened. The mode (and so the
 * store, the journal and the LRU's lifetime) is chosen by modes/choose.ts.
 */
export const createRuntime = async (config: Config, options: RuntimeOptions): Promise<Runtime> => {
  const clock = options.clock ?? systemClock
  const { logger } = options
  const lifecycle = new Lifecycle(logger)
  const instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`
  // Throws a ConfigError when API_KEYS_FILE cannot be used, before any connection is opened:
  // the service does not start open by accident.
  const apiKeys = authRequired(config) ? new ApiKeys(loadKeys(config, options.readText)) : undefined
  const actors = new ActorRegistry({ mailboxMax: config.ACTOR_MAILBOX_MAX })
  const localLimit =
    config.RATE_LIMIT_PER_SECOND > 0 ? new RateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST, maxClients: config.RATE_LIMIT_CLIENTS, clock }) : undefined
  let limiter: RateLimit | undefined = localLimit
  const choice = chooseMode(config)
  if (options.withoutFeed) {
    if (choice.name !== 'embedded') throw new Error('withoutFeed is for the embedded mode only')
    choice.options.feed = false
  }
  const lru = new LruTier({ maxEntries: config.LRU_MAX_ENTRIES, negativeTtlMs: config.NEGATIVE_CACHE_MS, ttlMs: choice.options.lruTtlMs, clock })
  const metrics = new Metrics({
    lruSize: () => lru.size,
    lruStats: () => lru.stats,
    actorsInFlight: () => actors.size,
    apiKeys: () => apiKeys?.size ?? 0,
    rateLimitClients: () => limiter?.size ?? 0,
    logLinesDropped: () => droppedLinesOf(logger),
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
  })
  const mode = await openMode(choice, { lru, clock, logger, metrics, lifecycle, instanceId, store: options.store, flusherBackoffMs: options.flusherBackoffMs })
  // With Redis, one bucket per client for every instance; embedded and MongoDB-only keep local buckets.
  if (localLimit !== undefined && mode.sharedRateLimit !== undefined) {
    limiter = mode.sharedRateLimit(localLimit, { perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST })
  }

  const sweeper = new Sweeper(mode.store, {
    intervalMs: config.SWEEP_INTERVAL_MS,
    batch: config.SWEEP_BATCH,
    clock,
    logger,
    onSwept: (n) => metrics.sweptTotal.inc(n),
    // A record goes only once its expiry is in the change feed.
    horizon: () => feedParts?.expirer.reportedThrough ?? Number.MAX_SAFE_INTEGER,
  })
  lifecycle.onClose('sweeper', () => sweeper.stop())
  const deadlines = config.REQUEST_TIMEOUT_MS > 0 ? new Deadlines(clock, config.REQUEST_TIMEOUT_MS) : undefined
  lifecycle.onClose('background loops', () => {
    deadlines?.stop()
    metrics.process.stop()
  })
  const records = new Records({ local: lru, shared: mode.shared, journal: mode.journal, store: mode.store, sharedWriters: mode.sharedWriters, latestFromStore: mode.latestFromStore })
  const service = new GuidService({ actors, records, clock, defaultTtlSeconds: config.DEFAULT_TTL_SECONDS, tombstoneTtlSeconds: config.TOMBSTONE_TTL_SECONDS })
  const listing = new ListingService({ index: mode.store, barrier: mode.barrier, clock })
  lifecycle.onClose('actors', async (remainingMs) => {
    if ((await withTimeout(actors.idle(), remainingMs)) === TIMED_OUT) logger.warn({ actors: actors.size }, 'shutdown deadline passed with work in flight')
  })
  const feedParts = mode.feed === undefined ? undefined : await openFeed(mode.feed, service, { config, options, clock, logger, metrics, lifecycle })
  const readiness = new Readiness(mode.checks)
  lifecycle.onClose('readiness', () => {
    readiness.draining = true
  })
  const socketAddress = options.clientAddress ?? (() => undefined)
  const idle = options.setIdleTimeout === undefined || deadlines === undefined ? undefined : new IdleHold(options.setIdleTimeout, config.IDLE_TIMEOUT_SECONDS, deadlines)
  // Without deadlines nothing holds a connection, but an event stream's is still exempt.
  const exemptFromIdleTimeout = idle?.exempt ?? (options.setIdleTimeout === undefined ? undefined : (request: Request) => options.setIdleTimeout!(request, 0))
  const app = createApp({
    service,
    listing,
    idempotency: { store: mode.idempotency, ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS, clock },
    metrics,
    readiness,
    logger,
    version: VERSION,
    keys: apiKeys,
    authOpsEndpoints: config.AUTH_OPS_ENDPOINTS,
    limiter,
    deadlines,
    idle,
    cors: config.CORS_ORIGINS === undefined ? undefined : new Cors(config.CORS_ORIGINS),
    maxHeaderBytes: config.MAX_HEADER_BYTES,
    clientAddress: config.TRUST_PROXY ? behindProxy(socketAddress) : socketAddress,
    logSample2xx: config.LOG_SAMPLE_2XX,
    feed: feedParts === undefined ? undefined : { hub: feedParts.hub, timing: feedParts.timing, exemptFromIdleTimeout },
  })

  const start = (): void => {
    sweeper.start()
    feedParts?.expirer.start()
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

  return {
    app,
    actors,
    lru,
    readiness,
    keys: apiKeys,
    deadlines,
    mode: mode.name,
    store: mode.store,
    journal: mode.journal,
    feed: feedParts,
    endStreams: async () => feedParts?.hub.stop(),
    start,
    reloadKeys,
    close: (deadlineMs = config.SHUTDOWN_TIMEOUT_MS) => lifecycle.close(deadlineMs),
  }
}
