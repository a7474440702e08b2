import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Collection, MongoClient, MongoNetworkError } from 'mongodb'
import { ManualClock } from '../../src/domain/clock'
import { ServiceError } from '../../src/domain/errors'
import type { StoredRecord, Tombstone } from '../../src/domain/model'
import { VersionConflict } from '../../src/data/journal'
import { MongoStore } from '../../src/adapters/mongo/store'
import { MongoJournal } from '../../src/adapters/mongo/journal'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'

/**
 * MongoJournal (MongoDB-only mode's journal) against a real FerretDB, with an injected
 * clock: the compare-and-set rules, the claims FerretDB needs, and a write that cannot
 * reach MongoDB. What the journal writes is read back with MongoStore.get.
 */

const enabled = ferretdbSuites('MongoJournal on FerretDB')
let ferret: TestFerretdb
let store: MongoStore
let raw: MongoClient
const T0 = Date.UTC(2026, 0, 1)
const NOW = T0 / 1000
const clock = new ManualClock(T0)
const events: string[] = []
let journal: MongoJournal
let dbName: string

beforeAll(async () => {
  if (!enabled) return
  ferret = await startFerretdb()
  dbName = `guidd_journal_${process.pid}`
  store = await MongoStore.open({ url: ferret.url, dbName, ttlIndex: false, clientOptions: { serverSelectionTimeoutMS: 3_000 } })
  raw = await new MongoClient(ferret.url).connect()
  journal = new MongoJournal(store, {
    w: 'majority',
    clock,
    health: { failed: () => events.push('failed'), succeeded: () => events.push('succeeded') },
    uncertain: (guid) => events.push(`uncertain ${guid}`),
  })
  // The first run on a machine builds FerretDB (scripts/ferretdb; .ci/run starts that build early).
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)

afterAll(async () => {
  if (!enabled) return
  await raw?.close()
  await store?.close()
  await ferret?.dispose()
})

let n = 0
const newGuid = () => `F${(++n).toString(16).padStart(31, '0')}`.toUpperCase()
const record = (guid: string, version: number, user = `u${version}`, expire = NOW + 3_600): StoredRecord => ({ guid, user, expire, version })

const conflict = async (promise: Promise<void>): Promise<void> => {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(VersionConflict)
}

describe.if(enabled)('MongoJournal', () => {
  test('a create writes the document before resolving; a second create of a live GUID loses', async () => {
    const guid = newGuid()
    const first = record(guid, NOW * 1_000_000 + 1)
    await journal.append({ next: first, prevVersion: 0 })
    expect(await store.get(guid, NOW)).toEqual(first)
    await conflict(journal.append({ next: record(guid, NOW * 1_000_000 + 2_000_001, 'other'), prevVersion: 0 }))
    expect(await store.get(guid, NOW)).toEqual(first)
  })

  test('a change replaces exactly the version it was computed from', async () => {
    const guid = newGuid()
    const v1 = record(guid, 11)
    await journal.append({ next: v1, prevVersion: 0 })
    await journal.append({ next: record(guid, 12, 'second'), prevVersion: 11 })
    // Computed from 11 again (a stale copy): refused, and the document keeps 12.
    await conflict(journal.append({ next: record(guid, 12, 'stale'), prevVersion: 11 }))
    await conflict(journal.append({ next: record(guid, 13, 'ahead'), prevVersion: 10 }))
    expect(await store.get(guid, NOW)).toEqual(record(guid, 12, 'second'))
    // A delete leaves the tombstone (no user), a re-create loses the tombstone's mark.
    const tombstone: Tombstone = { guid, version: 13, expire: NOW + 86_400, deleted: true }
    await journal.append({ next: tombstone, prevVersion: 12 })
    expect(await store.get(guid, NOW)).toEqual(tombstone)
    expect(await raw.db(dbName).collection<{ _id: string }>('guids').findOne({ _id: guid })).not.toHaveProperty('user')
    await journal.append({ next: record(guid, 14, 'back'), prevVersion: 13 })
    expect(await store.get(guid, NOW)).toEqual(record(guid, 14, 'back'))
    expect(await raw.db(dbName).collection<{ _id: string }>('guids').findOne({ _id: guid })).not.toHaveProperty('deleted')
  })

  test('a create over a document that has expired (not yet swept) replaces it; over a live one it loses', async () => {
    const guid = newGuid()
    await journal.append({ next: record(guid, 5, 'old', NOW + 10), prevVersion: 0 })
    clock.advance(10_000)
    try {
      const later = NOW + 10
      expect(await store.get(guid, later)).toBeNull()
      const reborn = record(guid, later * 1_000_000 + 1, 'reborn', later + 3_600)
      await journal.append({ next: reborn, prevVersion: 0 })
      expect(await store.get(guid, later)).toEqual(reborn)
      await conflict(journal.append({ next: record(guid, later * 1_000_000 + 7, 'again', later + 3_600), prevVersion: 0 }))
    } finally {
      clock.set(T0)
    }
  })

  test('FerretDB: a claim held by another writer makes the change lose; one whose lease ran out is broken', async () => {
    const guid = newGuid()
    await journal.append({ next: record(guid, 21), prevVersion: 0 })
    const claims = raw.db(dbName).collection<{ _id: string; expireAt: Date }>('guid_claims')
    // Another writer of version 21 died mid-write, holding its claim.
    await claims.insertOne({ _id: `${guid}:21`, expireAt: new Date(T0 + 30_000) })
    await conflict(journal.append({ next: record(guid, 22), prevVersion: 21 }))
    clock.advance(30_000)
    try {
      await journal.append({ next: record(guid, 22), prevVersion: 21 })
    } finally {
      clock.set(T0)
    }
    expect(await store.get(guid, NOW)).toEqual(record(guid, 22))
    // The winner's own claim is gone once its update answered.
    expect(await claims.countDocuments({ _id: { $regex: `^${guid}:` } })).toBe(0)
  })

  test('creates racing over an expired document (not yet swept): exactly one wins', async () => {
    for (let round = 0; round < 10; round++) {
      const guid = newGuid()
      await journal.append({ next: record(guid, 5, 'old', NOW + 10), prevVersion: 0 })
      clock.advance(10_000)
      try {
        const later = NOW + 10
        const racers = [1, 2, 3, 4].map((i) => record(guid, later * 1_000_000 + i, `racer${i}`, later + 3_600))
        const settled = await Promise.allSettled(racers.map((next) => journal.append({ next, prevVersion: 0 })))
        const won = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [i] : []))
        expect({ round, won: won.length }).toEqual({ round, won: 1 })
        for (const s of settled) if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(VersionConflict)
        expect(await store.get(guid, later)).toEqual(racers[won[0]!]!)
      } finally {
        clock.set(T0)
      }
    }
  })

  test('FerretDB: the sweep deletes claims whose lease ran out, and only those', async () => {
    const claims = raw.db(dbName).collection<{ _id: string; expireAt: Date }>('guid_claims')
    const [dead, live] = [newGuid(), newGuid()]
    await claims.insertMany([
      { _id: `${dead}:1`, expireAt: new Date(T0 - 1_000) },
      { _id: `${live}:1`, expireAt: new Date(T0 + 30_000) },
    ])
    await journal.view.sweepExpired(NOW, 100)
    expect(await claims.countDocuments({ _id: `${dead}:1` })).toBe(0)
    expect(await claims.countDocuments({ _id: `${live}:1` })).toBe(1)
    await claims.deleteOne({ _id: `${live}:1` })
  })

  test('a write MongoDB cannot take is 503 unavailable with Retry-After, told to health, and its GUID forgotten', async () => {
    const unreachable = new MongoStore({ url: 'mongodb://127.0.0.1:1/', dbName, clientOptions: { serverSelectionTimeoutMS: 200, connectTimeoutMS: 200 } })
    const seen: string[] = []
    const down = new MongoJournal(unreachable, { w: 'majority', clock, health: { failed: () => seen.push('failed'), succeeded: () => seen.push('succeeded') }, uncertain: (g) => seen.push(g) })
    try {
      const guid = newGuid()
      const error = await down.append({ next: record(guid, 1), prevVersion: 0 }).then(
        () => null,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(ServiceError)
      expect((error as ServiceError).kind).toBe('unavailable')
      expect((error as ServiceError).details.retryAfterSeconds).toBe(1)
      expect(seen).toEqual(['failed', guid])
      // Reads of the request path are 503 too, not 500.
      const read = await down.view.get(guid, NOW).then(
        () => null,
        (e: unknown) => e,
      )
      expect((read as ServiceError).kind).toBe('unavailable')
      await expect(down.probeWrite()).rejects.toThrow()
    } finally {
      await unreachable.close()
    }
    // The healthy journal's writes were told as successes (a lost race is not a fault).
    expect(events).not.toContain('failed')
    expect(events).toContain('succeeded')
    await journal.probeWrite()
  })

  // Found by the model-based tests: MongoDB killed mid-write left the write's claim behind,
  // and the GUID answered 503 until the claim's 30 s lease ran out.
  test('a write that fails after taking its claim releases it, or (MongoDB unreachable) before the next write', async () => {
    const guid = newGuid()
    await journal.append({ next: record(guid, 1), prevVersion: 0 })
    const { docs } = await store.connected()
    const updateOne = docs.updateOne
    const deleteOne = Collection.prototype.deleteOne
    docs.updateOne = (() => Promise.reject(new MongoNetworkError('killed mid-write (test)'))) as never
    Collection.prototype.deleteOne = (() => Promise.reject(new MongoNetworkError('still down (test)'))) as never
    try {
      const error = await journal.append({ next: record(guid, 2), prevVersion: 1 }).then(
        () => null,
        (e: unknown) => e,
      )
      expect((error as ServiceError).kind).toBe('unavailable')
    } finally {
      docs.updateOne = updateOne
      Collection.prototype.deleteOne = deleteOne
    }
    // MongoDB answers again (the clock has not moved: no lease has run out).
    await journal.append({ next: record(guid, 2), prevVersion: 1 })
    expect(await store.get(guid, NOW)).toMatchObject({ version: 2 })
  })

  test('after close, appends are refused with 503', async () => {
    const closing = new MongoJournal(store, { w: 'majority', clock })
    await closing.close()
    const error = await closing.append({ next: record(newGuid(), 1), prevVersion: 0 }).then(
      () => null,
      (e: unknown) => e,
    )
    expect((error as ServiceError).kind).toBe('unavailable')
  })
})
