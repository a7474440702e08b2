import { describe, expect, test } from 'bun:test'
import { LruTier } from '../../src/adapters/lru/lru'
import { ManualClock } from '../../src/domain/clock'
import type { StoredRecord } from '../../src/domain/model'

/** LruTier's entry lifetime (`ttlMs`, LRU_TTL_MS): what bounds staleness in MongoDB-only mode. Clock-driven. */

const T0 = Date.UTC(2026, 0, 1)
const NOW = T0 / 1000
const rec: StoredRecord = { guid: `${'0'.repeat(31)}1`, user: 'u', expire: NOW + 3600, version: 1 }

const tier = (ttlMs: number | undefined, negativeTtlMs = 2_000) => {
  const clock = new ManualClock(T0)
  return { clock, lru: new LruTier({ maxEntries: 10, negativeTtlMs, ttlMs, clock }) }
}

describe('LruTier entry lifetime', () => {
  test('a record answers until its lifetime ends, then the next read asks below', () => {
    const { clock, lru } = tier(1_000)
    lru.set(rec, NOW)
    clock.advance(999)
    expect(lru.get(rec.guid, NOW).kind).toBe('hit')
    clock.advance(1)
    expect(lru.get(rec.guid, NOW).kind).toBe('miss')
    expect(lru.size).toBe(0)
  })

  test('each set starts a new lifetime', () => {
    const { clock, lru } = tier(1_000)
    lru.set(rec, NOW)
    clock.advance(800)
    lru.set({ ...rec, version: 2 }, NOW)
    clock.advance(800)
    expect(lru.get(rec.guid, NOW)).toMatchObject({ kind: 'hit', stored: { ...rec, version: 2 } })
  })

  test('an absent answer lasts the shorter of the negative TTL and the lifetime', () => {
    const { clock, lru } = tier(1_000, 2_000)
    lru.setAbsent(rec.guid)
    clock.advance(999)
    expect(lru.get(rec.guid, NOW).kind).toBe('absent')
    clock.advance(1)
    expect(lru.get(rec.guid, NOW).kind).toBe('miss')
    const short = tier(1_000, 300)
    short.lru.setAbsent(rec.guid)
    short.clock.advance(300)
    expect(short.lru.get(rec.guid, NOW).kind).toBe('miss')
  })

  test('0 or unset: no lifetime (entries stay until evicted)', () => {
    for (const ttl of [0, undefined]) {
      const { clock, lru } = tier(ttl)
      lru.set(rec, NOW)
      clock.advance(365 * 86_400_000)
      expect(lru.get(rec.guid, NOW).kind).toBe('hit')
    }
  })

  test('a record or tombstone is due a refresh in the last quarter of its lifetime, while it still answers', () => {
    const { clock, lru } = tier(1_000)
    lru.set(rec, NOW)
    clock.advance(749)
    expect(lru.refreshDue(rec.guid)).toBe(false)
    clock.advance(1)
    expect(lru.refreshDue(rec.guid)).toBe(true)
    expect(lru.get(rec.guid, NOW).kind).toBe('hit')
    clock.advance(249)
    expect(lru.refreshDue(rec.guid)).toBe(true)
    clock.advance(1)
    expect(lru.refreshDue(rec.guid)).toBe(false)
    lru.set({ guid: rec.guid, version: 2, expire: NOW + 60, deleted: true }, NOW)
    clock.advance(800)
    expect(lru.refreshDue(rec.guid)).toBe(true)
  })

  test('never due: absent answers, version floors, unknown GUIDs, or entries without a lifetime', () => {
    const { clock, lru } = tier(1_000, 1_000)
    lru.setAbsent(rec.guid)
    lru.invalidate(`${'0'.repeat(31)}2`, 5)
    clock.advance(900)
    expect(lru.refreshDue(rec.guid)).toBe(false)
    expect(lru.refreshDue(`${'0'.repeat(31)}2`)).toBe(false)
    expect(lru.refreshDue(`${'0'.repeat(31)}3`)).toBe(false)
    for (const ttl of [0, undefined]) {
      const untimed = tier(ttl)
      untimed.lru.set(rec, NOW)
      untimed.clock.advance(86_400_000)
      expect(untimed.lru.refreshDue(rec.guid)).toBe(false)
    }
  })

  test('a bad lifetime is refused', () => {
    expect(() => tier(-1)).toThrow(TypeError)
    expect(() => tier(1.5)).toThrow(TypeError)
  })
})
