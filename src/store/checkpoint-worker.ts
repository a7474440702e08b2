/// <reference lib="webworker" />
/**
 * The SQLite checkpointer's thread: its own connection to the database file, copying WAL
 * pages back into it (PASSIVE: never blocks the writer) on a timer, so that the copying and
 * its fsync happen off the request thread. Messages: {path, intervalMs} to start, 'stop'.
 */
import { Database } from 'bun:sqlite'

declare const self: Worker

let db: Database | null = null
let timer: ReturnType<typeof setInterval> | null = null

const checkpoint = () => {
  if (db === null) return
  try {
    const row = db.query('PRAGMA wal_checkpoint(PASSIVE)').get() as { busy: number; log: number; checkpointed: number } | null
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
