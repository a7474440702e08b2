import { describe, expect, test } from 'bun:test'
import { parseGuidKey } from '../../src/adapters/lru/guid-key'
import { GuidTable, MAX_SLOTS } from '../../src/adapters/lru/guid-table'
import { UserSlab } from '../../src/adapters/lru/user-slab'
import { loadConfig } from '../../src/runtime/config'
import { seededRandom } from '../support/prng'
import { guidNo } from '../support/store'

const USERS = ['a', 'Cylance, Inc.', 'ü'.repeat(40), '😀'.repeat(256), 'x'.repeat(256), '名前'.repeat(60), '']

/** The reference: a Map in recency order (first = least recently used). */
class ModelLru {
  readonly map = new Map<string, { version: number; user: string | undefined }>()
  constructor(readonly max: number) {}
  touch(k: string) {
    const v = this.map.get(k)!
    this.map.delete(k)
    this.map.set(k, v)
  }
  claim(k: string, version: number, user: string | undefined) {
    if (this.map.has(k)) this.touch(k)
    else if (this.map.size === this.max) this.map.delete(this.map.keys().next().value!)
    this.map.set(k, { version, user })
  }
}

describe('GuidTable against a Map in recency order', () => {
  for (const [max, keys, steps] of [
    [1, 4, 500],
    [7, 20, 3_000],
    [50, 120, 20_000],
    [3_000, 6_000, 60_000], // long probe runs: 6,000 keys hashed into an index of 8,192
  ] as const) {
    test(`max ${max}, ${keys} distinct GUIDs, ${steps} random operations`, () => {
      const random = seededRandom(max * 7919 + keys)
      const table = new GuidTable(max)
      const model = new ModelLru(max)
      for (let step = 0; step < steps; step++) {
        const key = guidNo(Math.floor(random() * keys))
        const op = random()
        if (op < 0.5) {
          const version = step + 1
          const user = random() < 0.2 ? undefined : USERS[Math.floor(random() * USERS.length)]
          const slot = table.claim(key)
          table.setUser(slot, user)
          table.write(slot, 1, version, 0, 0)
          model.claim(key, version, user)
        } else if (op < 0.8) {
          const slot = table.find(key)
          const want = model.map.get(key)
          expect(slot >= 0).toBe(want !== undefined)
          if (want !== undefined) {
            expect(table.version(slot)).toBe(want.version)
            expect(table.user(slot)).toBe(want.user)
            table.touch(slot)
            model.touch(key)
          }
        } else if (op < 0.97) {
          const slot = table.find(key)
          if (slot >= 0) table.remove(slot)
          model.map.delete(key)
        } else if (op < 0.975) {
          table.clear()
          model.map.clear()
        }
        expect(table.size).toBe(model.map.size)
      }
      // Every key the model holds is found with its fields; no other key is.
      for (let n = 0; n < keys; n++) {
        const slot = table.find(guidNo(n))
        const want = model.map.get(guidNo(n))
        expect(slot >= 0).toBe(want !== undefined)
        if (want) expect([table.version(slot), table.user(slot)]).toEqual([want.version, want.user])
      }
      // Eviction follows recency: filling the table with new keys evicts the model's order.
      let fresh = keys
      while (model.map.size < max) {
        table.setUser(table.claim(guidNo(fresh)), undefined)
        model.claim(guidNo(fresh++), 0, undefined)
      }
      const order = [...model.map.keys()]
      for (let i = 0; i < order.length; i++) {
        table.write(table.claim(guidNo(fresh++)), 1, 0, 0, 0)
        expect(table.find(order[i]!)).toBe(-1)
        if (i + 1 < order.length) expect(table.find(order[i + 1]!)).toBeGreaterThanOrEqual(0)
      }
    })
  }

  test('holds exactly max entries once full, and its memory stops growing', () => {
    const table = new GuidTable(5_000)
    for (let n = 0; n < 5_000; n++) table.setUser(table.claim(guidNo(n)), 'Cylance, Inc.')
    const full = table.bytes()
    for (let n = 5_000; n < 50_000; n++) table.setUser(table.claim(guidNo(n)), 'Cylance, Inc.')
    expect(table.size).toBe(5_000)
    expect(table.bytes()).toBe(full)
  })

  test('only canonical GUIDs are keys: any other string is never found and never stored', () => {
    const table = new GuidTable(10)
    for (const bad of ['', 'a'.repeat(32), guidNo(1).toLowerCase().replace('0', 'g'), `${guidNo(1).slice(1)}`, `{${guidNo(1).slice(2)}}`, 'Z'.repeat(32)]) {
      expect(table.claim(bad)).toBe(-1)
      expect(table.find(bad)).toBe(-1)
    }
    expect(table.size).toBe(0)
  })

  test('GUIDs differing in any one hex digit are different keys', () => {
    const table = new GuidTable(200)
    const base = '9094E4C980C74043A4B586B420E69DDF'
    const variants = Array.from({ length: 32 }, (_, i) => `${base.slice(0, i)}${base[i] === '0' ? '1' : '0'}${base.slice(i + 1)}`)
    for (const [i, g] of [base, ...variants].entries()) table.write(table.claim(g), 1, i, 0, 0)
    for (const [i, g] of [base, ...variants].entries()) expect(table.version(table.find(g))).toBe(i)
  })
})

describe('the GUID key', () => {
  test('is the 16 bytes the hex names', () => {
    const out = new Uint32Array(4)
    expect(parseGuidKey('0123456789ABCDEFFEDCBA9876543210', out, 0)).toBe(true)
    expect([...out]).toEqual([0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210])
  })
})

describe('UserSlab', () => {
  test('gives back every string as stored, from 1 to 1024 bytes, and reuses freed blocks', () => {
    const slab = new UserSlab()
    const stored = USERS.map((u) => slab.store(u))
    expect(stored.map((s) => slab.read(s.block, s.length))).toEqual(USERS)
    const before = slab.bytes()
    for (const s of stored) slab.release(s.block)
    const again = USERS.map((u) => slab.store(u))
    expect(slab.bytes()).toBe(before)
    expect(again.map((s) => slab.read(s.block, s.length))).toEqual(USERS)
  })

  test('refuses a string over 1024 bytes of UTF-8 instead of cutting it', () => {
    const slab = new UserSlab()
    expect(() => slab.store('😀'.repeat(257))).toThrow(RangeError)
    expect(() => slab.store('x'.repeat(1025))).toThrow(RangeError)
  })
})

describe('GuidTable bounds', () => {
  test('LRU_MAX_ENTRIES allows no more slots than a table may have', () => {
    expect(() => new GuidTable(MAX_SLOTS + 1)).toThrow(TypeError)
    expect(() => loadConfig({ LRU_MAX_ENTRIES: String(MAX_SLOTS + 1) })).toThrow()
    expect(loadConfig({ LRU_MAX_ENTRIES: String(MAX_SLOTS) }).LRU_MAX_ENTRIES).toBe(MAX_SLOTS)
  })
})
