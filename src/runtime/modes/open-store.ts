import { DRIVER_TIMEOUTS, unlessInUrl } from '../../adapters/mongo/client-options'
import { SqliteStore } from '../../adapters/sqlite/store'
import type { Store } from '../../data/store'
import type { Logger } from '../../ops/logger'
import type { Config } from '../config'

/** What the SQLite store reads of the configuration. */
export interface SqliteOptions {
  kind: 'sqlite'
  path: string
  synchronous: Config['SQLITE_SYNCHRONOUS']
  cacheMiB: number
}

/** What the MongoDB store reads of the configuration. */
export interface MongoStoreOptions {
  kind: 'mongodb'
  url: string
  dbName: string
}

export type StoreOptions = SqliteOptions | MongoStoreOptions

export const sqliteOptions = (config: Config): SqliteOptions => ({ kind: 'sqlite', path: config.SQLITE_PATH, synchronous: config.SQLITE_SYNCHRONOUS, cacheMiB: config.SQLITE_CACHE_MIB })

export const mongoStoreOptions = (config: Config, url: string): MongoStoreOptions => ({ kind: 'mongodb', url, dbName: config.MONGODB_DB })

export const openSqliteStore = (options: SqliteOptions, logger: Logger): SqliteStore =>
  new SqliteStore({
    path: options.path,
    synchronous: options.synchronous,
    cacheMiB: options.cacheMiB,
    onCheckpointFailure: (error) => logger.error({ err: error }, 'SQLite checkpoint thread failed; checkpointing inline'),
  })

/** The MongoDB store; the driver is loaded only by the modes that use it. */
export const openMongoStore = async (options: MongoStoreOptions, logger: Logger) => {
  const { MongoStore } = await import('../../adapters/mongo/store')
  // Durability of an acknowledged flush needs w=majority with journaling: the URL sets it (the
  // default on replica sets without arbiters since MongoDB 5.0).
  return MongoStore.open({
    url: options.url,
    dbName: options.dbName,
    clientOptions: unlessInUrl(options.url, DRIVER_TIMEOUTS),
    onMonitorStuck: ({ address, lateMs }) =>
      logger.warn({ server: address, lateMs: Math.round(lateMs) }, "MongoDB driver's monitor stuck on a heartbeat past its own timeout; reconnecting the client"),
    onCheckoutStuck: ({ address, connectionId, lateMs, ended }) =>
      logger.warn(
        { server: address, connectionId, lateMs: Math.round(lateMs), ended },
        ended ? 'a MongoDB operation got no answer past the socket timeout; its connection ended' : 'a MongoDB operation got no answer past the socket timeout, and its connection could not be ended',
      ),
  })
}

export const openStore = async (options: StoreOptions, logger: Logger): Promise<Store> => (options.kind === 'sqlite' ? openSqliteStore(options, logger) : openMongoStore(options, logger))
