import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { deleteOf, guidNo, openTempStore, putOf, record, type TempStore } from '../support/store'

const NOW = Date.UTC(2026, 0, 1) / 1000
const G = guidNo(1)

let temp: TempStore
beforeEach(() => {
  temp = openTempStore()
})
afterEach(() => temp.cleanup())

describe('SqliteStore', () => {
  test('put then get', async () => {
    const r = record(G, 1, NOW + 10)
    expect(await temp.store.applyBatch([putOf(r)], NOW)).toEqual(['applied'])
    expect(await temp.store.get(G, NOW)).toEqual(r)
    expect(await temp.store.get(guidNo(2), NOW)).toBeNull()
  })

  test('a newer version wins', async () => {
    await temp.store.applyBatch([putOf(record(G, 1, NOW + 10, 'one'))], NOW)
    expect(await temp.store.applyBatch([putOf(record(G, 2, NOW + 20, 'two'))], NOW)).toEqual(['applied'])
    expect(await temp.store.get(G, NOW)).toEqual(record(G, 2, NOW + 20, 'two'))
  })

  test.each([1, 2])('a stale put (version %d over 2) has no effect', async (version) => {
    await temp.store.applyBatch([putOf(record(G, 2, NOW + 20, 'two'))], NOW)
    expect(await temp.store.applyBatch([putOf(record(G, version, NOW + 99, 'stale'))], NOW)).toEqual(['stale'])
    expect(await temp.store.get(G, NOW)).toEqual(record(G, 2, NOW + 20, 'two'))
  })

  test('replaying a batch out of order leaves the newest version', async () => {
    const batch = [1, 2, 3].map((v) => putOf(record(G, v, NOW + 10 * v, `v${v}`)))
    await temp.store.applyBatch(batch, NOW)
    expect(await temp.store.applyBatch([...batch].reverse(), NOW)).toEqual(['stale', 'stale', 'stale'])
    expect(await temp.store.get(G, NOW)).toMatchObject({ version: 3, user: 'v3' })
  })

  test('a put over an expired row wins whatever its version', async () => {
    await temp.store.applyBatch([putOf(record(G, 5, NOW + 10, 'old'))], NOW)
    const fresh = record(G, 1, NOW + 100, 'new')
    expect(await temp.store.applyBatch([putOf(fresh)], NOW + 10)).toEqual(['applied'])
    expect(await temp.store.get(G, NOW + 10)).toEqual(fresh)
  })

  test('a stale put does not win over a row that has not yet expired', async () => {
    await temp.store.applyBatch([putOf(record(G, 5, NOW + 10, 'old'))], NOW)
    expect(await temp.store.applyBatch([putOf(record(G, 1, NOW + 100, 'new'))], NOW + 9)).toEqual(['stale'])
  })

  test('a delete removes a stored version not newer than its own', async () => {
    await temp.store.applyBatch([putOf(record(G, 3, NOW + 10))], NOW)
    await temp.store.applyBatch([deleteOf(G, 4)], NOW)
    expect(await temp.store.get(G, NOW)).toBeNull()
  })

  test('a stale delete leaves a newer version in place', async () => {
    await temp.store.applyBatch([putOf(record(G, 3, NOW + 10))], NOW)
    await temp.store.applyBatch([deleteOf(G, 2)], NOW)
    expect(await temp.store.get(G, NOW)).toMatchObject({ version: 3 })
  })

  test('get never returns an expired row', async () => {
    await temp.store.applyBatch([putOf(record(G, 1, NOW + 10))], NOW)
    expect(await temp.store.get(G, NOW + 9)).not.toBeNull()
    expect(await temp.store.get(G, NOW + 10)).toBeNull()
    expect(await temp.store.get(G, NOW + 11)).toBeNull()
  })

  test('a batch is one transaction: a failing mutation undoes the others', async () => {
    const bad = putOf({ ...record(guidNo(2), 1, NOW + 10), user: null as unknown as string })
    await expect(temp.store.applyBatch([putOf(record(G, 1, NOW + 10)), bad], NOW)).rejects.toThrow()
    expect(await temp.store.get(G, NOW)).toBeNull()
  })

  test('sweepExpired deletes only expired rows, at most `limit` at a time', async () => {
    const expired = Array.from({ length: 7 }, (_, i) => putOf(record(guidNo(100 + i), 1, NOW - i)))
    const live = Array.from({ length: 3 }, (_, i) => putOf(record(guidNo(200 + i), 1, NOW + 1 + i)))
    await temp.store.applyBatch([...expired, ...live], NOW - 100)
    expect(await temp.store.sweepExpired(NOW, 3)).toBe(3)
    expect(await temp.store.sweepExpired(NOW, 3)).toBe(3)
    expect(await temp.store.sweepExpired(NOW, 3)).toBe(1)
    expect(await temp.store.sweepExpired(NOW, 3)).toBe(0)
    for (let i = 0; i < 3; i++) expect(await temp.store.get(guidNo(200 + i), NOW)).not.toBeNull()
  })

  test('data survives closing and reopening the file', async () => {
    await temp.store.applyBatch([putOf(record(G, 2, NOW + 10, 'kept'))], NOW)
    await temp.store.close()
    const { SqliteStore } = await import('../../src/store/sqlite')
    const reopened = new SqliteStore({ path: `${temp.dir}/guidd.sqlite`, synchronous: 'NORMAL' })
    try {
      expect(await reopened.get(G, NOW)).toEqual(record(G, 2, NOW + 10, 'kept'))
    } finally {
      await reopened.close()
    }
  })

  test('ping answers while open', async () => {
    await temp.store.ping()
  })
})
