import { reportServerFit } from '../../adapters/mongo/fit'
import { MongoJournal } from '../../adapters/mongo/journal'
import { WriteHealth } from '../../ops/write-health'
import type { Mode, ModeDeps } from './mode'
import { openMongoStore } from './open-store'
import { storeCheck } from './store-check'

/**
 * MongoDB-only mode (MONGODB_URL without REDIS_URL): MongoDB is journal and store at once,
 * each write a compare-and-set written through before the reply; no flusher. Reads and the
 * sweeper use the journal's view of the store (outages as 503, claims swept).
 */
export const mongoMode = async (deps: ModeDeps & { url: string }): Promise<Mode> => {
  const { config, lru, clock, logger, lifecycle } = deps
  const store = deps.store ?? (await openMongoStore({ ...config, MONGODB_URL: deps.url }, logger))
  lifecycle.onClose('store', () => store.close())
  reportServerFit(store, deps.metrics.registry, logger)
  // Writes that fail for a fault of MongoDB make it "not ready" until a write (or the probe's) succeeds again.
  const health = new WriteHealth(store.name, logger, () => journal.probeWrite(), clock)
  const journal = MongoJournal.over(store, {
    w: config.MONGODB_WRITE_CONCERN === 'majority' ? 'majority' : Number(config.MONGODB_WRITE_CONCERN),
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
    retentionSeconds: config.EVENTS_RETENTION_SECONDS,
    writeConcern: { w: config.MONGODB_WRITE_CONCERN === 'majority' ? 'majority' : Number(config.MONGODB_WRITE_CONCERN), journal: true },
    logger,
  })
  const feed = { log, due: (nowSec: number, limit: number) => log.due(nowSec, limit) }
  return { name: 'mongodb', journal, store: journal.view, sharedWriters: true, checks: [storeCheck(store, health)], feed, latestFromStore: true }
}
