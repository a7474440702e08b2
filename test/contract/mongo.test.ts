import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MongoClient } from 'mongodb'
import { MongoStore, type MongoStoreOptions } from '../../src/adapters/mongo/store'
import type { GuidDoc } from '../../src/adapters/mongo/ops'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { deleteOf, guidNo, putOf, record } from '../support/store'
import { storeContract } from './store-contract'

/**
 * The store contract, and what only a MongoDB-wire server can show, against a real server:
 * the one MONGODB_URL names (real MongoDB, say `docker compose up -d mongo`), else a FerretDB
 * of this run's own (test/support/ferretdb.ts: built once by scripts/ferretdb, on a free
 * port, SQLite in a temp dir). Each test gets a database of its own, dropped afterwards.
 */
const explicitUrl = process.env.MONGODB_URL ?? ''
const enabled = explicitUrl !== '' || ferretdbSuites('MongoDB store contract against FerretDB')
/** FerretDB 1.24 (ours) rather than a server named by MONGODB_URL: what it lacks is known from its source. */
const onFerretdb = explicitUrl === ''

const clientOptions = { serverSelectionTimeoutMS: 5000 }
let ferretdb: TestFerretdb | undefined
let url = explicitUrl
let admin: MongoClient | null = null
const adminClient = () => (admin ??= new MongoClient(url, clientOptions))

beforeAll(
  async () => {
    if (!enabled || !onFerretdb) return
    ferretdb = await startFerretdb()
    url = ferretdb.url
  },
  { timeout: FERRETDB_BUILD_TIMEOUT_MS + 30_000 },
)
afterAll(async () => {
  await admin?.close()
  await ferretdb?.dispose()
})

/** A database name unique to this run and test. */
let seq = 0
const freshDbName = () => `guidd_test_${process.pid}_${Date.now().toString(36)}_${seq++}`

