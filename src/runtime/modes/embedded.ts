import { GroupCommitJournal } from '../../adapters/sqlite/group-commit'
import { SqliteStore } from '../../adapters/sqlite/store'
import { WriteHealth } from '../../ops/write-health'
import type { Mode, ModeDeps } from './mode'
import { openSqliteStore } from './open-store'
import { storeCheck } from './store-check'

/** Embedded default (no REDIS_URL, no MONGODB_URL): SQLite is journal and store at once, written in group commits. */
export const embeddedMode = (deps: ModeDeps): Mode => {
  const { config, clock, logger, metrics, lifecycle } = deps
  const store = deps.store ?? openSqliteStore(config, logger)
  lifecycle.onClose('store', () => store.close())
  if (!(store instanceof SqliteStore)) throw new Error('the embedded journal needs the SQLite store itself')
  // Writes that fail for a fault of the storage (disk full, I/O error, read-only) make the
  // store "not ready" until a write (or the readiness probe's write) succeeds again.
  const health = new WriteHealth(store.name, logger, () => store.probeWrite(), clock)
  const journal = new GroupCommitJournal(store, {
    batchMax: config.COMMIT_BATCH_MAX,
    windowMs: config.COMMIT_WINDOW_MS,
    clock,
    onCommit: (size, seconds) => metrics.observeCommit(size, seconds),
    health,
  })
  lifecycle.onClose('journal', () => journal.close())
  // The change feed's log lives in the same file, written in the same transactions.
  const log = store.openEventLog({ clock, retentionSeconds: config.EVENTS_RETENTION_SECONDS })
  const feed = { log, due: (nowSec: number, limit: number) => store.dueExpiries(nowSec, limit) }
  return { name: 'embedded', journal, store, sharedWriters: false, checks: [storeCheck(store, health)], feed, latestFromStore: true }
}
