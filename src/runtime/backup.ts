import { type BackupReport, backupSqlite } from '../adapters/sqlite/backup'
import type { Config } from './config'

/**
 * `guidd backup <dest>`: a consistent copy of the SQLite store named by SQLITE_PATH, taken
 * while a guidd on that file keeps serving (see src/adapters/sqlite/backup.ts). Only the
 * embedded store is a file guidd can copy: with MONGODB_URL the store is MongoDB's to back up.
 */
export const backupStore = (config: Config, dest: string): BackupReport & { note?: string } => {
  if (config.MONGODB_URL !== undefined) {
    throw new Error("MONGODB_URL is set: the store is MongoDB, back it up with mongodump (or your MongoDB service's backups)")
  }
  const report = backupSqlite(config.SQLITE_PATH, dest)
  // In Redis mode the store trails the journal: what is still in Redis is not in the copy.
  return config.REDIS_URL === undefined ? report : { ...report, note: 'REDIS_URL is set: writes still in the Redis journal are not in this copy (see docs/operations.md)' }
}
