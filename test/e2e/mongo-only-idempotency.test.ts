import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MongoClient, MongoNetworkError } from 'mongodb'
import { MongoIdempotency } from '../../src/adapters/mongo/idempotency'
import { MongoStore } from '../../src/adapters/mongo/store'
import { ManualClock } from '../../src/domain/clock'
import { fingerprintOf } from '../../src/http/fingerprint'
import { createTestApp, type TestApp } from '../support/app'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { expectProblem } from '../support/http'
import { expectReplay } from '../support/idempotency-contract'
import { freshUser, listPage } from '../support/listing-contract'

/**
 * MongoDB-only mode keeps a keyed write's answer after the write (no transaction holds both),
 * so what a kill -9 between them leaves is a claim with no answer. These tests leave exactly
 * that in MongoDB, as a request that died would, and retry with the key on an injected clock:
 * the claim holds (409) until its lease ends, then the retry takes it over with the claim's
 * GUID and makes exactly one GUID, whether or not the dead request's create had landed.
 */

const enabled = ferretdbSuites('MongoDB-only Idempotency-Key takeover')
let ferret: TestFerretdb
let app: TestApp
let raw: MongoClient
const DB = `guidd_idem_${process.pid}`
/** REQUEST_TIMEOUT_MS 1000: the lease is 2 s. */
const LEASE_MS = 2_000

