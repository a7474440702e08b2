import { Database, type Statement } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { checkStored, type Mutation, type Stored, type StoredRecord } from '../../domain/model'
import { Checkpointer } from './checkpointer'
import { SqliteEventLog, type SqliteEventLogOptions } from './events'
import { KeptAnswers } from './kept-answers'
import type { ApplyOutcome, Store } from '../../data/store'

export interface SqliteStoreOptions {
  path: string
  /** Checkpoint the WAL on a thread of its own (default); false: SQLite's own inline autocheckpoint. */
  checkpointThread?: boolean
  /** Reports a checkpointer thread failure (the store then checkpoints inline). */
  onCheckpointFailure?: (error: unknown) => void
  /** NORMAL survives a process crash (kill -9); FULL also survives power loss, at an fsync per commit. */
  synchronous: 'NORMAL' | 'FULL'
  /** Page cache in MiB (DEFAULT_CACHE_MIB when not given). */
  cacheMiB?: number
}

/**
 * SQLite's page cache, MiB (its own default is 2). Writes stay fast while the GUID index is in
 * it: ~28 MiB per million stored GUIDs. 32 keeps the index of ~1.1M GUIDs; 64 held its extra
 * 32 MiB (~33 B per GUID at a million) with no faster writes (bench/README.md).
 */
export const DEFAULT_CACHE_MIB = 32

type Row = { user: string | null; expire: number; version: number }

/**
 * Inline checkpoints (no thread) every ~64 MiB of WAL rather than SQLite's 4 MiB: a
 * checkpoint copies each page once however often the WAL rewrote it (40k -> 60k upserts/s
 * with random GUIDs, measured).
 */
const INLINE_CHECKPOINT_PAGES = 16_000

/**
 * Should the checkpoint thread ever fall this far behind (a write rate it cannot rewind the
 * WAL under), the writer rewinds it itself: ~256 MiB of WAL, a stall instead of a WAL that
 * grows without bound.
 */
const WAL_HARD_LIMIT_FRAMES = 65_536

/** A row as the service's type: a tombstone has no user. */
const fromRow = (guid: string, row: Row): unknown =>
  row.user === null ? { guid, version: row.version, expire: row.expire, deleted: true } : { guid, user: row.user, expire: row.expire, version: row.version }

/**
 * SQLite's codes for a fault of the storage beneath it rather than of the statement: the
 * disk is full, the file is read-only, I/O failed, the file is locked, corrupt or gone.
 */
const STORAGE_FAULTS = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_NOMEM', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_PROTOCOL']

/** Whether `error` says the store cannot write now (answer 503 and retry later), not that a write is wrong. */
export const isStorageFault = (error: unknown): boolean => {
  const code = error instanceof Error && error.name === 'SQLiteError' ? (error as { code?: string }).code : undefined
  return code !== undefined && STORAGE_FAULTS.some((fault) => code === fault || code.startsWith(`${fault}_`))
}

/** GUIDs are kept as their 16 bytes: half the index of the hex text (+12% upserts/s, measured). */
const keyOf = (guid: string): Buffer => {
  const key = Buffer.from(guid, 'hex')
  if (key.length !== 16) throw new TypeError(`not a canonical GUID: ${guid}`)
  return key
}

/** Sorts before every GUID's key. */
const NO_KEY = Buffer.alloc(0)

/**
 * `bun:sqlite` in WAL mode. One table, unique on the canonical GUID, an index on
 * `expire` for the sweep and one on `(user, guid)` for the listing; a tombstone is a row whose `user` is NULL. Calls are synchronous underneath, so a
 * batch is one transaction that no other statement interleaves with.
 */
