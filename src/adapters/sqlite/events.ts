import type { Database, Statement } from 'bun:sqlite'
import type { Change, ChangeType } from '../../domain/model'
import type { Clock } from '../../domain/clock'
import { badPosition, type EventLog, type FeedPage, feedGone, type LoggedChange } from '../../data/feed'

type EventRow = { pos: number; type: ChangeType; guid: string; version: number; user: string; expire: number | null }

/**
 * Gives a copy of a store (a backup) a change feed of its own. Restored, it has lost the writes
 * made after the copy, and its positions past the copy's newest event would be reissued to other
 * events: under a new log id, the old log's positions up to the copy's newest event (`fork`)
 * still name the same events and stay valid; the old log's later positions are `410`, so a
 * consumer that saw a lost write lists again instead of missing the reissued positions.
 */
export const renewFeedIdentity = (db: Database): void => {
  const hasFeed = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feed_meta'").get() !== null
  if (!hasFeed) return
  const parent = db.query<{ v: string }, []>("SELECT v FROM feed_meta WHERE k = 'log'").get()?.v
  const fork = db.query<{ seq: number | null }, []>("SELECT max(seq) AS seq FROM sqlite_sequence WHERE name = 'events'").get()?.seq ?? 0
  db.query("INSERT OR REPLACE INTO feed_meta (k, v) VALUES ('parent', ?1), ('fork', ?2)").run(parent ?? '', fork)
  db.query("UPDATE feed_meta SET v = ?1 WHERE k = 'log'").run(crypto.randomUUID().slice(0, 8))
}

/** Events the trim looks at per step, oldest first. */
const TRIM_SCAN = 50_000
/** Events one DELETE of the trim removes at most. */
const TRIM_STEP = 5_000

export interface SqliteEventLogOptions {
  clock: Clock
  retentionSeconds: number
}

/**
 * The embedded change log: a table in the store's own file, written in the same transaction as
 * the writes it tells (SqliteStore.applyBatchSync), so an event exists exactly when its write
 * does. Positions are `<log>.<n>`: `n` the row's AUTOINCREMENT key (ordered, never reused, even
 * after a trim); `<log>` names this log, so a position from another file (a replaced store) is
 * gone (410), not misread as one of this log's.
 */
export class SqliteEventLog implements EventLog {
  private readonly logId: string
  /** The log this one was restored from (renewFeedIdentity), whose positions up to `fork` are this log's too. */
  private readonly parent: string | undefined
  private readonly fork: number
  private readonly insert: Statement<unknown, [number, string, string, number, string, number | null]>
  private readonly oldestBatch: Statement<{ pos: number | null; newest: number | null }, [number, number, number]>
  private readonly after: Statement<EventRow, [number, number]>
  private readonly newest: Statement<{ pos: number | null }, []>
  private readonly trimStmt: Statement<unknown, [number]>
  private readonly trimmedStmt: Statement<{ v: number }, []>
  private readonly setTrimmed: Statement<unknown, [number]>
  /** Events written by the transaction under way, delivered once it commits. */
  private staged: LoggedChange[] = []
  private readonly followers = new Set<(events: LoggedChange[]) => void>()

