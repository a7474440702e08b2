import { describe, expect, test } from 'bun:test'
import { LruTier } from '../../src/adapters/lru/lru'
import { ManualClock, nowSeconds } from '../../src/domain/clock'
import type { StoredRecord } from '../../src/domain/model'
import type { Lookup } from '../../src/data/tier'
import { seededRandom } from '../support/prng'

const T0 = Date.UTC(2026, 0, 1)
const NOW = T0 / 1000

const rec = (n: number, expire = NOW + 100, version = 1): StoredRecord => ({ guid: n.toString(16).toUpperCase().padStart(32, '0'), user: `u${n}`, expire, version })

const tier = (maxEntries: number, negativeTtlMs = 1_000) => {
  const clock = new ManualClock(T0)
  return { clock, lru: new LruTier({ maxEntries, negativeTtlMs, clock }) }
}

describe('LruTier', () => {
  test('a miss, then a hit for what was set', () => {
    const { lru } = tier(10)
    const r = rec(1)
    expect(lru.get(r.guid, NOW)).toEqual({ kind: 'miss' })
    lru.set(r, NOW)
    expect(lru.get(r.guid, NOW)).toEqual({ kind: 'hit', stored: r })
    expect(lru.stats).toEqual({ hits: 1, misses: 1 })
  })

  test('is bounded by entry count and evicts the least recently used', () => {
    const { lru } = tier(3)
    for (const n of [1, 2, 3]) lru.set(rec(n), NOW)
    lru.get(rec(1).guid, NOW)
    lru.set(rec(4), NOW)
    expect(lru.size).toBe(3)
    expect(lru.get(rec(2).guid, NOW).kind).toBe('miss')
    for (const n of [1, 3, 4]) expect(lru.get(rec(n).guid, NOW).kind).toBe('hit')
  })

  test('never holds more than maxEntries, records and negative entries alike', () => {
    const { lru } = tier(50)
    for (let n = 0; n < 500; n++) {
      if (n % 2 === 0) lru.set(rec(n), NOW)
      else lru.setAbsent(rec(n).guid)
      expect(lru.size).toBeLessThanOrEqual(50)
    }
    expect(lru.size).toBe(50)
  })

  // Issue 7, hole 1: dropping an expired state let a read fall through to the older version below.
  test('keeps a state once it has expired: it still names the latest version', () => {
    const { lru, clock } = tier(10)
    const r = rec(1, NOW + 10)
    lru.set(r, nowSeconds(clock))
    clock.advance(10_000)
    expect(lru.get(r.guid, nowSeconds(clock))).toEqual({ kind: 'hit', stored: r })
  })

  test('a newer state that has already expired replaces the older live copy', () => {
    const { lru } = tier(10)
    lru.set(rec(1, NOW + 10), NOW)
    const shortened = rec(1, NOW, 2)
    lru.set(shortened, NOW)
    expect(lru.get(shortened.guid, NOW)).toEqual({ kind: 'hit', stored: shortened })
  })

  test('a newer set replaces the record', () => {
    const { lru } = tier(10)
    lru.set(rec(1, NOW + 10, 1), NOW)
    const newer = { ...rec(1, NOW + 20, 2), user: 'changed' }
    lru.set(newer, NOW)
    expect(lru.get(newer.guid, NOW)).toEqual({ kind: 'hit', stored: newer })
  })

  test('negative entries answer absent until the clock passes their deadline', () => {
    const { lru, clock } = tier(10, 1_000)
    const guid = rec(1).guid
    lru.setAbsent(guid)
    expect(lru.get(guid, NOW).kind).toBe('absent')
    clock.advance(999)
    expect(lru.get(guid, NOW).kind).toBe('absent')
    clock.advance(1)
    expect(lru.get(guid, NOW).kind).toBe('miss')
    expect(lru.size).toBe(0)
  })

  test('a set clears a negative entry', () => {
    const { lru } = tier(10)
    const r = rec(1)
    lru.setAbsent(r.guid)
    lru.set(r, NOW)
    expect(lru.get(r.guid, NOW)).toEqual({ kind: 'hit', stored: r })
  })

  test('setAbsent replaces a cached record', () => {
    const { lru } = tier(10)
    const r = rec(1)
    lru.set(r, NOW)
    lru.setAbsent(r.guid)
    expect(lru.get(r.guid, NOW).kind).toBe('absent')
  })

  test('with negative caching off, setAbsent still drops a cached record', () => {
    const { lru } = tier(10, 0)
    const r = rec(1)
    lru.set(r, NOW)
    lru.setAbsent(r.guid)
    expect(lru.get(r.guid, NOW).kind).toBe('miss')
  })

  test('with negative caching off, setAbsent caches nothing', () => {
    const { lru } = tier(10, 0)
    lru.setAbsent(rec(1).guid)
    expect(lru.size).toBe(0)
  })

  test('forget and clear', () => {
    const { lru } = tier(10)
    for (const n of [1, 2, 3]) lru.set(rec(n), NOW)
    lru.forget(rec(1).guid)
    expect(lru.get(rec(1).guid, NOW).kind).toBe('miss')
    lru.clear()
    expect(lru.size).toBe(0)
  })

  test('maxEntries 0 disables it: everything is a miss', () => {
    const { lru } = tier(0)
    const r = rec(1)
    lru.set(r, NOW)
    lru.setAbsent(rec(2).guid)
    expect(lru.size).toBe(0)
    expect(lru.get(r.guid, NOW).kind).toBe('miss')
    expect(lru.get(rec(2).guid, NOW).kind).toBe('miss')
    expect(() => lru.forget(r.guid)).not.toThrow()
    expect(() => lru.clear()).not.toThrow()
  })

  test.each([-1, 1.5, Number.NaN])('rejects maxEntries %p at construction', (maxEntries) => {
    expect(() => tier(maxEntries)).toThrow(TypeError)
  })
})

