import type { Registry } from 'prom-client'
import { registerCollector } from '../../ops/collector'
import type { Logger } from '../../ops/logger'
import type { MongoServerFit } from './store'
import type { Store } from '../../data/store'

/**
 * Says, once at start, what a MongoDB-compatible server lacks and what guidd does instead
 * (mongo.ts MongoServerFit), and exports `guidd_store_ttl_index{store="mongodb"}`: 1 while a
 * TTL index deletes expired documents, 0 where the server refused one and the sweeper
 * (SWEEP_INTERVAL_MS, SWEEP_BATCH) alone does. Does nothing for any other store.
 */
export const reportServerFit = (store: Store, registry: Registry, logger: Logger): void => {
  // A type-only look at MongoStore, so the embedded mode never loads the driver.
  const fit = 'server' in store ? (store.server as MongoServerFit | undefined) : undefined
  if (fit === undefined) return
  if (!fit.ttlIndex) logger.warn({ reason: fit.ttlRefused ?? 'an index without expireAfterSeconds is there' }, `${store.name}: no TTL index on expireAt; the sweeper alone deletes expired documents`)
  if (fit.writes === 'one-by-one') logger.warn(`${store.name}: the server does not account for every write of an unordered bulkWrite; writing one per command`)
  registerCollector(registry, 'guidd_store_ttl_index', 'Whether a TTL index deletes expired documents in the store (1), or only the sweeper does (0).', 'gauge', () => [
    { value: fit.ttlIndex ? 1 : 0, labels: { store: store.name } },
  ])
}