  constructor(
    db: Database,
    private readonly options: SqliteEventLogOptions,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS events (
      pos INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      type TEXT NOT NULL,
      guid TEXT NOT NULL,
      version INTEGER NOT NULL,
      user TEXT NOT NULL,
      expire INTEGER
    )`)
    // No index on `at`: an index costs every write a second B-tree insert, and the trim walks
    // the oldest rows by key instead (positions and times rise together).
    db.exec('CREATE TABLE IF NOT EXISTS feed_meta (k TEXT PRIMARY KEY, v) WITHOUT ROWID')
    db.query("INSERT OR IGNORE INTO feed_meta (k, v) VALUES ('log', ?1)").run(crypto.randomUUID().slice(0, 8))
    db.query("INSERT OR IGNORE INTO feed_meta (k, v) VALUES ('trimmed', 0)").run()
    this.logId = db.query<{ v: string }, []>("SELECT v FROM feed_meta WHERE k = 'log'").get()!.v
    this.parent = db.query<{ v: string }, []>("SELECT v FROM feed_meta WHERE k = 'parent'").get()?.v
    this.fork = Number(db.query<{ v: number }, []>("SELECT v FROM feed_meta WHERE k = 'fork'").get()?.v ?? 0)
    this.insert = db.query('INSERT INTO events (at, type, guid, version, user, expire) VALUES (?1, ?2, ?3, ?4, ?5, ?6)')
    this.after = db.query('SELECT pos, type, guid, version, user, expire FROM events WHERE pos > ?1 ORDER BY pos LIMIT ?2')
    this.newest = db.query("SELECT max(seq) AS pos FROM sqlite_sequence WHERE name = 'events'")
    this.trimStmt = db.query('DELETE FROM events WHERE pos <= ?1')
    // Of the oldest ?3 events after ?2: the newest older than ?1, and the newest of them all.
    this.oldestBatch = db.query('SELECT max(CASE WHEN at < ?1 THEN pos END) AS pos, max(pos) AS newest FROM (SELECT pos, at FROM events WHERE pos > ?2 ORDER BY pos LIMIT ?3)')
    this.trimmedStmt = db.query("SELECT v FROM feed_meta WHERE k = 'trimmed'")
    this.setTrimmed = db.query("UPDATE feed_meta SET v = max(v, ?1) WHERE k = 'trimmed'")
  }

  /** Inside the store's transaction: the changes of one applied write. */
  stage(changes: readonly Change[]): void {
    const at = this.options.clock.now()
    for (const c of changes) {
      const { lastInsertRowid } = this.insert.run(at, c.type, c.guid, c.version, c.user, c.record?.expire ?? null)
      this.staged.push({ type: c.type, guid: c.guid, version: c.version, user: c.user, record: c.record, id: this.position(Number(lastInsertRowid)) })
    }
  }

  /** The transaction committed: its events go to the followers. */
  committed(): void {
    if (this.staged.length === 0) return
    const events = this.staged
    this.staged = []
    for (const deliver of this.followers) deliver(events)
  }

  /** The transaction rolled back: its events never happened. */
  rolledBack(): void {
    this.staged = []
  }

  /** Deletes events older than the retention; returns how many went. Positions below the newest deleted event are gone from then on. */
  async trim(): Promise<number> {
    const cutoff = this.options.clock.now() - this.options.retentionSeconds * 1000
    let newestGone: number | null = null
    for (let from = this.trimmedStmt.get()!.v; ; ) {
      const batch = this.oldestBatch.get(cutoff, from, TRIM_SCAN)
      if (batch?.pos === null || batch?.pos === undefined) break
      newestGone = batch.pos
      // The whole batch was older: the next one may be too.
      if (batch.pos !== batch.newest) break
      from = batch.pos
    }
    if (newestGone === null) return 0
    // Marked first: from now on a position below it is 410, whatever the deletes below have reached.
    const from = this.trimmedStmt.get()!.v
    this.setTrimmed.run(newestGone)
    // In steps, yielding between them: one DELETE of a minute's events at a high write rate
    // would hold the event loop (and every request) for as long as it takes.
    let deleted = 0
    for (let through = Math.min(newestGone, from + TRIM_STEP); ; through = Math.min(newestGone, through + TRIM_STEP)) {
      deleted += this.trimStmt.run(through).changes
      if (through >= newestGone) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    return deleted
  }

  async head(): Promise<string> {
    return this.position(this.newest.get()?.pos ?? 0)
  }

  async first(): Promise<string> {
    return this.position(this.trimmedStmt.get()!.v)
  }

  async read(after: string, limit: number): Promise<FeedPage> {
    const pos = this.parse(after)
    // Another log's, trimmed, or past the newest ever written (a position from before a restore).
    if (pos === undefined || pos < this.trimmedStmt.get()!.v || pos > (this.newest.get()?.pos ?? 0)) throw feedGone(after, this.options.retentionSeconds)
    const events = this.after.all(pos, limit).map((row) => this.toEvent(row))
    return { events, next: events.length === 0 ? after : events[events.length - 1]!.id }
  }

  normalise(position: string): string {
    const pos = this.parse(position)
    return pos === undefined ? position : this.position(pos)
  }

  compare(a: string, b: string): number {
    return (this.parse(a) ?? -1) - (this.parse(b) ?? -1)
  }

  follow(_from: string, deliver: (events: LoggedChange[]) => void): { stop(): Promise<void> } {
    // Every event after the head is written by this process and delivered on commit.
    this.followers.add(deliver)
    return { stop: async () => void this.followers.delete(deliver) }
  }

  private position(pos: number): string {
    return `${this.logId}.${pos}`
  }

  /** The row key of one of this log's positions (or of its parent's up to the fork); undefined for another log's; throws for what is not a position. */
  private parse(position: string): number | undefined {
    const match = /^([0-9a-f]{8})\.(0|[1-9][0-9]{0,15})$/.exec(position)
    if (match === null) throw badPosition(position)
    const pos = Number(match[2])
    if (match[1] === this.logId) return pos
    return match[1] === this.parent && pos <= this.fork ? pos : undefined
  }

  private toEvent(row: EventRow): LoggedChange {
    const event: LoggedChange = { id: this.position(row.pos), type: row.type, guid: row.guid, version: row.version, user: row.user }
    if (row.expire !== null) event.record = { guid: row.guid, user: row.user, expire: row.expire, version: row.version }
    return event
  }
}