describe('LruTier invalidation floors', () => {
  test('an invalidation drops the copy and refuses older fills until the floor lapses', () => {
    const { lru, clock } = tier(10)
    lru.set(rec(1, NOW + 100, 1), NOW)
    lru.invalidate(rec(1).guid, 2)
    expect(lru.get(rec(1).guid, NOW).kind).toBe('miss')
    lru.set(rec(1, NOW + 100, 1), NOW)
    expect(lru.get(rec(1).guid, NOW).kind).toBe('miss')
    lru.setAbsent(rec(1).guid)
    expect(lru.get(rec(1).guid, NOW).kind).toBe('miss')
    clock.advance(10_000)
    lru.set(rec(1, NOW + 100, 1), NOW)
    expect(lru.get(rec(1).guid, NOW).kind).toBe('hit')
  })

  test('a fill at or above the floor is taken', () => {
    const { lru } = tier(10)
    lru.invalidate(rec(1).guid, 2)
    const v2 = rec(1, NOW + 100, 2)
    lru.set(v2, NOW)
    expect(lru.get(v2.guid, NOW)).toEqual({ kind: 'hit', stored: v2 })
  })
})

describe('LruTier against a Map in recency order', () => {
  // The answers a hot slot keeps as objects must always be that slot's current state: through
  // replacements, evictions (a slot reused by another GUID), forgets and slots sharing a line.
  for (const [maxEntries, keys] of [
    [3, 8],
    [1_500, 3_000], // more slots than the 1,024 lines of decoded answers: lines are shared
  ] as const) {
    test(`max ${maxEntries}, ${keys} GUIDs, random sets, tombstones, absents, forgets and reads`, () => {
      const random = seededRandom(maxEntries)
      const { lru } = tier(maxEntries, 60_000)
      const model = new Map<string, Lookup>()
      const use = (guid: string, lookup: Lookup) => {
        model.delete(guid)
        model.set(guid, lookup)
        if (model.size > maxEntries) model.delete(model.keys().next().value!)
      }
      for (let step = 0; step < 40_000; step++) {
        const n = Math.floor(random() * keys)
        const guid = rec(n).guid
        const op = random()
        if (op < 0.3) {
          const stored = random() < 0.8 ? rec(n, NOW + 100, step + 1) : { guid, version: step + 1, expire: NOW + 50, deleted: true as const }
          lru.set(stored, NOW)
          use(guid, { kind: 'hit', stored })
        } else if (op < 0.35) {
          lru.setAbsent(guid)
          use(guid, { kind: 'absent' })
        } else if (op < 0.4) {
          lru.forget(guid)
          model.delete(guid)
        } else {
          const want = model.get(guid) ?? { kind: 'miss' }
          expect(lru.get(guid, NOW)).toEqual(want)
          if (want.kind !== 'miss') use(guid, want)
        }
      }
      expect(lru.size).toBe(model.size)
    })
  }
})
