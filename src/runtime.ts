import { ActorRegistry } from './actors/registry'
import { type App, createApp } from './app'
import { ApiKeys } from './auth/api-keys'
import { authRequired, loadKeys } from './auth/key-source'
import { LruTier } from './cache/lru'
import { type Clock, systemClock } from './clock'
import type { Config } from './config'
import { GuidService } from './guid/service'
import { behindProxy, type ClientAddress } from './http/client-address'
import { Cors } from './http/cors'
import { Deadlines } from './http/deadlines'
import { RateLimiter } from './http/rate-limit'
import type { Logger } from './ops/logger'
import { Metrics } from './ops/metrics'
import { Readiness } from './ops/readiness'
import { Records } from './records'
import { GroupCommitJournal } from './store/group-commit'
import { SqliteStore } from './store/sqlite'
import { Sweeper } from './store/sweeper'

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
  /** Starts the background loops: the sweep, the request deadlines, the event-loop sampler. */
  start(): void
  /**
   * Re-reads API_KEYS_FILE (SIGHUP) and swaps the key set; on failure keeps the old set and
   * throws. Returns the number of keys now accepted.
   */
  reloadKeys(): number
  /** Drains in order: actors, journal, background loops, store. Bounded by `deadlineMs`. */
  close(deadlineMs?: number): Promise<void>
}

export interface RuntimeOptions {
  clock?: Clock
  logger: Logger
  /** The client address as the socket saw it (main.ts); tests pass a fake. */
  clientAddress?: ClientAddress
  /** How API_KEYS_FILE is read (tests pass a fake). */
  readText?: (path: string) => string
}

/**
 * Wires the service from a validated Config: the composition root shared by main.ts
 * and the tests. Opens the store but no socket.
 */
export const createRuntime = (config: Config, options: RuntimeOptions): Runtime => {
  const clock = options.clock ?? systemClock
  const { logger } = options
  const actors = new ActorRegistry({ mailboxMax: config.ACTOR_MAILBOX_MAX })
  const lru = new LruTier({ maxEntries: config.LRU_MAX_ENTRIES, negativeTtlMs: config.NEGATIVE_CACHE_MS, clock })
  // Throws a ConfigError when API_KEYS_FILE cannot be used: the service does not start open by accident.
  const keys = authRequired(config) ? new ApiKeys(loadKeys(config, options.readText)) : undefined
  const limiter =
    config.RATE_LIMIT_PER_SECOND > 0 ? new RateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST, maxClients: config.RATE_LIMIT_CLIENTS, clock }) : undefined
  const deadlines = config.REQUEST_TIMEOUT_MS > 0 ? new Deadlines(clock, config.REQUEST_TIMEOUT_MS) : undefined
  const socketAddress = options.clientAddress ?? (() => undefined)
  const metrics = new Metrics({
    lruSize: () => lru.size,
    lruStats: () => lru.stats,
    actorsInFlight: () => actors.size,
    apiKeys: () => keys?.size ?? 0,
    rateLimitClients: () => limiter?.size ?? 0,
  })
  const store = new SqliteStore({ path: config.SQLITE_PATH, synchronous: config.SQLITE_SYNCHRONOUS })
  const journal = new GroupCommitJournal(store, {
    batchMax: config.COMMIT_BATCH_MAX,
    windowMs: config.COMMIT_WINDOW_MS,
    clock,
    onCommit: (size, seconds) => metrics.observeCommit(size, seconds),
  })
  const records = new Records({ tiers: [lru], journal, store })
  const service = new GuidService({ actors, records, clock, defaultTtlSeconds: config.DEFAULT_TTL_SECONDS })
  const readiness = new Readiness([{ name: store.name, check: () => store.ping() }])
  const sweeper = new Sweeper(store, { intervalMs: config.SWEEP_INTERVAL_MS, batch: config.SWEEP_BATCH, clock, logger, onSwept: (n) => metrics.sweptTotal.inc(n) })
  const app = createApp({
    service,
    metrics,
    readiness,
    logger,
    keys,
    authOpsEndpoints: config.AUTH_OPS_ENDPOINTS,
    limiter,
    deadlines,
    cors: config.CORS_ORIGINS === undefined ? undefined : new Cors(config.CORS_ORIGINS),
    maxHeaderBytes: config.MAX_HEADER_BYTES,
    clientAddress: config.TRUST_PROXY ? behindProxy(socketAddress) : socketAddress,
  })

  const start = (): void => {
    sweeper.start()
    deadlines?.start()
    metrics.process.start()
  }

  const reloadKeys = (): number => {
    if (keys === undefined) return 0
    try {
      keys.replace(loadKeys(config, options.readText))
      metrics.guards.keyReloads++
      return keys.size
    } catch (error) {
      metrics.guards.keyReloadFailures++
      throw error
    }
  }

  const close = async (deadlineMs = config.SHUTDOWN_TIMEOUT_MS): Promise<void> => {
    readiness.draining = true
    const drained = await Promise.race([actors.idle().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), deadlineMs).unref?.())])
    if (!drained) logger.warn({ actors: actors.size }, 'shutdown deadline passed with work in flight')
    deadlines?.stop()
    metrics.process.stop()
    await journal.close()
    await sweeper.stop()
    await store.close()
  }

  return { app, actors, lru, readiness, sweeper, metrics, keys, deadlines, start, reloadKeys, close }
}
