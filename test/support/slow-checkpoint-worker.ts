/// <reference lib="webworker" />
/**
 * Plays the checkpoint thread's part for test/unit/checkpointer.test.ts, on a disk whose
 * catch-ups are slow: on start it asks for a hold ('wal-full', with the WAL size the test put
 * in the file's name, `wal-<frames>`), and answers 'quiet' with 'caught-up' after the
 * milliseconds the name gives (`catch-up-<ms>`), or never (`catch-up-never`).
 */
declare const self: Worker

export {}

let catchUpMs: number | undefined

self.onmessage = (event: MessageEvent<{ path: string } | 'quiet' | 'stop'>) => {
  if (event.data === 'stop') return self.postMessage({ type: 'stopped' })
  if (event.data === 'quiet') {
    if (catchUpMs !== undefined) setTimeout(() => self.postMessage({ type: 'caught-up', pages: 0, log: 0, done: true }), catchUpMs)
    return
  }
  const { path } = event.data
  const ms = /catch-up-(\d+)/.exec(path)?.[1]
  catchUpMs = ms === undefined ? undefined : Number(ms)
  self.postMessage({ type: 'started' })
  self.postMessage({ type: 'wal-full', log: Number(/wal-(\d+)/.exec(path)?.[1] ?? 0) })
}
