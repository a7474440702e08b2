import { afterEach, beforeEach, describe, expect, jest, test } from 'bun:test'
import { type Pending, TurnBatch } from '../../src/data/turn-batch'
import type { Mutation } from '../../src/domain/model'

/** TurnBatch: what goes into one batch and when it is sent. Fake timers: no waiting. */

const mutation = (n: number): Mutation => ({ next: { guid: n.toString(16).padStart(32, '0'), user: 'u', expire: 2_000_000_000, version: 1 }, prevVersion: 0 })

const batcher = (max: number, windowMs: number) => {
  const sent: number[][] = []
  const batches = new TurnBatch({
    max,
    windowMs,
    send: (batch: Pending[]) => {
      sent.push(batch.map((p) => p.mutation.next.guid).map((guid) => Number.parseInt(guid, 16)))
      for (const p of batch) p.resolve()
    },
  })
  return { sent, add: (n: number) => void batches.add(mutation(n)), close: () => batches.close() }
}

describe('TurnBatch with a window', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  test('the first mutation waits the window for company; a full batch goes at once', () => {
    const b = batcher(3, 40)
    b.add(1)
    b.add(2)
    jest.advanceTimersByTime(39)
    expect(b.sent).toEqual([])
    jest.advanceTimersByTime(1)
    expect(b.sent).toEqual([[1, 2]])
    b.add(3)
    b.add(4)
    b.add(5)
    expect(b.sent).toEqual([
      [1, 2],
      [3, 4, 5],
    ])
  })

  test('after a full batch went early, the next batch still gets its own whole window', () => {
    const b = batcher(2, 40)
    b.add(1)
    b.add(2) // full: sent at once, while the window timer of 1 is still pending
    expect(b.sent).toEqual([[1, 2]])
    jest.advanceTimersByTime(20)
    b.add(3)
    jest.advanceTimersByTime(39) // 59 ms from the start: 1's window has long ended
    expect(b.sent).toEqual([[1, 2]])
    jest.advanceTimersByTime(1)
    expect(b.sent).toEqual([[1, 2], [3]])
  })

  test('close sends what waits, and no timer sends anything after', () => {
    const b = batcher(10, 40)
    b.add(1)
    b.close()
    expect(b.sent).toEqual([[1]])
    jest.advanceTimersByTime(100)
    expect(b.sent).toEqual([[1]])
  })
})
