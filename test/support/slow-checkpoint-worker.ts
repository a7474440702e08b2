/// <reference lib="webworker" />
/**
 * Plays the checkpoint thread's part for test/unit/checkpointer.test.ts, on a disk whose
 * catch-ups are slow: on start it asks for a hold ('wal-full', with the WAL size the test put
 * in the file's name), and answers 'quiet' with 'caught-up' only after CATCH_UP_MS.
 */
declare const self: Worker

export {}

const CATCH_UP_MS = 600

self.onmessage = (event: MessageEvent<{ path: string } | 'quiet' | 'stop'>) => {
  if (event.data === 'stop') return self.postMessage({ type: 'stopped' })
  if (event.data === 'quiet') {
    setTimeout(() => self.postMessage({ type: 'caught-up', pages: 0, log: 0, done: true }), CATCH_UP_MS)
    return
  }
  const log = Number(/wal-(\d+)/.exec(event.data.path)?.[1] ?? 0)
  self.postMessage({ type: 'started' })
  self.postMessage({ type: 'wal-full', log })
}
