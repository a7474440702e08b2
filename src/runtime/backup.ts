import { type BackupReport, backupSqlite } from '../adapters/sqlite/backup'
import type { Config } from './config'
import { chooseMode } from './modes/choose'

/**
 * `guidd backup <dest>`: a consistent copy of the SQLite store named by SQLITE_PATH, taken
 * while a guidd on that file keeps serving (see src/adapters/sqlite/backup.ts). Only the
 * embedded store is a file guidd can copy: with MONGODB_URL the store is MongoDB's to back up.
 */
export const backupStore = (config: Config, dest: string): BackupReport & { note?: string } => {
  // The store is the one the mode the configuration names would open (modes/choose.ts).
  const choice = chooseMode(config)
  const store = choice.name === 'embedded' ? choice.options.sqlite : choice.options.store
  if (store.kind === 'mongodb') {
    throw new Error("MONGODB_URL is set: the store is MongoDB, back it up with mongodump (or your MongoDB service's backups)")
  }
  const report = backupSqlite(store.path, dest)
  // In Redis mode the store trails the journal: what is still in Redis is not in the copy.
  return choice.name === 'redis' || choice.name === 'redis-cluster'
    ? { ...report, note: `${choice.name === 'redis' ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES'} is set: writes still in the Redis journal are not in this copy (see docs/operations.md)` }
    : report
}
