import { DRIVER_TIMEOUTS, unlessInUrl } from '../../adapters/mongo/client-options'
import { SqliteStore } from '../../adapters/sqlite/store'
import type { Store } from '../../data/store'
import type { Logger } from '../../ops/logger'
import type { Config } from '../config'

export const openSqliteStore = (config: Config, logger: Logger): SqliteStore =>
  new SqliteStore({
    path: config.SQLITE_PATH,
    synchronous: config.SQLITE_SYNCHRONOUS,
    cacheMiB: config.SQLITE_CACHE_MIB,
    onCheckpointFailure: (error) => logger.error({ err: error }, 'SQLite checkpoint thread failed; checkpointing inline'),
  })

/** The MongoDB store; the driver is loaded only by the modes that use it. */
export const openMongoStore = async (config: Config & { MONGODB_URL: string }, logger: Logger) => {
  const { MongoStore } = await import('../../adapters/mongo/store')
  // Durability of an acknowledged flush needs w=majority with journaling: the URL sets it (the
  // default on replica sets without arbiters since MongoDB 5.0).
  return MongoStore.open({
    url: config.MONGODB_URL,
    dbName: config.MONGODB_DB,
    clientOptions: unlessInUrl(config.MONGODB_URL, DRIVER_TIMEOUTS),
    onMonitorStuck: ({ address, lateMs }) =>
      logger.warn({ server: address, lateMs: Math.round(lateMs) }, "MongoDB driver's monitor stuck on a heartbeat past its own timeout; reconnecting the client"),
  })
}

/** The flusher's store in Redis mode: MongoDB when MONGODB_URL is set, else SQLite. */
export const openDurableStore = async (config: Config, logger: Logger): Promise<Store> =>
  config.MONGODB_URL === undefined ? openSqliteStore(config, logger) : openMongoStore({ ...config, MONGODB_URL: config.MONGODB_URL }, logger)
