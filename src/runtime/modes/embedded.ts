import { GroupCommitJournal } from '../../adapters/sqlite/group-commit'
import { SqliteIdempotency } from '../../adapters/sqlite/idempotency'
import { SqliteStore } from '../../adapters/sqlite/store'
import { WriteHealth } from '../../ops/write-health'
import type { Config } from '../config'
import type { Mode, ModeDeps } from './mode'
import { openSqliteStore, type SqliteOptions, sqliteOptions } from './open-store'
import { storeCheck } from './store-check'

export interface EmbeddedOptions {
  sqlite: SqliteOptions
  /** Most mutations per SQLite transaction. */
  commitBatchMax: number
  /** How long a group commit waits for company. */
  commitWindowMs: number
  /** LRU entry lifetime; 0 = until evicted (this instance is the only writer). */
  lruTtlMs: number
  /** EVENTS_RETENTION_SECONDS: how long the change feed keeps events. */
  eventsRetentionSeconds: number
  /** False: no change feed, writes record no events (the feed bench's baseline; no setting selects it). */
  feed: boolean
}

export const embeddedOptions = (config: Config): EmbeddedOptions => ({
  sqlite: sqliteOptions(config),
  commitBatchMax: config.COMMIT_BATCH_MAX,
  commitWindowMs: config.COMMIT_WINDOW_MS,
  lruTtlMs: config.LRU_TTL_MS ?? 0,
  eventsRetentionSeconds: config.EVENTS_RETENTION_SECONDS,
  feed: true,
})

/** Embedded default (no REDIS_URL, no MONGODB_URL): SQLite is journal and store at once, written in group commits. */
export const embeddedMode = (options: EmbeddedOptions, deps: ModeDeps): Mode => {
  const { clock, logger, metrics, lifecycle } = deps
  const store = deps.store ?? openSqliteStore(options.sqlite, logger)
  lifecycle.onClose('store', () => store.close())
  if (!(store instanceof SqliteStore)) throw new Error('the embedded journal needs the SQLite store itself')
  if (store.checkpointer !== undefined) metrics.watchWalRewinds(store.checkpointer)
  // Writes that fail for a fault of the storage (disk full, I/O error, read-only) make the
  // store "not ready" until a write (or the readiness probe's write) succeeds again.
  const health = new WriteHealth(store.name, logger, () => store.probeWrite(), clock)
  const journal = new GroupCommitJournal(store, {
    batchMax: options.commitBatchMax,
    windowMs: options.commitWindowMs,
    clock,
    onCommit: (size, seconds) => metrics.observeCommit(size, seconds),
    health,
  })
  lifecycle.onClose('journal', () => journal.close())
  const idempotency = new SqliteIdempotency(store.kept, clock, health)
  // The change feed's log lives in the same file, written in the same transactions.
  const feed = options.feed
    ? { log: store.openEventLog({ clock, retentionSeconds: options.eventsRetentionSeconds }), due: (nowSec: number, limit: number) => store.dueExpiries(nowSec, limit) }
    : undefined
  return { name: 'embedded', journal, store, idempotency, sharedWriters: false, checks: [storeCheck(store, health)], feed, latestFromStore: true }
}
