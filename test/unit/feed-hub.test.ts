import { expect, test } from 'bun:test'
import type { EventLog, LoggedChange } from '../../src/data/feed'
import { FeedHub } from '../../src/data/feed-hub'
import { ManualClock } from '../../src/domain/clock'

/** A log whose one follower the test drives by hand. */
const handLog = () => {
  let deliver: (events: LoggedChange[]) => void = () => {}
  const log: EventLog = {
    head: async () => '0',
    first: async () => '0',
    read: async (after) => ({ events: [], next: after }),
    trim: async () => 0,
    compare: (a, b) => Number(a) - Number(b),
    follow: (_from, d) => {
      deliver = d
      return { stop: async () => {} }
    },
  }
  return { log, deliver: (events: LoggedChange[]) => deliver(events) }
}
const event = (n: number): LoggedChange => ({ id: String(n), type: 'created', guid: 'A'.repeat(32), version: n, user: 'u' })
const turn = () => new Promise((resolve) => setImmediate(resolve))

test('a delivery wakes the waiting streams a few at a time, one group per turn of the event loop, not all in one go', async () => {
  const { log, deliver } = handLog()
  const hub = new FeedHub({ log, maxStreams: 1_000, retentionMs: 60_000, clock: new ManualClock(0), coalesceMs: 0 })
  await hub.start()
  let woken = 0
  const waiters = Array.from({ length: 100 }, () => hub.waitForEvents(60_000).then((byDelivery) => byDelivery && woken++))
  deliver([event(1)])
  // Every microtask of this turn (the wait's promise chain is a few deep), no further.
  for (let i = 0; i < 20; i++) await Promise.resolve()
  // The first group only: requests that arrived meanwhile get the event loop between groups.
  expect(woken).toBeGreaterThan(0)
  expect(woken).toBeLessThan(100)
  for (let i = 0; i < 100 && woken < 100; i++) await turn()
  expect(woken).toBe(100)
  await Promise.all(waiters)
  // A stream that waits after the delivery waits for the next one.
  let late = false
  void hub.waitForEvents(60_000).then((byDelivery) => (late = byDelivery))
  for (let i = 0; i < 30; i++) await turn()
  expect(late).toBe(false)
  await hub.stop()
  await turn()
})
