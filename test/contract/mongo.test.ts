import { afterAll, describe, expect, test } from 'bun:test'
import { MongoClient } from 'mongodb'
import { MongoStore, type MongoStoreOptions } from '../../src/store/mongo'
import type { GuidDoc } from '../../src/store/mongo-ops'
import { deleteOf, guidNo, putOf, record } from '../support/store'
import { storeContract } from './store-contract'

/**
 * The store contract, and what only MongoDB can show, against a real server named by
 * MONGODB_URL. Each test gets a database of its own, dropped afterwards. Without the
 * variable every test here is reported as skipped (not passed) and one line says why.
 */
const url = process.env.MONGODB_URL ?? ''
if (url === '') console.log('SKIPPED: MongoDB store contract (set MONGODB_URL, e.g. docker compose up -d mongo)')

const clientOptions = { serverSelectionTimeoutMS: 5000 }

// Created only when a test runs: a skipped suite opens no sockets. The hook sits at file
// level because bun lists a hook inside a skipped describe as an extra, unnamed skipped test.
let admin: MongoClient | null = null
const adminClient = () => (admin ??= new MongoClient(url, clientOptions))
afterAll(async () => {
  await admin?.close()
})

describe.skipIf(url === '')('MongoStore', () => {
  let seq = 0
  const openStore = async (options: Partial<MongoStoreOptions> = {}) => {
    const dbName = `guidd_test_${process.pid}_${Date.now().toString(36)}_${seq++}`
    const store = await MongoStore.open({ url, dbName, clientOptions, ...options })
    const cleanup = async () => {
      await store.close()
      await adminClient().db(dbName).dropDatabase()
    }
    return { store, dbName, cleanup }
  }

  // The contract's clock is fixed in the past, and the TTL monitor deletes by the server's
  // wall clock: without the TTL index no document vanishes mid-test. Reads filter on the
  // injected clock either way, which is what the contract checks.
  storeContract('mongodb', () => openStore({ ttlIndex: false }))

  describe('MongoDB specifics', () => {
    // These run on the wall clock, so the TTL index can stay.
    const now = () => Math.floor(Date.now() / 1000)
    const G = guidNo(1)

    test('open creates the TTL index, and opening again is harmless', async () => {
      const { store, dbName, cleanup } = await openStore()
      try {
        const again = await MongoStore.open({ url, dbName, clientOptions })
        await again.close()
        const indexes = await adminClient().db(dbName).collection('guids').indexes()
        expect(indexes).toContainEqual(expect.objectContaining({ key: { expireAt: 1 }, expireAfterSeconds: 0 }))
        await store.ping()
      } finally {
        await cleanup()
      }
    })

    test('documents: _id is the GUID, expireAt a Date; a tombstone has no user, a re-create no deleted', async () => {
      const { store, dbName, cleanup } = await openStore()
      const t = now()
      const docs = () => adminClient().db(dbName).collection<GuidDoc>('guids')
      try {
        await store.applyBatch([putOf(record(G, 1, t + 60, 'one'))], t)
        expect(await docs().findOne({ _id: G })).toEqual({ _id: G, user: 'one', version: 1, expireAt: new Date((t + 60) * 1000) })
        await store.applyBatch([deleteOf(G, 2, t + 120)], t)
        expect(await docs().findOne({ _id: G })).toEqual({ _id: G, version: 2, expireAt: new Date((t + 120) * 1000), deleted: true })
        await store.applyBatch([putOf(record(G, 3, t + 60, 'three'))], t)
        expect(await docs().findOne({ _id: G })).toEqual({ _id: G, user: 'three', version: 3, expireAt: new Date((t + 60) * 1000) })
      } finally {
        await cleanup()
      }
    })

    test('several mutations of one GUID in a batch, in any order: the newest stays', async () => {
      const { store, cleanup } = await openStore()
      const t = now()
      try {
        const batch = [3, 1, 2].map((v) => putOf(record(G, v, t + 60, `v${v}`)))
        expect(await store.applyBatch(batch, t)).toEqual(['applied', 'stale', 'stale'])
        expect(await store.get(G, t)).toMatchObject({ version: 3, user: 'v3' })
      } finally {
        await cleanup()
      }
    })

    test('two writers creating one GUID at once: the newer version is never reported stale', async () => {
      const a = await openStore()
      const b = await MongoStore.open({ url, dbName: a.dbName, clientOptions })
      const t = now()
      try {
        for (let i = 0; i < 30; i++) {
          const guid = guidNo(1000 + i)
          const [older, newer] = await Promise.all([a.store.applyBatch([putOf(record(guid, 1, t + 60))], t), b.applyBatch([putOf(record(guid, 2, t + 60))], t)])
          expect(newer).toEqual(['applied'])
          expect(older[0] === 'applied' || older[0] === 'stale').toBe(true)
          expect(await a.store.get(guid, t)).toMatchObject({ version: 2 })
        }
      } finally {
        await b.close()
        await a.cleanup()
      }
    })

    test('a write the server refuses is rejected alone; the rest of the batch lands', async () => {
      const dbName = `guidd_test_${process.pid}_${Date.now().toString(36)}_${seq++}`
      await adminClient()
        .db(dbName)
        .createCollection('guids', { validator: { user: { $ne: 'poison' } } })
      const store = await MongoStore.open({ url, dbName, clientOptions })
      const t = now()
      try {
        const outcomes = await store.applyBatch([putOf(record(G, 1, t + 60)), putOf(record(guidNo(2), 1, t + 60, 'poison')), putOf(record(guidNo(3), 1, t + 60))], t)
        expect(outcomes[0]).toBe('applied')
        expect(outcomes[1]).toEqual({ rejected: expect.stringContaining('mongodb error 121') })
        expect(outcomes[2]).toBe('applied')
      } finally {
        await store.close()
        await adminClient().db(dbName).dropDatabase()
      }
    })

    test('get refuses a document that is neither a record nor a tombstone', async () => {
      const { store, dbName, cleanup } = await openStore()
      const t = now()
      try {
        await adminClient()
          .db(dbName)
          .collection<GuidDoc>('guids')
          .insertOne({ _id: G, version: 1, expireAt: new Date((t + 60) * 1000) })
        await expect(store.get(G, t)).rejects.toThrow('does not match the record schema')
      } finally {
        await cleanup()
      }
    })
  })
})
