import { Database } from 'bun:sqlite'
import { existsSync, renameSync, rmSync, statSync } from 'node:fs'
import { renewFeedIdentity } from './events'

/** What a backup wrote, for the operator's log line. */
export interface BackupReport {
  source: string
  dest: string
  bytes: number
  /** Rows in the GUID table (live, expired and tombstones: the sweep removes the expired later). */
  rows: number
  /** `PRAGMA integrity_check` of the copy: `ok`, or SQLite's first complaint. */
  integrity: string
  ms: number
}

/**
 * A consistent copy of a SQLite store, taken while the service writes to it. `VACUUM INTO`
 * reads the database inside one read transaction, which in WAL mode sees every transaction
 * committed before it began and none after, and never blocks the writer (WAL readers do not):
 * so the copy holds every write the service acknowledged before the backup started, and no
 * half of a later group commit. It is written beside `dest` and renamed into place only once
 * SQLite's own integrity check passes, so `dest` is never a partial file.
 */
export const backupSqlite = (source: string, dest: string): BackupReport => {
  const started = performance.now()
  if (!existsSync(source)) throw new Error(`no SQLite store at ${source}`)
  if (existsSync(dest)) throw new Error(`${dest} exists; a backup never overwrites a file`)
  const partial = `${dest}.partial`
  rmSync(partial, { force: true })
  // Not readonly: a WAL reader needs the -shm file, which a read-only connection may not open.
  const db = new Database(source, { create: false, strict: true })
  try {
    // Another connection may hold a lock a moment (a commit, a checkpoint); wait for it, never fail on it.
    db.exec('PRAGMA busy_timeout = 10000')
    db.query('VACUUM INTO ?1').run(partial)
  } catch (error) {
    rmSync(partial, { force: true })
    throw error
  } finally {
    db.close()
  }
  // A restored copy is another change feed (its positions would be reissued): a new identity.
  const renamed = new Database(partial, { strict: true })
  try {
    renewFeedIdentity(renamed)
  } finally {
    renamed.close()
  }
  const copy = new Database(partial, { readonly: true, strict: true })
  let integrity: string
  let rows: number
  try {
    integrity = copy
      .query<{ integrity_check: string }, []>('PRAGMA integrity_check')
      .all()
      .map((r) => r.integrity_check)
      .join('; ')
    rows = copy.query<{ n: number }, []>('SELECT count(*) AS n FROM guids').get()?.n ?? 0
  } finally {
    copy.close()
  }
  if (integrity !== 'ok') {
    rmSync(partial, { force: true })
    throw new Error(`the copy of ${source} failed its integrity check: ${integrity}`)
  }
  renameSync(partial, dest)
  return { source, dest, bytes: statSync(dest).size, rows, integrity, ms: Math.round(performance.now() - started) }
}
