import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { ManualClock } from '../../src/domain/clock'
import { createLogger } from '../../src/ops/logger'
import { Sweeper } from '../../src/data/sweeper'
import { guidNo, openTempStore, putOf, record, type TempStore } from '../support/store'

const T0 = Date.UTC(2026, 0, 1)
const NOW = T0 / 1000

let temp: TempStore
let clock: ManualClock
let swept: number[]
beforeEach(() => {
  temp = openTempStore()
  clock = new ManualClock(T0)
  swept = []
})
afterEach(() => temp.cleanup())

const sweeper = (batch: number) => new Sweeper(temp.store, { intervalMs: 60_000, batch, clock, logger: createLogger('silent'), onSwept: (n) => swept.push(n) })

/** `count` records expiring at NOW + 1 .. NOW + count. */
const seed = (count: number, from = 0) => temp.store.applyBatch(Array.from({ length: count }, (_, i) => putOf(record(guidNo(from + i), 1, NOW + 1 + i))))

describe('Sweeper.sweepOnce', () => {
  test('deletes nothing before anything expires', async () => {
    await seed(5)
    expect(await sweeper(10).sweepOnce()).toBe(0)
    expect(swept).toEqual([])
  })

  test('deletes what the clock has expired, and nothing else', async () => {
    await seed(5)
    clock.set((NOW + 3) * 1000)
    expect(await sweeper(10).sweepOnce()).toBe(3)
    expect(swept).toEqual([3])
    clock.set(T0)
    for (let i = 0; i < 3; i++) expect(await temp.store.get(guidNo(i), NOW)).toBeNull()
    for (let i = 3; i < 5; i++) expect(await temp.store.get(guidNo(i), NOW)).not.toBeNull()
  })

  test('runs batch after batch until a short one', async () => {
    await seed(25)
    clock.set((NOW + 100) * 1000)
    expect(await sweeper(10).sweepOnce()).toBe(25)
    expect(swept).toEqual([25])
    expect(await temp.store.sweepExpired(NOW + 100, 1_000)).toBe(0)
  })

  test('one sweep is bounded: at most 100 batches', async () => {
    await seed(150)
    clock.set((NOW + 1_000) * 1000)
    const s = sweeper(1)
    expect(await s.sweepOnce()).toBe(100)
    expect(await s.sweepOnce()).toBe(50)
  })

  test('does nothing once stopped', async () => {
    await seed(5)
    clock.set((NOW + 100) * 1000)
    const s = sweeper(10)
    await s.stop()
    expect(await s.sweepOnce()).toBe(0)
  })
})
