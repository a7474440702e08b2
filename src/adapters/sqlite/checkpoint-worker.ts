/// <reference lib="webworker" />
/**
 * The SQLite checkpointer's thread: its own connection to the database file, copying WAL
 * pages back into it on a timer, so that the copying and its fsyncs happen off the request
 * thread. Messages in: {path, intervalMs} to start, 'quiet', 'stop'. Out: 'started',
 * 'checkpointed', 'wal-full', 'caught-up', 'error', 'stopped'.
 *
 * PASSIVE checkpoints never block the writer, but under a steady write load they never
 * catch up with it either (the writer appends while they copy), and SQLite only rewinds the
 * WAL once a checkpoint has copied every frame: the WAL grew to 1.5 GB in a 20 s benchmark,
 * and every lookup in it slowed. A RESTART checkpoint rewinds it, but holds the writer lock
 * while it copies, fsyncs and waits for readers, and the request thread's commit then sleeps
 * in SQLite's busy handler (1, 2, 5, 10 ms ...), event loop and all: a 3.5 ms RESTART cost a
 * commit 8.8 ms, a 20 ms one 35 ms.
 *
 * So once the WAL holds REWIND_FRAMES, this thread asks the request thread to hold its
 * commits ('wal-full'); the request thread answers 'quiet' at once (it holds them without
 * blocking: they wait as promises), and a PASSIVE checkpoint with no writer beside it copies
 * the frames added since the last one and catches up. The writer's next commit then starts
 * the WAL over by itself (SQLite does this when a write begins on a fully copied WAL), and
 * nobody waits in a busy handler. A reader that keeps an old snapshot (`guidd backup`'s
 * VACUUM INTO) keeps the WAL from being copied past it: the catch-up then ends undone, the
 * WAL grows until the reader is gone, and asking waits RETRY_MS. No RESTART is run: it would
 * hold the writer lock for as long as that reader reads, and every commit with it.
 */
import { Database } from 'bun:sqlite'

declare const self: Worker

/** ~16 MiB of 4 KiB pages. */
const REWIND_FRAMES = 4_096
/** After a catch-up that could not copy the whole WAL (a reader's old snapshot), the next ask waits this long. */
const RETRY_MS = 500

type Checkpoint = { busy: number; log: number; checkpointed: number }

let db: Database | null = null
let timer: ReturnType<typeof setInterval> | null = null
/** 'wal-full' was posted and 'quiet' has not come yet: periodic checkpoints wait. */
let asked = false
/** No 'wal-full' before this (performance.now()). */
let askAfter = 0

const passive = (): Checkpoint | null => db!.query('PRAGMA wal_checkpoint(PASSIVE)').get() as Checkpoint | null

const checkpoint = (ask = true) => {
  if (db === null || asked) return
  try {
    const row = passive()
    if (ask && row !== null && row.log >= REWIND_FRAMES && performance.now() >= askAfter) {
      asked = true
      self.postMessage({ type: 'wal-full', log: row.log })
    }
    self.postMessage({ type: 'checkpointed', pages: row?.checkpointed ?? 0, log: row?.log ?? 0 })
  } catch (error) {
    self.postMessage({ type: 'error', message: (error as Error).message })
  }
}

/** The request thread holds its commits: copy what is left while nothing is appended. */
const catchUp = () => {
  asked = false
  if (db === null) return
  try {
    const row = passive()
    const done = row !== null && row.busy === 0 && row.checkpointed === row.log
    if (!done) askAfter = performance.now() + RETRY_MS
    self.postMessage({ type: 'caught-up', pages: row?.checkpointed ?? 0, log: row?.log ?? 0, done })
  } catch (error) {
    self.postMessage({ type: 'caught-up', pages: 0, log: 0 })
    self.postMessage({ type: 'error', message: (error as Error).message })
  }
}

self.onmessage = (event: MessageEvent<{ path: string; intervalMs: number } | 'quiet' | 'stop'>) => {
  if (event.data === 'quiet') return catchUp()
  if (event.data === 'stop') {
    if (timer !== null) clearInterval(timer)
    asked = false
    checkpoint(false)
    db?.close()
    db = null
    self.postMessage({ type: 'stopped' })
    return
  }
  db = new Database(event.data.path)
  db.exec('PRAGMA busy_timeout = 5000')
  timer = setInterval(() => checkpoint(), event.data.intervalMs)
  self.postMessage({ type: 'started' })
}
