import { describe, expect, test } from 'bun:test'
import { redisKeys } from '../../src/adapters/redis/keys'
import { RedisJournal } from '../../src/adapters/redis/journal'
import type { Stored } from '../../src/domain/model'
import { expectProblem } from '../support/http'
import { eventually } from '../support/eventually'
import { redisAppSuite } from '../support/redis-app'

/**
 * Issue 7 in Redis mode. Hole 1: an acknowledged PATCH that shortened `expire` came back as
 * the older record once it expired (Redis dropped the newer state at its expire, and the
 * read fell through to a store the flusher had not caught up with). Hole 2: a state whose
 * JSON cjson cannot decode made the compare-and-set read its version as 0, so every later
 * write of that GUID lost the race forever.
 */

const redis = redisAppSuite('Redis mode: acknowledged writes')

describe.if(redis.enabled)('Redis mode: no acknowledged write is reverted', () => {
  test('a PATCH that shortens expire, while the flusher lags: every instance answers 404 after it expires, never the older record', async () => {
    // Two instances on one prefix, one store (behind a switch) and one clock.
    const first = await redis.app()
    const { app: a, keys, store, clock } = first
    const now = () => Math.floor(clock.now() / 1000)
    const created = await a.req('POST', '/guid', { user: 'orig', expire: now() + 86_400 })
    expect(created.status).toBe(201)
    const { guid } = (await created.json()) as { guid: string }
    await eventually('the create reaches the store', async () => (await redis.client.xLen(keys.journal)) === 0)

    // The store goes down: the PATCH is acknowledged by the journal alone.
    store.down = true
    expect((await a.req('PATCH', `/guid/${guid}`, { user: 'short', expire: now() + 1 })).status).toBe(200)
    clock.advance(2_000)

    await expectProblem(await a.req('GET', `/guid/${guid}`), 404, 'not-found')
    // Another instance, with nothing in its LRU: Redis must still know the newer (expired) state.
    const { app: b } = await redis.app({ like: first })
    await expectProblem(await b.req('GET', `/guid/${guid}`), 404, 'not-found')
    // A conditional write naming the first incarnation's ETag cannot land.
    const etag = created.headers.get('etag')!
    await expectProblem(await b.req('POST', `/guid/${guid}`, { user: 'x' }, { 'if-match': etag }), 412, 'precondition-failed')

    // The store comes back; once the journal drains, the store alone holds the newer state.
    store.down = false
    await eventually('the journal drains', async () => (await redis.client.xLen(keys.journal)) === 0)
    expect(await store.get(guid, now())).toBeNull()
    expect(await store.applyBatch([{ next: { guid, user: 'orig', expire: now() + 86_400, version: Number(JSON.parse(etag)) }, prevVersion: 0 }])).toEqual(['stale'])
  })
})

describe.if(redis.enabled)('Redis mode: no content makes the compare-and-set misread a version', () => {
  test('a state cjson cannot decode (a lone surrogate) still has its version read', async () => {
    const keys = redisKeys(redis.server.prefix())
    const journal = new RedisJournal({ client: redis.client as never, keys, maxLag: 1_000, timeoutMs: 2_000, instanceId: 'test', retainSeconds: 60 })
    const guid = '0123456789ABCDEF0123456789ABCDEF'
    const expire = Math.floor(Date.now() / 1000) + 3_600
    const first: Stored = { guid, user: 'bad \ud800 user', expire, version: 7 }
    await journal.append({ next: first, prevVersion: 0 })
    await journal.append({ next: { guid, user: 'fine', expire, version: 8 }, prevVersion: 7 })
    await journal.append({ next: { guid, version: 9, expire, deleted: true }, prevVersion: 8 })
  })

  test('POST with a lone surrogate in user is 400, and the GUID stays writable', async () => {
    const { app } = await redis.app()
    const guid = 'ABCDEF0123456789ABCDEF0123456789'
    const refused = await app.runtime.app.handle(new Request('http://localhost/guid', { method: 'POST', body: `{"guid":"${guid}","user":"\\ud800"}`, headers: { 'content-type': 'application/json' } }))
    await expectProblem(refused, 400, 'validation')
    expect((await app.req('POST', `/guid/${guid}`, { user: 'ok' })).status).toBe(201)
    expect((await app.req('PATCH', `/guid/${guid}`, { user: 'ok again' })).status).toBe(200)
    expect((await app.req('DELETE', `/guid/${guid}`)).status).toBe(204)
  })
})

describe.if(redis.enabled)('Redis mode: a refusal is never decided on a copy that trails another instance', () => {
  // Found by the linearizability check: B answered 412 to an If-Match naming the version A had
  // just acknowledged, because B's LRU still held the version before (its invalidation was in
  // flight). A refusal writes nothing, so no compare-and-set would have caught it.
  const setup = async () => {
    const a = await redis.app()
    const b = await redis.app({ like: a })
    return { a: a.app, b: b.app }
  }

  test('If-Match with the version another instance just acknowledged: 200, not 412', async () => {
    const { a, b } = await setup()
    const created = await a.req('POST', '/guid', { user: 'v1' })
    const { guid } = (await created.json()) as { guid: string }
    const first = (await (await b.req('GET', `/guid/${guid}`)).json()) as { user: string; expire: number }
    const patched = await a.req('PATCH', `/guid/${guid}`, { user: 'v2' })
    expect(patched.status).toBe(200)
    // B's invalidation is late: its LRU still holds the first version.
    b.runtime.lru.set({ guid, ...first, version: Number(JSON.parse(created.headers.get('etag')!)) }, 0)
    const res = await b.req('PATCH', `/guid/${guid}`, { user: 'v3' }, { 'if-match': patched.headers.get('etag')! })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ user: 'v3' })
  })

  test('PATCH of a GUID another instance just created: 200, not 404', async () => {
    const { a, b } = await setup()
    const guid = '00112233445566778899AABBCCDDEEFF'
    await expectProblem(await b.req('GET', `/guid/${guid}`), 404, 'not-found')
    expect((await a.req('POST', `/guid/${guid}`, { user: 'created on A' })).status).toBe(201)
    // B's invalidation is late: its LRU still remembers the GUID as absent.
    b.runtime.lru.setAbsent(guid)
    expect((await b.req('PATCH', `/guid/${guid}`, { user: 'patched on B' })).status).toBe(200)
  })
})
