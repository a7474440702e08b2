import { describe, expect, test } from 'bun:test'
import type { Mutation, Stored } from '../../src/domain/model'
import { coalesce } from '../../src/data/coalesce'
import { deleteOf, guidNo, putOf, record } from '../support/store'

const NOW = Date.UTC(2026, 0, 1) / 1000
const G = guidNo(1)

const put = (guid: string, version: number, expire = NOW + 100, user = `v${version}`) => putOf(record(guid, version, expire, user))

describe('coalesce', () => {
  test('per GUID the highest version, in order of first appearance', () => {
    const a1 = put(G, 1)
    const b2 = put(guidNo(2), 2)
    const a3 = put(G, 3)
    const a2 = put(G, 2)
    const c1 = put(guidNo(3), 1)
    expect(coalesce([a1, b2, a3, a2, c1])).toEqual([a3, b2, c1])
  })

  test('equal versions: the later one', () => {
    const first = put(G, 2, NOW + 100, 'first')
    const later = put(G, 2, NOW + 100, 'later')
    expect(coalesce([first, later])[0]).toBe(later)
  })

  test('a tombstone and a record compete by version alike', () => {
    const del = deleteOf(G, 4, NOW + 50)
    expect(coalesce([put(G, 3), del])).toEqual([del])
    const again = put(G, 5)
    expect(coalesce([del, again])).toEqual([again])
  })

  // Issue 7, hole 1: the old rule dropped an expired state, so the live older version stayed.
  test('a newer version that has already expired replaces an older live one', () => {
    const live = put(G, 2)
    const shortened = put(G, 3, NOW - 1)
    expect(coalesce([live, shortened])).toEqual([shortened])
    expect(coalesce([shortened, live])).toEqual([shortened])
  })

  test('accepts anything that carries a mutation, and returns the same objects', () => {
    const entries = [
      { id: 'a', ...put(G, 1) },
      { id: 'b', ...put(G, 2) },
    ]
    expect(coalesce(entries).map((e) => e.id)).toEqual(['b'])
  })

  test('the kept mutation ends the store where applying them all in order would', () => {
    // The store guard, applied one by one, as SQLite applies a batch: newer replaces, expired or not.
    const apply = (stored: Stored | null, m: Mutation): Stored | null => (stored === null || m.next.version > stored.version ? m.next : stored)
    const pool = [put(G, 1), put(G, 3), put(G, 2, NOW), put(G, 7, NOW - 3), deleteOf(G, 4, NOW + 20), put(G, 5, NOW + 1), deleteOf(G, 6, NOW)]
    const starts: (Stored | null)[] = [null, record(G, 2, NOW + 5), record(G, 9, NOW), record(G, 4, NOW + 5)]
    let seed = 7
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (let run = 0; run < 500; run++) {
      const batch = Array.from({ length: 1 + rand(5) }, () => pool[rand(pool.length)] as Mutation)
      for (const start of starts) expect(coalesce(batch).reduce(apply, start)).toEqual(batch.reduce(apply, start))
    }
  })
})