describe.skipIf(!enabled)('MongoStore', () => {
  const openStore = async (options: Partial<MongoStoreOptions> = {}) => {
    const dbName = freshDbName()
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

    test('open creates the TTL index where the server has them, else a plain one (the sweeper deletes); opening again is harmless', async () => {
      const { store, dbName, cleanup } = await openStore()
      try {
        const again = await MongoStore.open({ url, dbName, clientOptions })
        expect(again.server).toEqual(store.server)
        await again.close()
        const indexes = await adminClient().db(dbName).collection('guids').indexes()
        const ttl = indexes.find((index) => index.key?.expireAt === 1 && index.expireAfterSeconds === 0)
        expect(store.server?.ttlIndex).toBe(ttl !== undefined)
        if (onFerretdb) {
          // FerretDB 1.24: createIndexes with expireAfterSeconds answers NotImplemented (238).
          expect(store.server).toMatchObject({ ttlIndex: false, ttlRefused: expect.stringContaining('NotImplemented') })
          expect(indexes).toContainEqual(expect.objectContaining({ key: { expireAt: 1 }, name: 'expireAt' }))
        } else {
          expect(ttl).toBeDefined()
        }
        await store.ping()
      } finally {
        await cleanup()
      }
    })

    test('writes go as one bulkWrite where the server accounts for every op, else one by one', async () => {
      const { store, dbName, cleanup } = await openStore()
      try {
        // FerretDB 1.24 runs a bulk's updates in turn, stops at the first failure and reports it at index 0.
        expect(store.server?.writes).toBe(onFerretdb ? 'one-by-one' : 'bulk')
        // The probe leaves nothing behind.
        expect(await adminClient().db(dbName).collection('guids').countDocuments({})).toBe(0)
      } finally {
        await cleanup()
      }
    })

    test('documents: _id is the GUID, expireAt a Date; a tombstone has no user, a re-create no deleted', async () => {
      const { store, dbName, cleanup } = await openStore()
      const t = now()
      const docs = () => adminClient().db(dbName).collection<GuidDoc>('guids')
      try {
        await store.applyBatch([putOf(record(G, 1, t + 60, 'one'))])
        expect(await docs().findOne({ _id: G })).toEqual({ _id: G, user: 'one', version: 1, expireAt: new Date((t + 60) * 1000) })
        await store.applyBatch([deleteOf(G, 2, t + 120)])
        expect(await docs().findOne({ _id: G })).toEqual({ _id: G, version: 2, expireAt: new Date((t + 120) * 1000), deleted: true })
        await store.applyBatch([putOf(record(G, 3, t + 60, 'three'))])
        expect(await docs().findOne({ _id: G })).toEqual({ _id: G, user: 'three', version: 3, expireAt: new Date((t + 60) * 1000) })
      } finally {
        await cleanup()
      }
    })

    test('versions of an incarnation (seconds * 10^6 + n) round-trip exactly and guard exactly', async () => {
      const { store, cleanup } = await openStore()
      const t = now()
      const v = t * 1_000_000 + 1
      try {
        expect(await store.applyBatch([putOf(record(G, v, t + 60, 'first'))])).toEqual(['applied'])
        expect(await store.applyBatch([putOf(record(G, v + 1, t + 60, 'second'))])).toEqual(['applied'])
        expect(await store.applyBatch([putOf(record(G, v, t + 60, 'replayed'))])).toEqual(['stale'])
        expect(await store.get(G, t)).toEqual(record(G, v + 1, t + 60, 'second'))
      } finally {
        await cleanup()
      }
    })

    test('an acknowledged PATCH that shortened expire into the past is written: the older live version is not served again', async () => {
      const { store, dbName, cleanup } = await openStore()
      const t = now()
      try {
        await store.applyBatch([putOf(record(G, 1, t + 600, 'live'))])
        // v2 shortened expire to t + 5 and is flushed at t + 10, after that instant.
        expect(await store.applyBatch([putOf(record(G, 2, t + 5, 'patched'))])).toEqual(['applied'])
        expect(await store.get(G, t + 10)).toBeNull()
        expect(await adminClient().db(dbName).collection<GuidDoc>('guids').findOne({ _id: G })).toMatchObject({ version: 2, user: 'patched' })
        // And a replay of the older v1 does not bring it back.
        expect(await store.applyBatch([putOf(record(G, 1, t + 600, 'live'))])).toEqual(['stale'])
        expect(await store.get(G, t + 10)).toBeNull()
      } finally {
        await cleanup()
      }
    })

    test('several mutations of one GUID in a batch, in any order: the newest stays', async () => {
      const { store, cleanup } = await openStore()
      const t = now()
      try {
        const batch = [3, 1, 2].map((v) => putOf(record(G, v, t + 60, `v${v}`)))
        expect(await store.applyBatch(batch)).toEqual(['applied', 'stale', 'stale'])
        expect(await store.get(G, t)).toMatchObject({ version: 3, user: 'v3' })
      } finally {
        await cleanup()
      }
    })

    test('a batch whose first ops are stale: every later op is still written, outcomes exact', async () => {
      const { store, cleanup } = await openStore()
      const t = now()
      const guids = Array.from({ length: 20 }, (_, i) => guidNo(500 + i))
      try {
        await store.applyBatch([putOf(record(guids[0]!, 5, t + 60)), putOf(record(guids[1]!, 5, t + 60))])
        // FerretDB's bulk would stop at the first E11000 and leave the rest unwritten.
        const outcomes = await store.applyBatch(guids.map((g, i) => putOf(record(g, i < 2 ? 4 : 1, t + 60, `u${i}`))))
        expect(outcomes).toEqual(guids.map((_, i) => (i < 2 ? 'stale' : 'applied')))
        for (const [i, g] of guids.entries()) expect(await store.get(g, t)).toMatchObject(i < 2 ? { version: 5 } : { version: 1, user: `u${i}` })
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
          const [older, newer] = await Promise.all([a.store.applyBatch([putOf(record(guid, 1, t + 60))]), b.applyBatch([putOf(record(guid, 2, t + 60))])])
          expect(newer).toEqual(['applied'])
          expect(older[0] === 'applied' || older[0] === 'stale').toBe(true)
          expect(await a.store.get(guid, t)).toMatchObject({ version: 2 })
        }
      } finally {
        await b.close()
        await a.cleanup()
      }
    })

    test('the sweep deletes expired documents (what does it where the server has no TTL index)', async () => {
      const { store, dbName, cleanup } = await openStore()
      const t = now()
      try {
        await store.applyBatch([putOf(record(G, 1, t + 1)), deleteOf(guidNo(2), 2, t + 1), putOf(record(guidNo(3), 1, t + 600))])
        expect(await store.sweepExpired(t + 2, 100)).toBe(2)
        const left = await adminClient().db(dbName).collection<GuidDoc>('guids').find({}).toArray()
        expect(left.map((d) => d._id)).toEqual([guidNo(3)])
      } finally {
        await cleanup()
      }
    })

    // Needs collection validators, which FerretDB 1.24 does not implement (create answers
    // NotImplemented): registered only against a server named by MONGODB_URL. The
    // classification it exercises is unit-tested in test/unit/mongo-ops.test.ts.
    if (!onFerretdb) {
      test('a write the server refuses is rejected alone; the rest of the batch lands', async () => {
        const dbName = freshDbName()
        await adminClient()
          .db(dbName)
          .createCollection('guids', { validator: { user: { $ne: 'poison' } } })
        const store = await MongoStore.open({ url, dbName, clientOptions })
        const t = now()
        try {
          const outcomes = await store.applyBatch([putOf(record(G, 1, t + 60)), putOf(record(guidNo(2), 1, t + 60, 'poison')), putOf(record(guidNo(3), 1, t + 60))])
          expect(outcomes[0]).toBe('applied')
          expect(outcomes[1]).toEqual({ rejected: expect.stringContaining('mongodb error 121') })
          expect(outcomes[2]).toBe('applied')
        } finally {
          await store.close()
          await adminClient().db(dbName).dropDatabase()
        }
      })
    }

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