beforeAll(async () => {
  if (!enabled) return
  ferret = await startFerretdb()
  raw = await new MongoClient(ferret.url).connect()
  app = await createTestApp({ MONGODB_URL: ferret.url, MONGODB_DB: DB, REQUEST_TIMEOUT_MS: '1000' }, { clock: new ManualClock(Date.now()) })
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)

afterAll(async () => {
  if (!enabled) return
  await app?.close()
  await raw?.close()
  await ferret?.dispose()
})

const guidOf = () => crypto.randomUUID().replaceAll('-', '').toUpperCase()

/** Leaves in MongoDB the claim of a request under `key` whose request died (by default `POST /guid {user}` with the GUID it fixed). */
const deadClaim = async (
  key: string,
  user: string,
  guid: string,
  request: { method: string; path: string; body: object } = { method: 'POST', path: '/guid', body: { user } },
  extra: object = {},
): Promise<void> => {
  const fingerprint = fingerprintOf({ method: request.method, path: request.path, ifMatch: null, ifNoneMatch: null, body: new TextEncoder().encode(JSON.stringify(request.body)) })
  const now = app.clock.now()
  await raw
    .db(DB)
    .collection<Record<string, unknown> & { _id: string }>('idempotency')
    .insertOne({ _id: `-:${key}`, fingerprint, state: 'in-flight', token: 'dead', guid, leaseUntil: new Date(now + LEASE_MS), expireAt: new Date(now + 86_400_000), ...extra })
}

const retry = (key: string, user: string) => app.req('POST', '/guid', { user }, { 'idempotency-key': `"${key}"` })

describe.if(enabled)('MongoDB-only: a keyed create killed between its write and its answer', () => {
  test('the claim holds until its lease ends; the retry then answers the create that landed: one GUID', async () => {
    const key = `landed-${Date.now()}`
    const user = freshUser()
    const guid = guidOf()
    await deadClaim(key, user, guid)
    // The dead request's create, which landed.
    expect((await app.req('POST', '/guid', { guid, user })).status).toBe(201)
    const held = await retry(key, user)
    expect(held.headers.get('retry-after')).toBe('1')
    await expectProblem(held, 409, 'idempotency-key-in-flight')
    app.clock.advance(LEASE_MS + 1)
    const answered = await retry(key, user)
    expect(answered.status).toBe(201)
    expect(answered.headers.get('location')).toBe(`/guid/${guid}`)
    expect(((await answered.clone().json()) as { guid: string }).guid).toBe(guid)
    await expectReplay(answered, await retry(key, user))
    expect((await listPage(app.req, user)).items.map((i) => i.guid)).toEqual([guid])
  })

  test('a claim whose request died before its write: the retry creates the GUID the claim fixed', async () => {
    const key = `unwritten-${Date.now()}`
    const user = freshUser()
    const guid = guidOf()
    await deadClaim(key, user, guid)
    app.clock.advance(LEASE_MS + 1)
    const answered = await retry(key, user)
    expect(answered.status).toBe(201)
    expect(answered.headers.get('location')).toBe(`/guid/${guid}`)
    await expectReplay(answered, await retry(key, user))
    expect((await listPage(app.req, user)).items.map((i) => i.guid)).toEqual([guid])
  })

  test("another request under a dead claim's key is still 422", async () => {
    const key = `other-${Date.now()}`
    const user = freshUser()
    await deadClaim(key, user, guidOf())
    app.clock.advance(LEASE_MS + 1)
    await expectProblem(await retry(key, `${user} (another body)`), 422, 'idempotency-key-reused')
    expect((await listPage(app.req, `${user} (another body)`)).items).toEqual([])
  })
})

describe.if(enabled)('MongoDB-only: a keyed PATCH killed after it recorded its intent', () => {
  const patchBody = { user: 'patched' }

  test('its write landed: the retry after the lease replays the answer the intent recorded, and nothing is written again', async () => {
    const key = `intent-landed-${Date.now()}`
    const created = await app.req('POST', '/guid', { user: freshUser() })
    const { guid, expire } = (await created.json()) as { guid: string; expire: number }
    // The dead request's keyed PATCH, which landed...
    const patched = await app.req('PATCH', `/guid/${guid}`, patchBody, { 'idempotency-key': `"${key}"` })
    expect(patched.status).toBe(200)
    const etag = patched.headers.get('etag')!
    const version = Number(JSON.parse(etag))
    const keys = raw.db(DB).collection<Record<string, unknown> & { _id: string }>('idempotency')
    const { answer } = (await keys.findOne({ _id: `-:${key}` }))!
    // ... and whose instance died before it kept the answer: its claim is left as it was then,
    // in flight with its intent, under the token its write left in the GUID's document.
    const traces = (await raw.db(DB).collection<{ _id: string; keyed?: { t: string }[] }>('guids').findOne({ _id: guid }))?.keyed ?? []
    expect(traces.length).toBe(1)
    await keys.deleteOne({ _id: `-:${key}` })
    await deadClaim(key, '', guid, { method: 'PATCH', path: `/guid/${guid}`, body: patchBody }, { token: traces[0]!.t, intent: { guid, version, answer } })
    // Another client's write since: the GUID's version moved on, the trace stays.
    const later = await app.req('POST', `/guid/${guid}`, { user: 'other' })
    expect(later.status).toBe(200)
    app.clock.advance(LEASE_MS + 1)
    const retried = await app.req('PATCH', `/guid/${guid}`, patchBody, { 'idempotency-key': `"${key}"` })
    expect(retried.status).toBe(200)
    expect(retried.headers.get('idempotent-replayed')).toBe('true')
    expect(retried.headers.get('etag')).toBe(etag)
    expect(await retried.json()).toEqual({ guid, user: 'patched', expire })
    // Nothing written again: the other client's write is still the GUID's state.
    const read = await app.req('GET', `/guid/${guid}`)
    expect({ user: ((await read.json()) as { user: string }).user, etag: read.headers.get('etag') }).toEqual({ user: 'other', etag: later.headers.get('etag') })
  })

  test('its write did not land: the retry runs it', async () => {
    const key = `intent-unwritten-${Date.now()}`
    const created = await app.req('POST', '/guid', { user: freshUser() })
    const { guid, expire } = (await created.json()) as { guid: string; expire: number }
    const version = Number(JSON.parse(created.headers.get('etag')!)) + 1
    const answer = JSON.stringify({ status: 200, body: JSON.stringify({ guid, user: 'patched', expire }), etag: `"${version}"` })
    await deadClaim(key, '', guid, { method: 'PATCH', path: `/guid/${guid}`, body: patchBody }, { intent: { guid, version, answer } })
    app.clock.advance(LEASE_MS + 1)
    const retried = await app.req('PATCH', `/guid/${guid}`, patchBody, { 'idempotency-key': `"${key}"` })
    expect(retried.status).toBe(200)
    expect(retried.headers.get('idempotent-replayed')).toBeNull()
    expect(retried.headers.get('etag')).toBe(`"${version}"`)
    await expectReplay(retried, await app.req('PATCH', `/guid/${guid}`, patchBody, { 'idempotency-key': `"${key}"` }))
  })

  test("its write did not land, but another client's write made the intent's version meanwhile: the retry runs it, never replays the other write", async () => {
    // Found by the linearizability suite (histories/keyed-replay-of-another-write-mongodb-only.json):
    // "the GUID is at that version or later" was taken for "the write landed".
    const key = `intent-overtaken-${Date.now()}`
    const created = await app.req('POST', '/guid', { user: freshUser() })
    const { guid, expire } = (await created.json()) as { guid: string; expire: number }
    const version = Number(JSON.parse(created.headers.get('etag')!)) + 1
    const answer = JSON.stringify({ status: 200, body: JSON.stringify({ guid, user: 'patched', expire }), etag: `"${version}"` })
    await deadClaim(key, '', guid, { method: 'PATCH', path: `/guid/${guid}`, body: patchBody }, { intent: { guid, version, answer } })
    // While the dead claim's lease holds, another client's unkeyed write makes that version.
    const other = await app.req('POST', `/guid/${guid}`, { user: 'other' })
    expect(other.status).toBe(200)
    expect(other.headers.get('etag')).toBe(`"${version}"`)
    app.clock.advance(LEASE_MS + 1)
    const retried = await app.req('PATCH', `/guid/${guid}`, patchBody, { 'idempotency-key': `"${key}"` })
    expect(retried.status).toBe(200)
    expect(retried.headers.get('idempotent-replayed')).toBeNull()
    expect(retried.headers.get('etag')).toBe(`"${version + 1}"`)
    expect(await retried.clone().json()).toEqual({ guid, user: 'patched', expire })
    // The PATCH happened: a read sees it, and a repeat replays it without writing again.
    const read = await app.req('GET', `/guid/${guid}`)
    expect({ user: ((await read.json()) as { user: string }).user, etag: read.headers.get('etag') }).toEqual({ user: 'patched', etag: `"${version + 1}"` })
    await expectReplay(retried, await app.req('PATCH', `/guid/${guid}`, patchBody, { 'idempotency-key': `"${key}"` }))
    expect((await app.req('GET', `/guid/${guid}`)).headers.get('etag')).toBe(`"${version + 1}"`)
  })

  test("a keyed write's trace is carried forward by later writes while its claim may be taken over, then pruned by the next keyed write", async () => {
    const created = await app.req('POST', '/guid', { user: freshUser() })
    const { guid } = (await created.json()) as { guid: string }
    const guids = raw.db(DB).collection<{ _id: string; keyed?: { t: string; at: number }[] }>('guids')
    const tracesOf = async () => ((await guids.findOne({ _id: guid }))?.keyed ?? []).map((t) => t.t)
    const keyed = (n: number) => app.req('PATCH', `/guid/${guid}`, { user: `keyed-${n}` }, { 'idempotency-key': `"trace-${guid}-${n}"` })
    expect((await keyed(1)).status).toBe(200)
    const [first] = await tracesOf()
    expect(first).toBeDefined()
    app.clock.advance(10_000)
    // Unkeyed writes leave the traces as they are.
    expect((await app.req('PATCH', `/guid/${guid}`, { user: 'plain' })).status).toBe(200)
    expect(await tracesOf()).toEqual([first!])
    expect((await keyed(2)).status).toBe(200)
    const both = await tracesOf()
    expect(both.length).toBe(2)
    expect(both[0]).toBe(first!)
    // Kept until the first key's lease and IDEMPOTENCY_TTL_SECONDS (a day) are over...
    app.clock.advance(86_400_000 + LEASE_MS - 10_000 - 1_000)
    expect((await keyed(3)).status).toBe(200)
    const three = await tracesOf()
    expect(three.slice(0, 2)).toEqual(both)
    expect(three.length).toBe(3)
    // ... then its claim can no longer be taken over, and the next keyed write drops it.
    app.clock.advance(1_001)
    expect((await keyed(4)).status).toBe(200)
    const last = await tracesOf()
    expect(last.slice(0, 2)).toEqual(three.slice(1))
    expect(last.length).toBe(3)
  })

  test('once answered, the claim holds the answer and no longer its intent', async () => {
    const created = await app.req('POST', '/guid', { user: freshUser() })
    const { guid } = (await created.json()) as { guid: string }
    const key = `intent-recorded-${Date.now()}`
    const answered = await app.req('PATCH', `/guid/${guid}`, patchBody, { 'idempotency-key': `"${key}"` })
    expect(answered.status).toBe(200)
    // Answered: the claim is done, its intent gone, its answer the one given.
    const doc = await raw
      .db(DB)
      .collection<Record<string, unknown> & { _id: string }>('idempotency')
      .findOne({ _id: `-:${key}` })
    expect(doc).toMatchObject({ state: 'done' })
    expect(doc?.intent).toBeUndefined()
    expect(JSON.parse(String(doc?.answer))).toMatchObject({ status: 200, etag: answered.headers.get('etag') })
  })
})

describe.if(enabled)('MongoDB-only: two instances taking over one dead claim at once', () => {
  /** Two instances' keys (each its own client, as two processes have), on the app's clock. */
  const instances = async (): Promise<{ a: MongoIdempotency; b: MongoIdempotency; close: () => Promise<void> }> => {
    const stores = await Promise.all([0, 1].map(() => MongoStore.open({ url: ferret.url, dbName: DB, ttlIndex: false, clientOptions: { serverSelectionTimeoutMS: 2_000 } })))
    const keysOf = (store: MongoStore) => new MongoIdempotency(store, { clock: app.clock, writeConcern: { w: 'majority', journal: true }, leaseMs: LEASE_MS, ttlSeconds: 86_400 })
    return { a: keysOf(stores[0]!), b: keysOf(stores[1]!), close: async () => void (await Promise.all(stores.map((s) => s.close()))) }
  }

  test("one takes it over, the other is told it is in flight: never both (FerretDB applies an update's filter and its write apart)", async () => {
    const { a, b, close } = await instances()
    try {
      const run = `race-${Date.now()}`
      const keys = Array.from({ length: 60 }, (_, i) => `${run}-${i}`)
      const user = freshUser()
      for (const key of keys) await deadClaim(key, user, guidOf())
      app.clock.advance(LEASE_MS + 1)
      const fingerprint = fingerprintOf({ method: 'POST', path: '/guid', ifMatch: null, ifNoneMatch: null, body: new TextEncoder().encode(JSON.stringify({ user })) })
      const raced = await Promise.all(keys.map((key) => Promise.all([a.claim(`-:${key}`, fingerprint, guidOf()), b.claim(`-:${key}`, fingerprint, guidOf())])))
      const both = raced.filter(([x, y]) => x.kind === 'claimed' && y.kind === 'claimed').length
      expect({ both }).toEqual({ both: 0 })
      for (const pair of raced) expect(pair.map((c) => c.kind).sort()).toEqual(['claimed', 'in-flight'])
      // The winner holds the claim: its token is the document's, and it resumes the dead request's GUID.
      const docs = raw.db(DB).collection<{ _id: string; token?: string; guid?: string }>('idempotency')
      for (const [i, key] of keys.entries()) {
        const winner = raced[i]!.find((c) => c.kind === 'claimed')
        const doc = await docs.findOne({ _id: `-:${key}` })
        expect(winner?.kind === 'claimed' && { token: winner.token, resumed: winner.resumed, guid: winner.guid }).toEqual({ token: doc!.token!, resumed: true, guid: doc!.guid! })
      }
    } finally {
      await close()
    }
  })

  test('a taker that died mid-takeover holds its turn until its lease ends; then the next retry takes the claim over', async () => {
    const key = `dead-taker-${Date.now()}`
    const user = freshUser()
    const guid = guidOf()
    await deadClaim(key, user, guid)
    app.clock.advance(LEASE_MS + 1)
    // A retry that won the turn for the dead claim (token 'dead'), then died before its update.
    await raw
      .db(DB)
      .collection<{ _id: string; leaseUntil: Date; expireAt: Date }>('idempotency_takeovers')
      .insertOne({ _id: JSON.stringify([`-:${key}`, 'dead', 0]), leaseUntil: new Date(app.clock.now() + LEASE_MS), expireAt: new Date(app.clock.now() + 86_400_000) })
    await expectProblem(await retry(key, user), 409, 'idempotency-key-in-flight')
    app.clock.advance(LEASE_MS + 1)
    const created = await retry(key, user)
    expect(created.status).toBe(201)
    expect(((await created.json()) as { guid: string }).guid).toBe(guid)
    expect((await listPage(app.req, user)).items.map((i) => i.guid)).toEqual([guid])
  })

  test('turns are swept with the keys, once their day is over', async () => {
    const { a, b, close } = await instances()
    try {
      const key = `swept-${Date.now()}`
      const user = freshUser()
      await deadClaim(key, user, guidOf())
      app.clock.advance(LEASE_MS + 1)
      const fingerprint = fingerprintOf({ method: 'POST', path: '/guid', ifMatch: null, ifNoneMatch: null, body: new TextEncoder().encode(JSON.stringify({ user })) })
      expect((await a.claim(`-:${key}`, fingerprint, guidOf())).kind).toBe('claimed')
      const turns = raw.db(DB).collection<{ _id: string }>('idempotency_takeovers')
      const mine = { _id: JSON.stringify([`-:${key}`, 'dead', 0]) }
      expect(await turns.countDocuments(mine)).toBe(1)
      await b.sweep(Math.floor(app.clock.now() / 1000) + 60, 10_000)
      expect(await turns.countDocuments(mine)).toBe(1)
      await b.sweep(Math.floor(app.clock.now() / 1000) + 86_400 + 1, 10_000)
      expect(await turns.countDocuments(mine)).toBe(0)
    } finally {
      await close()
    }
  })
})

describe.if(enabled)('MongoDB-only: a keyed write answered 503 after its write landed', () => {
  /** A store whose next write of a GUID's document lands, then fails as a lost reply does (503, its outcome unknown). */
  class LostReplyStore extends MongoStore {
    loseNext = false
    override async connected() {
      const { db, docs } = await super.connected()
      const updateOne: typeof docs.updateOne = async (...args: Parameters<typeof docs.updateOne>) => {
        const result = await docs.updateOne(...args)
        // The journal's write (not the feed's sequencer clearing an outbox).
        if (!this.loseNext || !('$set' in (args[1] as object))) return result
        this.loseNext = false
        throw new MongoNetworkError('connection reset (the reply was lost)')
      }
      return { db, docs: Object.assign(Object.create(docs), { updateOne }) as typeof docs }
    }
  }

  test('the retry with the key replays the write that landed, and nothing is written again', async () => {
    const store = new LostReplyStore({ url: ferret.url, dbName: DB, ttlIndex: false, clientOptions: { serverSelectionTimeoutMS: 2_000 } })
    const lossy = await createTestApp({ MONGODB_URL: ferret.url, MONGODB_DB: DB, REQUEST_TIMEOUT_MS: '1000' }, { clock: new ManualClock(Date.now()), store })
    try {
      const created = await lossy.req('POST', '/guid', { user: freshUser() })
      const { guid, expire } = (await created.json()) as { guid: string; expire: number }
      const version = Number(JSON.parse(created.headers.get('etag')!))
      const key = `lost-reply-${guid}`
      const patch = () => lossy.req('PATCH', `/guid/${guid}`, { user: 'patched' }, { 'idempotency-key': `"${key}"`, 'if-match': `"${version}"` })
      store.loseNext = true
      expect((await patch()).status).toBe(503)
      const retried = await patch()
      expect(retried.status).toBe(200)
      expect(retried.headers.get('idempotent-replayed')).toBe('true')
      expect(retried.headers.get('etag')).toBe(`"${version + 1}"`)
      expect(await retried.json()).toEqual({ guid, user: 'patched', expire })
      expect((await lossy.req('GET', `/guid/${guid}`)).headers.get('etag')).toBe(`"${version + 1}"`)
    } finally {
      await lossy.close()
    }
  })
})
