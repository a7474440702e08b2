import { describe, expect, test } from 'bun:test'
import { Checkpointer } from '../../src/adapters/sqlite/checkpointer'

/**
 * What ends a hold of the commits for the checkpoint thread's catch-up, against a stand-in
 * thread whose catch-up is slow or never ends (test/support/slow-checkpoint-worker.ts): while
 * the WAL is small, the hold's own limit (200 ms), so a slow disk does not hold writes for its
 * whole fsync; once the WAL has grown to 64 MiB, the catch-up's end, so that the WAL is rewound
 * at that size rather than growing on. Told apart by what ended the hold (a rewind counted or
 * not), not by timing it.
 */
const workerUrl = new URL('../support/slow-checkpoint-worker.ts', import.meta.url).href

/** Waits out the first hold; the checkpointer's counts when it ended. */
const firstHold = async (path: string) => {
  const checkpointer = new Checkpointer({ path, intervalMs: 50, onFailure: (error) => console.error(error), workerUrl })
  try {
    const deadline = performance.now() + 5_000
    while (checkpointer.writesHeld === undefined) {
      if (performance.now() > deadline) throw new Error('no hold within 5 s')
      await Bun.sleep(1)
    }
    await checkpointer.writesHeld
    return { holds: checkpointer.holds, rewinds: checkpointer.rewinds, released: checkpointer.writesHeld === undefined }
  } finally {
    await checkpointer.stop()
  }
}

describe('Checkpointer: commits held for a WAL rewind', () => {
  test('a small WAL: the hold ends by its own limit when the catch-up never does', async () => {
    expect(await firstHold('/nowhere/wal-5000-catch-up-never')).toEqual({ holds: 1, rewinds: 0, released: true })
  })

  test('a WAL past 64 MiB: the hold ends when the catch-up does (600 ms, past the small limit)', async () => {
    expect(await firstHold('/nowhere/wal-20000-catch-up-600')).toEqual({ holds: 1, rewinds: 1, released: true })
  })
})
