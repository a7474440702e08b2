import type { Config } from './config'
import { SqliteStore } from '../adapters/sqlite/store'
import type { Store } from '../data/store'

/** The durable store the configuration names: MongoDB when MONGODB_URL is set, else SQLite. */
export const openStore = async (config: Config, onCheckpointFailure?: (error: unknown) => void): Promise<Store> => {
  if (config.MONGODB_URL !== undefined) {
    const { MongoStore } = await import('../adapters/mongo/store')
    // Bounded server selection, so /readyz and requests answer 503 within seconds, not 30 s.
    // Durability of an acknowledged flush needs w=majority with journaling: the URL sets it
    // (the default on replica sets without arbiters since MongoDB 5.0).
    return MongoStore.open({ url: config.MONGODB_URL, dbName: config.MONGODB_DB, clientOptions: { serverSelectionTimeoutMS: 3_000 } })
  }
  return new SqliteStore({ path: config.SQLITE_PATH, synchronous: config.SQLITE_SYNCHRONOUS, onCheckpointFailure })
}
