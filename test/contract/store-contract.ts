import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import type { Store } from '../../src/data/store'
import { deleteOf, guidNo, putOf, record } from '../support/store'

/**
 * The behaviour every durable Store must have (src/store/store.ts), run against each
 * implementation: SQLite always, MongoDB when MONGODB_URL is set.
 */
export interface OpenedStore {
  store: Store
  cleanup(): Promise<void>
}

const NOW = Date.UTC(2026, 0, 1) / 1000
const G = guidNo(1)

export const storeContract = (name: string, open: () => Promise<OpenedStore>) =>
  describe(`Store contract: ${name}`, () => {
    let opened: OpenedStore
    let store: Store
    beforeEach(async () => {
      opened = await open()
      store = opened.store
    })
    afterEach(() => opened.cleanup())

    test('put then get; an unknown GUID is null', async () => {
      const r = record(G, 1, NOW + 10)
      expect(await store.applyBatch([putOf(r)])).toEqual(['applied'])
      expect(await store.get(G, NOW)).toEqual(r)
      expect(await store.get(guidNo(2), NOW)).toBeNull()
    })

    test('a newer version wins', async () => {
      await store.applyBatch([putOf(record(G, 1, NOW + 10, 'one'))])
      expect(await store.applyBatch([putOf(record(G, 2, NOW + 20, 'two'))])).toEqual(['applied'])
      expect(await store.get(G, NOW)).toEqual(record(G, 2, NOW + 20, 'two'))
    })

    test.each([1, 2])('a stale put (version %d over 2) has no effect', async (version) => {
      await store.applyBatch([putOf(record(G, 2, NOW + 20, 'two'))])
      expect(await store.applyBatch([putOf(record(G, version, NOW + 99, 'stale'))])).toEqual(['stale'])
      expect(await store.get(G, NOW)).toEqual(record(G, 2, NOW + 20, 'two'))
    })

    test('replaying a batch in reverse leaves the newest version', async () => {
      const batch = [1, 2, 3].map((v) => putOf(record(G, v, NOW + 10 * v, `v${v}`)))
      await store.applyBatch(batch)
      expect(await store.applyBatch([...batch].reverse())).toEqual(['stale', 'stale', 'stale'])
      expect(await store.get(G, NOW)).toMatchObject({ version: 3, user: 'v3' })
    })

    test('a newer put over an expired state wins', async () => {
      await store.applyBatch([putOf(record(G, 5, NOW + 10, 'old'))])
      const fresh = record(G, 6, NOW + 100, 'new')
      expect(await store.applyBatch([putOf(fresh)])).toEqual(['applied'])
      expect(await store.get(G, NOW + 10)).toEqual(fresh)
    })

    test('an older put never replaces a newer state, even one that has expired', async () => {
      await store.applyBatch([putOf(record(G, 5, NOW + 10, 'newer'))])
      expect(await store.applyBatch([putOf(record(G, 4, NOW + 100, 'older'))])).toEqual(['stale'])
      expect(await store.get(G, NOW + 20)).toBeNull()
    })

    // Issue 7, hole 1: a PATCH that shortened expire, applied after its new expire passed,
    // was skipped as stale, and the older live version came back.
    test('a newer put carrying an already expired state replaces the older live one and hides the GUID', async () => {
      await store.applyBatch([putOf(record(G, 1, NOW + 100, 'live'))])
      expect(await store.applyBatch([putOf(record(G, 2, NOW - 1, 'shortened'))])).toEqual(['applied'])
      expect(await store.get(G, NOW)).toBeNull()
      // Replaying the older write changes nothing.
      expect(await store.applyBatch([putOf(record(G, 1, NOW + 100, 'live'))])).toEqual(['stale'])
      expect(await store.get(G, NOW)).toBeNull()
    })

    test('a delete leaves a tombstone with its version; reads see it, not the record', async () => {
      await store.applyBatch([putOf(record(G, 3, NOW + 10))])
      expect(await store.applyBatch([deleteOf(G, 4, NOW + 50)])).toEqual(['applied'])
      expect(await store.get(G, NOW)).toEqual({ guid: G, version: 4, expire: NOW + 50, deleted: true })
    })

    test('an older put replayed after the delete does not resurrect the record', async () => {
      await store.applyBatch([putOf(record(G, 3, NOW + 10)), deleteOf(G, 4, NOW + 50)])
      expect(await store.applyBatch([putOf(record(G, 3, NOW + 10))])).toEqual(['stale'])
      expect(await store.get(G, NOW)).toMatchObject({ deleted: true, version: 4 })
    })

    test('a re-create continuing from the tombstone version wins', async () => {
      await store.applyBatch([deleteOf(G, 4, NOW + 50)])
      expect(await store.applyBatch([putOf(record(G, 5, NOW + 10, 'again'))])).toEqual(['applied'])
      expect(await store.get(G, NOW)).toEqual(record(G, 5, NOW + 10, 'again'))
    })

    test('a stale delete leaves a newer version in place', async () => {
      await store.applyBatch([putOf(record(G, 3, NOW + 10))])
      expect(await store.applyBatch([deleteOf(G, 2, NOW + 50)])).toEqual(['stale'])
      expect(await store.get(G, NOW)).toMatchObject({ version: 3 })
    })

    test('get never returns an expired record or tombstone', async () => {
      await store.applyBatch([putOf(record(G, 1, NOW + 10)), deleteOf(guidNo(2), 2, NOW + 10)])
      for (const guid of [G, guidNo(2)]) {
        expect(await store.get(guid, NOW + 9)).not.toBeNull()
        expect(await store.get(guid, NOW + 10)).toBeNull()
        expect(await store.get(guid, NOW + 11)).toBeNull()
      }
    })

    test('a batch with several GUIDs applies each, outcomes in input order', async () => {
      await store.applyBatch([putOf(record(guidNo(3), 5, NOW + 10))])
      const outcomes = await store.applyBatch([putOf(record(G, 1, NOW + 10)), putOf(record(guidNo(3), 4, NOW + 10)), putOf(record(guidNo(2), 1, NOW + 10))])
      expect(outcomes).toEqual(['applied', 'stale', 'applied'])
    })

    test('sweepExpired deletes only expired states, at most `limit` at a time', async () => {
      const expired = Array.from({ length: 7 }, (_, i) => putOf(record(guidNo(100 + i), 1, NOW - i)))
      const live = Array.from({ length: 3 }, (_, i) => putOf(record(guidNo(200 + i), 1, NOW + 1 + i)))
      await store.applyBatch([...expired, ...live])
      expect(await store.sweepExpired(NOW, 3)).toBe(3)
      expect(await store.sweepExpired(NOW, 3)).toBe(3)
      expect(await store.sweepExpired(NOW, 3)).toBe(1)
      expect(await store.sweepExpired(NOW, 3)).toBe(0)
      for (let i = 0; i < 3; i++) expect(await store.get(guidNo(200 + i), NOW)).not.toBeNull()
    })

    test("listUser: one user's live records in GUID order after a GUID, at most `limit`; no tombstone, no expired, no other user", async () => {
      const mine = [7, 3, 12, 9, 1].map((n) => record(guidNo(n), 1, NOW + 10, 'me'))
      await store.applyBatch([
        ...mine.map(putOf),
        putOf(record(guidNo(4), 1, NOW + 10, 'someone else')),
        putOf(record(guidNo(5), 1, NOW - 1, 'me')),
        putOf(record(guidNo(6), 1, NOW + 10, 'me')),
        deleteOf(guidNo(6), 2, NOW + 10),
        putOf(record(guidNo(8), 1, NOW + 10, 'Me')),
      ])
      const sorted = [...mine].sort((a, b) => (a.guid < b.guid ? -1 : 1))
      expect(await store.listUser('me', undefined, 100, NOW)).toEqual(sorted)
      expect(await store.listUser('me', undefined, 2, NOW)).toEqual(sorted.slice(0, 2))
      expect(await store.listUser('me', guidNo(3), 2, NOW)).toEqual(sorted.slice(2, 4))
      expect(await store.listUser('me', guidNo(12), 2, NOW)).toEqual([])
      expect(await store.listUser('nobody', undefined, 10, NOW)).toEqual([])
      // Expired from its expire second on.
      expect(await store.listUser('me', undefined, 100, NOW + 10)).toEqual([])
    })

    test('listUser: hex digits sort before letters, as the canonical GUIDs do', async () => {
      const guids = ['A0000000000000000000000000000000', '90000000000000000000000000000000', 'F0000000000000000000000000000001', '0000000000000000000000000000000A']
      await store.applyBatch(guids.map((g) => putOf(record(g, 1, NOW + 10, 'hex'))))
      expect((await store.listUser('hex', undefined, 10, NOW)).map((r) => r.guid)).toEqual([...guids].sort())
      expect((await store.listUser('hex', '90000000000000000000000000000000', 10, NOW)).map((r) => r.guid)).toEqual(['A0000000000000000000000000000000', 'F0000000000000000000000000000001'])
    })

    test('ping answers while open', async () => {
      await store.ping()
    })
  })
