import { reportServerFit } from '../../adapters/mongo/fit'
import { WriteHealth } from '../../ops/write-health'
import type { Config } from '../config'
import type { Mode, ModeDeps } from './mode'
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
}

export const mongoOptions = (config: Config, url: string): MongoModeOptions => ({
  store: mongoStoreOptions(config, url),
  writeConcern: config.MONGODB_WRITE_CONCERN === 'majority' ? 'majority' : Number(config.MONGODB_WRITE_CONCERN),
  lruTtlMs: config.LRU_TTL_MS ?? LRU_TTL_MS,
  eventsRetentionSeconds: config.EVENTS_RETENTION_SECONDS,
})

/**
 * MongoDB-only mode (MONGODB_URL without REDIS_URL): MongoDB is journal and store at once,
 * each write a compare-and-set written through before the reply; no flusher. Reads and the
 * sweeper use the journal's view of the store (outages as 503, claims swept).
 */
export const mongoMode = async (options: MongoModeOptions, deps: ModeDeps): Promise<Mode> => {
  const { lru, clock, logger, lifecycle } = deps
  // The driver is loaded only in the modes that use it.
  const { MongoJournal } = await import('../../adapters/mongo/journal')
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
  })
  lifecycle.onClose('journal', () => journal.close())
  // The change feed: each write's changes ride in its document's outbox; a sequencer gives them positions (adapters/mongo/events.ts).
  const { MongoEventLog } = await import('../../adapters/mongo/events')
  const { MongoStore } = await import('../../adapters/mongo/store')
  if (!(store instanceof MongoStore)) throw new Error('MongoDB-only mode needs the MongoDB store itself')
  const log = new MongoEventLog({
    connected: () => store.connected(),
    clock,
    retentionSeconds: options.eventsRetentionSeconds,
    writeConcern: { w: options.writeConcern, journal: true },
    logger,
  })
  const feed = { log, due: (nowSec: number, limit: number) => log.due(nowSec, limit) }
  return { name: 'mongodb', journal, store: journal.view, sharedWriters: true, checks: [storeCheck(store, health)], feed, latestFromStore: true }
}
