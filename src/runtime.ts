import { ActorRegistry } from './actors/registry'
import { type App, createApp } from './app'
import { LruTier } from './cache/lru'
import { type Clock, systemClock } from './clock'
import type { Config } from './config'
import { GuidService } from './guid/service'
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
  /** Drains in order: actors, journal, background loops, store. Bounded by `deadlineMs`. */
  close(deadlineMs?: number): Promise<void>
}

export interface RuntimeOptions {
  clock?: Clock
  logger: Logger
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
  const metrics = new Metrics({ lruSize: () => lru.size, lruStats: () => lru.stats, actorsInFlight: () => actors.size })
  const store = new SqliteStore({ path: config.SQLITE_PATH, synchronous: config.SQLITE_SYNCHRONOUS })
  const journal = new GroupCommitJournal(store, {
    batchMax: config.COMMIT_BATCH_MAX,
    windowMs: config.COMMIT_WINDOW_MS,
    clock,
    onCommit: (size, seconds) => metrics.observeCommit(size, seconds),
  })
  const records = new Records({ tiers: [lru], journal, store })
  const service = new GuidService({ actors, records, clock, defaultTtlSeconds: config.DEFAULT_TTL_SECONDS, tombstoneTtlSeconds: config.TOMBSTONE_TTL_SECONDS })
  const readiness = new Readiness([{ name: store.name, check: () => store.ping() }])
  const sweeper = new Sweeper(store, { intervalMs: config.SWEEP_INTERVAL_MS, batch: config.SWEEP_BATCH, clock, logger, onSwept: (n) => metrics.sweptTotal.inc(n) })
  const app = createApp({ service, metrics, readiness, logger })

  const close = async (deadlineMs = config.SHUTDOWN_TIMEOUT_MS): Promise<void> => {
    readiness.draining = true
    const drained = await Promise.race([actors.idle().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), deadlineMs).unref?.())])
    if (!drained) logger.warn({ actors: actors.size }, 'shutdown deadline passed with work in flight')
    await journal.close()
    await sweeper.stop()
    await store.close()
  }

  return { app, actors, lru, readiness, sweeper, close }
}
