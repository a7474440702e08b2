import { reportServerFit } from '../../adapters/mongo/fit'
import { WriteHealth } from '../../ops/write-health'
import type { Config } from '../config'
import type { MongoStore } from '../../adapters/mongo/store'
import type { Mode, ModeDeps } from './mode'
import { idempotencyLeaseMs } from './idempotency-lease'
import { type MongoStoreOptions, mongoStoreOptions, openMongoStore } from './open-store'
import { storeCheck } from './store-check'

/**
 * LRU entry lifetime in this mode when LRU_TTL_MS is unset: no invalidation reaches an
 * instance, so a short lifetime bounds how long its LRU serves a GUID another instance changed.
 */
const LRU_TTL_MS = 1_000

export interface MongoModeOptions {
  store: MongoStoreOptions
  /** The `w` of each write's write concern ('majority' or a number of members), always journaled. */
  writeConcern: 'majority' | number
  lruTtlMs: number
  /** EVENTS_RETENTION_SECONDS: how long the change feed keeps events. */
  eventsRetentionSeconds: number
  /** How long an Idempotency-Key claim holds without an answer (idempotency-lease.ts). */
  idempotencyLeaseMs: number
  /** IDEMPOTENCY_TTL_SECONDS: how long a key's document lives. */
  idempotencyTtlSeconds: number
}

export const mongoOptions = (config: Config, url: string): MongoModeOptions => ({
  store: mongoStoreOptions(config, url),
  writeConcern: config.MONGODB_WRITE_CONCERN === 'majority' ? 'majority' : Number(config.MONGODB_WRITE_CONCERN),
  lruTtlMs: config.LRU_TTL_MS ?? LRU_TTL_MS,
  eventsRetentionSeconds: config.EVENTS_RETENTION_SECONDS,
  idempotencyLeaseMs: idempotencyLeaseMs(config),
  idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
})

/**
 * MongoDB-only mode (MONGODB_URL without REDIS_URL): MongoDB is journal and store at once,
 * each write a compare-and-set written through before the reply; no flusher. Reads and the
 * sweeper use the journal's view of the store (outages as 503, claims swept).
 */
export const mongoMode = async (options: MongoModeOptions, deps: ModeDeps): Promise<Mode> => {
  const { lru, clock, logger, lifecycle } = deps
  // The driver is loaded only in the modes that use it.
  const [{ MongoJournal }, { MongoIdempotency }] = await Promise.all([import('../../adapters/mongo/journal'), import('../../adapters/mongo/idempotency')])
  const store = deps.store ?? (await openMongoStore(options.store, logger))
  lifecycle.onClose('store', () => store.close())
  reportServerFit(store, deps.metrics.registry, logger)
  // Writes that fail for a fault of MongoDB make it "not ready" until a write (or the probe's) succeeds again.
  const health = new WriteHealth(store.name, logger, () => journal.probeWrite(), clock)
  const journal = MongoJournal.over(store, {
    w: options.writeConcern,
    clock,
    health,
    uncertain: (guid) => lru.forget(guid),
    // A keyed write's trace lives as long as its claim may be taken over.
    traceKeepMs: options.idempotencyLeaseMs + options.idempotencyTtlSeconds * 1000,
  })
  lifecycle.onClose('journal', () => journal.close())
  // MongoJournal.over has checked that the store is the MongoDB store itself.
  const idempotency = new MongoIdempotency(store as MongoStore, {
    clock,
    writeConcern: { w: options.writeConcern, journal: true },
    leaseMs: options.idempotencyLeaseMs,
    ttlSeconds: options.idempotencyTtlSeconds,
  })
  const view = journal.view
  // The sweep also deletes expired Idempotency-Key documents.
  const swept = {
    ...view,
    sweepExpired: async (nowSec: number, limit: number) => {
      const n = await view.sweepExpired(nowSec, limit)
      await idempotency.sweep(nowSec, limit)
      return n
    },
  }
  // The change feed: each write's changes ride in its document's outbox; a sequencer gives them positions (adapters/mongo/events.ts).
  const { MongoEventLog } = await import('../../adapters/mongo/events')
  const log = new MongoEventLog({
    connected: () => (store as MongoStore).connected(),
    clock,
    retentionSeconds: options.eventsRetentionSeconds,
    writeConcern: { w: options.writeConcern, journal: true },
    logger,
  })
  const feed = { log, due: (nowSec: number, limit: number) => log.due(nowSec, limit) }
  return { name: 'mongodb', journal, store: swept, idempotency, sharedWriters: true, checks: [storeCheck(store, health)], feed, latestFromStore: true }
}
