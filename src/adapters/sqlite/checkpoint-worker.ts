/// <reference lib="webworker" />
/**
 * The SQLite checkpointer's thread: its own connection to the database file, copying WAL
 * pages back into it on a timer, so that the copying and its fsync happen off the request
 * thread. Messages: {path, intervalMs} to start, 'stop'.
 *
 * PASSIVE checkpoints never block the writer, but under a steady write load they never
 * catch up with it either, and SQLite only rewinds the WAL once a checkpoint has copied
 * every frame: the WAL grew to 1.5 GB in a 20 s benchmark, and every lookup in it slowed.
 * So once the WAL holds RESTART_FRAMES, the next checkpoint is a RESTART: it copies the few
 * frames the PASSIVE ones left (holding the writer for that short while) and lets the
 * writer start the WAL over.
 */
import { Database } from 'bun:sqlite'

declare const self: Worker

/** ~16 MiB of 4 KiB pages. */
const RESTART_FRAMES = 4_096

let db: Database | null = null
let timer: ReturnType<typeof setInterval> | null = null

const checkpoint = () => {
  if (db === null) return
  try {
    let row = db.query('PRAGMA wal_checkpoint(PASSIVE)').get() as { busy: number; log: number; checkpointed: number } | null
    if (row !== null && row.log >= RESTART_FRAMES) row = db.query('PRAGMA wal_checkpoint(RESTART)').get() as typeof row
    self.postMessage({ type: 'checkpointed', pages: row?.checkpointed ?? 0, log: row?.log ?? 0 })
  } catch (error) {
    self.postMessage({ type: 'error', message: (error as Error).message })
  }
}

self.onmessage = (event: MessageEvent<{ path: string; intervalMs: number } | 'stop'>) => {
  if (event.data === 'stop') {
    if (timer !== null) clearInterval(timer)
    checkpoint()
    db?.close()
    db = null
    self.postMessage({ type: 'stopped' })
    return
  }
  db = new Database(event.data.path)
  db.exec('PRAGMA busy_timeout = 5000')
  timer = setInterval(checkpoint, event.data.intervalMs)
  self.postMessage({ type: 'started' })
}
