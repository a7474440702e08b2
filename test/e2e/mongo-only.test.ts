import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MongoClient } from 'mongodb'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { startGuidd, urlOf } from '../support/guidd-process'
import { type Started, waitForHttp } from '../support/process'
import { etagVersion, send as sendTo } from '../support/requests'

/**
 * MongoDB-only mode (MONGODB_URL without REDIS_URL) end to end: the real server on a
 * FerretDB of the test's own, over real HTTP. The API in this mode, then an outage of the
 * database: writes answer 503 with Retry-After and /readyz names mongodb while it lasts,
 * and once it is back writes succeed and nothing acknowledged is lost.
 */

const DB = 'guidd_mongo_only'

const enabled = ferretdbSuites('MongoDB-only mode end-to-end')
let ferret: TestFerretdb
let server: Started
/** The server, once started: afterAll stops it even if it never got ready. */
const started: Started[] = []
let base: string

beforeAll(async () => {
  if (!enabled) return
  ferret = await startFerretdb()
  // Empty is unset: none of the runner's own settings leak in.
  const env = { MONGODB_URL: ferret.url, MONGODB_DB: DB, REDIS_URL: '', API_KEYS: '', LOG_LEVEL: 'warn', HOST: '127.0.0.1' }
  server = await startGuidd({ name: 'guidd (mongodb-only)', env, started, ready: '/readyz' })
  base = urlOf(server)
  // The first run on a machine builds FerretDB (scripts/ferretdb; .ci/run starts that build early).
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)

afterAll(async () => {
  if (!enabled) return
  for (const s of started) await s.stop(2_000)
  await ferret?.dispose()
})

/** A request to the one server of this file. */
const send = (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response> => sendTo(base, method, path, body, headers)

describe.if(enabled)('MongoDB-only mode', () => {
  test('the server says which mode it runs in', () => {
    expect(server.output()).toContain('"mode":"mongodb"')
  })

  test('create, read, 304, patch, 412 on a stale If-Match, delete, 404, re-create with a new ETag', async () => {
    const guid = 'A0000000000000000000000000000001'
    const created = await send('POST', '/guid', { guid, user: 'first' })
    expect(created.status).toBe(201)
    const v1 = etagVersion(created)
    // A first version: the creation second times 10^6, plus 1.
    expect(v1 % 1_000_000).toBe(1)
    expect(await created.json()).toMatchObject({ guid, user: 'first' })

    const read = await send('GET', `/guid/${guid}`)
    expect(read.status).toBe(200)
    expect(etagVersion(read)).toBe(v1)
    expect(await read.json()).toMatchObject({ guid, user: 'first' })

    const notModified = await send('GET', `/guid/${guid}`, undefined, { 'if-none-match': `"${v1}"` })
    expect(notModified.status).toBe(304)

    const patched = await send('PATCH', `/guid/${guid}`, { user: 'second' }, { 'if-match': `"${v1}"` })
    expect(patched.status).toBe(200)
    expect(etagVersion(patched)).toBe(v1 + 1)

    const stale = await send('PATCH', `/guid/${guid}`, { user: 'third' }, { 'if-match': `"${v1}"` })
    expect(stale.status).toBe(412)
    expect((await stale.json()).type).toBe('urn:guidd:problem:precondition-failed')

    // What the server answers is what MongoDB holds: the document MongoStore reads.
    const client = new MongoClient(ferret.url)
    try {
      const doc = await client.db(DB).collection<{ _id: string }>('guids').findOne({ _id: guid })
      expect(doc).toMatchObject({ _id: guid, user: 'second', version: v1 + 1 })
    } finally {
      await client.close()
    }

    const deleted = await send('DELETE', `/guid/${guid}`, undefined, { 'if-match': `"${v1 + 1}"` })
    expect(deleted.status).toBe(204)
    expect((await send('GET', `/guid/${guid}`)).status).toBe(404)
    expect((await send('PATCH', `/guid/${guid}`, { user: 'x' })).status).toBe(404)

    const again = await send('POST', '/guid', { guid, user: 'reborn' })
    expect(again.status).toBe(201)
    const v3 = etagVersion(again)
    expect(v3).toBeGreaterThan(v1 + 2)
    // An If-Match kept from the earlier incarnation never matches the new one.
    expect((await send('PATCH', `/guid/${guid}`, { user: 'y' }, { 'if-match': `"${v1 + 1}"` })).status).toBe(412)
    expect((await send('POST', '/guid', { guid, user: 'dup' })).status).toBe(409)
  }, 30_000)

  test('a GUID is gone the instant its expire passes, and may be created anew above its old versions', async () => {
    const guid = 'A0000000000000000000000000000002'
    const expire = Math.floor(Date.now() / 1000) + 2
    const created = await send('POST', `/guid/${guid}`, { user: 'short', expire })
    expect(created.status).toBe(201)
    const v1 = etagVersion(created)
    const patched = await send('PATCH', `/guid/${guid}`, { user: 'short2' })
    expect(patched.status).toBe(200)
    // Real time, bounded: the server's own clock must pass `expire`.
    const deadline = Date.now() + 5_000
    let status = 200
    while (status === 200 && Date.now() < deadline) {
      const res = await send('GET', `/guid/${guid}`)
      status = res.status
      await res.arrayBuffer()
      if (status === 200) await Bun.sleep(100)
    }
    expect(status).toBe(404)
    expect(Date.now() / 1000).toBeGreaterThanOrEqual(expire)
    expect((await send('PATCH', `/guid/${guid}`, { user: 'late' })).status).toBe(404)
    const again = await send('POST', '/guid', { guid, user: 'next' })
    expect(again.status).toBe(201)
    expect(etagVersion(again)).toBeGreaterThan(v1 + 1)
    expect((await send('GET', `/guid/${guid}`)).status).toBe(200)
  }, 15_000)

  test('while MongoDB is down writes get 503 with Retry-After and /readyz names mongodb; once back nothing acknowledged is lost', async () => {
    const guids = Array.from({ length: 20 }, (_, i) => `B00000000000000000000000000000${i.toString(16).padStart(2, '0')}`.toUpperCase())
    const acked = new Map<string, number>()
    for (const guid of guids) {
      const res = await send('POST', '/guid', { guid, user: `before-${guid}` })
      expect(res.status).toBe(201)
      acked.set(guid, etagVersion(res))
    }

    await ferret.stop()
    try {
      const write = await send('PATCH', `/guid/${guids[0]}`, { user: 'during' }, { 'if-match': `"${acked.get(guids[0]!)}"` })
      expect(write.status).toBe(503)
      expect(write.headers.get('retry-after')).toBe('1')
      expect((await write.json()).type).toBe('urn:guidd:problem:unavailable')
      const create = await send('POST', '/guid', { user: 'during' })
      expect(create.status).toBe(503)
      expect(create.headers.get('retry-after')).toBe('1')
      await create.arrayBuffer()

      const ready = await send('GET', '/readyz')
      expect(ready.status).toBe(503)
      expect(ready.headers.get('retry-after')).not.toBeNull()
      const body = (await ready.json()) as { checks: Record<string, string> }
      expect(Object.keys(body.checks)).toContain('mongodb')
      expect(body.checks.mongodb).not.toBe('ok')
    } finally {
      await ferret.start()
    }

    // Back: /readyz recovers by itself (its probe write), and writes succeed again.
    await waitForHttp(`${base}/readyz`, server, 200, 15_000)
    const after = await send('PATCH', `/guid/${guids[0]}`, { user: 'after' }, { 'if-match': `"${acked.get(guids[0]!)}"` })
    // The write tried during the outage never reached the server (it was down), so If-Match still holds.
    expect(after.status).toBe(200)
    acked.set(guids[0]!, etagVersion(after))

    for (const guid of guids) {
      const res = await send('GET', `/guid/${guid}`)
      expect(res.status).toBe(200)
      expect(etagVersion(res)).toBe(acked.get(guid)!)
      await res.arrayBuffer()
    }
  }, 60_000)
})