export class SqliteStore implements Store {
  readonly name = 'sqlite'
  readonly checkpointer: Checkpointer | undefined
  /** Idempotency-Key answers, kept in the write's own transaction. */
  readonly kept: KeptAnswers
  private checkpointFailed = false
  private readonly db: Database
  private readonly selectOne: Statement<Row, [Buffer, number]>
  private readonly selectLatest: Statement<Row, [Buffer]>
  private readonly selectUser: Statement<Row & { guid: Uint8Array }, [string, Buffer, number, number]>
  private readonly upsert: Statement<unknown, [Buffer, string | null, number, number]>
  private readonly sweep: Statement<unknown, [number, number]>
  private readonly probe: Statement<unknown, [number]>
  private readonly applyTx: (mutations: readonly Mutation[]) => ApplyOutcome[]
  private readonly due: Statement<{ guid: Buffer }, [number, number]>
  /** The change feed's log (embedded mode): each applied write's changes go in with it, in its transaction. */
  private events: SqliteEventLog | undefined

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true })
    this.db = new Database(options.path, { create: true, strict: true })
    // First: every statement after it waits for a lock another process holds (another
    // instance on the file, a backup), instead of failing at once with SQLITE_BUSY.
    this.db.exec('PRAGMA busy_timeout = 5000')
    this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec(`PRAGMA synchronous = ${options.synchronous}`)
    this.db.exec(`PRAGMA cache_size = -${Math.round((options.cacheMiB ?? DEFAULT_CACHE_MIB) * 1024)}`)
    // The WAL file is truncated back to 64 MiB after a checkpoint.
    this.db.exec('PRAGMA journal_size_limit = 67108864')
    if (options.checkpointThread !== false && options.path !== ':memory:') {
      this.db.exec('PRAGMA wal_autocheckpoint = 0')
      this.checkpointer = new Checkpointer({
        path: options.path,
        intervalMs: 50,
        onFailure: (error) => {
          // Told once: the thread reports every failed attempt (a full disk fails each one).
          if (this.checkpointFailed) return
          this.checkpointFailed = true
          // Never let the WAL grow without bound: fall back to checkpointing inline.
          this.db.exec(`PRAGMA wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`)
          options.onCheckpointFailure?.(error)
        },
      })
    } else this.db.exec(`PRAGMA wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`)
    // A rowid table, not WITHOUT ROWID: the expire index is then (expire, rowid), which new
    // rows append to, instead of (expire, guid), which random GUIDs scatter (2x the
    // upsert rate, measured; see bench/README.md).
    this.db.exec(`CREATE TABLE IF NOT EXISTS guids (
      id INTEGER PRIMARY KEY,
      guid BLOB NOT NULL UNIQUE,
      user TEXT,
      expire INTEGER NOT NULL,
      version INTEGER NOT NULL
    )`)
    this.db.exec('CREATE INDEX IF NOT EXISTS guids_expire ON guids (expire)')
    // The listing's keyset index (GET /guid?user=): a user's GUIDs in order. Partial: a
    // tombstone (user NULL) is never listed. A file from before it gets it at the first open.
    this.db.exec('CREATE INDEX IF NOT EXISTS guids_user ON guids (user, guid) WHERE user IS NOT NULL')
    this.selectOne = this.db.query('SELECT user, expire, version FROM guids WHERE guid = ?1 AND expire > ?2')
    this.selectLatest = this.db.query('SELECT user, expire, version FROM guids WHERE guid = ?1')
    // The 16-byte keys sort as the canonical hex does (digits before A-F); X'' sorts first.
    this.selectUser = this.db.query('SELECT guid, user, expire, version FROM guids WHERE user = ?1 AND guid > ?2 AND expire > ?3 ORDER BY guid LIMIT ?4')
    // Version guard: a put lands when it is newer than what is stored, expired or not (an
    // expired newer state hides the GUID; skipping it would bring the older one back).
    this.upsert = this.db.query(`INSERT INTO guids (guid, user, expire, version) VALUES (?1, ?2, ?3, ?4)
      ON CONFLICT (guid) DO UPDATE SET user = excluded.user, expire = excluded.expire, version = excluded.version
      WHERE excluded.version > guids.version`)
    this.db.exec('CREATE TABLE IF NOT EXISTS write_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)')
    this.probe = this.db.query('INSERT OR REPLACE INTO write_probe (id, at) VALUES (1, ?1)')
    this.sweep = this.db.query('DELETE FROM guids WHERE id IN (SELECT id FROM guids WHERE expire <= ?1 LIMIT ?2)')
    this.kept = new KeptAnswers(this.db)
    this.applyTx = this.db.transaction((mutations: readonly Mutation[]) =>
      mutations.map(({ next, changes, keep }): ApplyOutcome => {
        const user = 'deleted' in next ? null : next.user
        // run() and its change count, not RETURNING: no row to build (+22% upserts/s, measured).
        if (this.upsert.run(keyOf(next.guid), user, next.expire, next.version).changes === 0) return 'stale'
        if (keep !== undefined) this.kept.put(keep)
        if (this.events !== undefined && changes !== undefined) this.events.stage(changes)
        return 'applied'
      }),
    )
    // Records whose expire has passed (tombstones have no user): the expiry sweep's work list.
    this.due = this.db.query('SELECT guid FROM guids WHERE expire <= ?1 AND user IS NOT NULL ORDER BY expire LIMIT ?2')
  }

  async get(guid: string, nowSec: number): Promise<Stored | null> {
    return this.checked(guid, this.selectOne.get(keyOf(guid), nowSec))
  }

  async getLatest(guid: string): Promise<Stored | null> {
    return this.checked(guid, this.selectLatest.get(keyOf(guid)))
  }

  private checked(guid: string, row: Row | null): Stored | null {
    if (row === null) return null
    // Validate what comes out of the file, as we validate what comes in over HTTP.
    const stored = fromRow(guid, row)
    if (!checkStored.Check(stored)) throw new Error(`sqlite: row for ${guid} does not match the record schema`)
    return stored
  }

  async listUser(user: string, after: string | undefined, limit: number, nowSec: number): Promise<StoredRecord[]> {
    return this.selectUser.all(user, after === undefined ? NO_KEY : keyOf(after), nowSec, limit).map((row) => {
      const guid = Buffer.from(row.guid).toString('hex').toUpperCase()
      const stored = fromRow(guid, row)
      if (!checkStored.Check(stored) || 'deleted' in stored) throw new Error(`sqlite: row for ${guid} does not match the record schema`)
      return stored
    })
  }

  /** Synchronous batch: one transaction, committed (WAL) when this returns. */
  applyBatchSync(mutations: readonly Mutation[]): ApplyOutcome[] {
    if (this.checkpointer !== undefined && this.checkpointer.walFrames >= WAL_HARD_LIMIT_FRAMES) {
      this.db.query('PRAGMA wal_checkpoint(RESTART)').get()
      this.checkpointer.walFrames = 0
    }
    if (this.events === undefined) return this.applyTx(mutations)
    try {
      const outcomes = this.applyTx(mutations)
      this.events.committed()
      return outcomes
    } catch (error) {
      this.events.rolledBack()
      throw error
    }
  }

  /** Keeps the change feed's log in this file, written with each batch (embedded mode). */
  openEventLog(options: SqliteEventLogOptions): SqliteEventLog {
    this.events ??= new SqliteEventLog(this.db, options)
    return this.events
  }

  /** GUIDs whose record's expire is at or before `nowSec` (not yet replaced by a tombstone), soonest first. */
  async dueExpiries(nowSec: number, limit: number): Promise<string[]> {
    return this.due.all(nowSec, limit).map((row) => Buffer.from(row.guid).toString('hex').toUpperCase())
  }

  async applyBatch(mutations: readonly Mutation[]): Promise<ApplyOutcome[]> {
    await this.writesHeld
    return this.applyBatchSync(mutations)
  }

  /**
   * While the checkpoint thread catches up with the WAL so that the next commit rewinds it,
   * writers wait for this (a promise, so the event loop goes on); undefined: write now.
   * `applyBatch` waits by itself; a caller of `applyBatchSync` should wait first.
   */
  get writesHeld(): Promise<void> | undefined {
    return this.checkpointer?.writesHeld
  }

  /** Expired records and tombstones (counted), and expired Idempotency-Key answers. */
  async sweepExpired(nowSec: number, limit: number): Promise<number> {
    this.kept.sweep(nowSec, limit)
    return this.sweep.run(nowSec, limit).changes
  }

  /** One small real write: whether the file takes writes again after a storage fault. */
  async probeWrite(): Promise<void> {
    this.probe.run(Date.now())
  }

  async ping(): Promise<void> {
    this.db.query('SELECT 1').get()
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop()
    this.db.close()
  }
}
