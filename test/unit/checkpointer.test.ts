import { describe, expect, test } from 'bun:test'
import { Checkpointer } from '../../src/adapters/sqlite/checkpointer'

/**
 * How long commits are held for the checkpoint thread's catch-up, against a thread whose
 * catch-up takes 600 ms (test/support/slow-checkpoint-worker.ts): at most 200 ms while the WAL
 * is small, so a slow disk does not hold writes for its whole fsync; until the catch-up ends once
 * the WAL has grown to 64 MiB, so that it is rewound at that size rather than growing on.
 */
const workerUrl = new URL('../support/slow-checkpoint-worker.ts', import.meta.url).href

const heldFor = async (walFrames: number): Promise<number> => {
  const checkpointer = new Checkpointer({ path: `/nowhere/wal-${walFrames}`, intervalMs: 50, onFailure: (error) => console.error(error), workerUrl })
  try {
    const deadline = performance.now() + 5_000
    while (checkpointer.writesHeld === undefined) {
      if (performance.now() > deadline) throw new Error('no hold within 5 s')
      await Bun.sleep(1)
    }
    const since = performance.now()
    await checkpointer.writesHeld
    return performance.now() - since
  } finally {
    await checkpointer.stop()
  }
}

describe('Checkpointer: commits held for a WAL rewind', () => {
  test('a small WAL: held at most ~200 ms, however long the catch-up takes', async () => {
    const ms = await heldFor(5_000)
    expect(ms).toBeGreaterThan(150)
    expect(ms).toBeLessThan(500)
  })

  test('a WAL past 64 MiB: held until the catch-up ends', async () => {
    expect(await heldFor(20_000)).toBeGreaterThan(550)
  })
})
