import { afterEach, describe, expect, test } from 'bun:test'
import type { Mutation } from '../../src/domain/model'
import type { SqliteStore } from '../../src/adapters/sqlite/store'
import { createTestApp, T0_SECONDS, type TestApp } from '../support/app'
import { createGuid, expectProblem, GUID } from '../support/http'

/**
 * Issue 7, holes 1 and 3, found from outside: an acknowledged write must never be reverted
 * (a PATCH that shortens `expire` came back as the older record once it expired), and an
 * ETag must never repeat across expiry (a kept If-Match matched the GUID's next incarnation).
 */

let app: TestApp
afterEach(() => app.close())

const path = `/guid/${GUID}`
const DAY = 86_400

/**
 * Makes the next commit land 2 s late (a slow disk, a long group-commit window): the clock
 * moves on while the write is being committed, after it was validated and decided.
 */
const commitLate = (app: TestApp) => {
  const store = app.runtime.store as SqliteStore
  const apply = store.applyBatchSync.bind(store) as (mutations: readonly Mutation[], ...rest: number[]) => ReturnType<SqliteStore['applyBatchSync']>
  store.applyBatchSync = ((mutations: readonly Mutation[], ...rest: number[]) => {
    app.clock.advance(2_000)
    store.applyBatchSync = apply
    // (The code before the fix took the commit's instant as an argument.)
    return apply(mutations, ...rest.map((sec) => sec + 2))
  }) as SqliteStore['applyBatchSync']
}

describe('an acknowledged PATCH that shortens expire', () => {
  test.each([
    ['group commit at the end of the I/O turn', {}],
    ['group commit window of 50 ms', { COMMIT_WINDOW_MS: '50' }],
  ])('%s: after it expires the GUID is gone, never the older record', async (_name, env) => {
    app = await createTestApp(env)
    await createGuid(app, GUID, { user: 'orig', expire: T0_SECONDS + DAY })
    // The commit lands after the new expire has passed: it must still replace the older version.
    commitLate(app)
    expect((await app.req('PATCH', path, { user: 'short', expire: T0_SECONDS + 1 })).status).toBe(200)
    await expectProblem(await app.req('GET', path), 404, 'not-found')
    // Nothing below the LRU may bring the older version back either.
    app.runtime.lru.clear()
    await expectProblem(await app.req('GET', path), 404, 'not-found')
  })

  test('the store alone holds the newer, expired state', async () => {
    app = await createTestApp({ COMMIT_WINDOW_MS: '50' })
    await createGuid(app, GUID, { user: 'orig', expire: T0_SECONDS + DAY })
    commitLate(app)
    expect((await app.req('PATCH', path, { user: 'short', expire: T0_SECONDS + 1 })).status).toBe(200)
    expect(await app.runtime.store.get(GUID, T0_SECONDS + 2)).toBeNull()
    expect(await app.runtime.store.applyBatch([{ next: { guid: GUID, user: 'orig', expire: T0_SECONDS + DAY, version: 1 }, prevVersion: 0 }])).toEqual(['stale'])
  })
})

describe('ETags never repeat across expiry', () => {
  test('an If-Match kept from an expired incarnation is 412 on the next one', async () => {
    app = await createTestApp()
    const first = await createGuid(app, GUID, { user: 'first', expire: T0_SECONDS + 2 })
    app.clock.advance(3_000)
    // Expired, and swept from the store: nothing of the first incarnation is left.
    await app.runtime.store.sweepExpired(T0_SECONDS + 3, 1_000)
    app.runtime.lru.clear()
    const second = await createGuid(app, GUID, { user: 'second' })
    expect(second).not.toBe(first)
    await expectProblem(await app.req('PATCH', path, { user: 'stale writer' }, { 'if-match': first }), 412, 'precondition-failed')
    await expectProblem(await app.req('DELETE', path, undefined, { 'if-match': first }), 412, 'precondition-failed')
    expect(await (await app.req('GET', path)).json()).toMatchObject({ user: 'second' })
  })

  test('across a delete whose tombstone has gone too', async () => {
    app = await createTestApp({ TOMBSTONE_TTL_SECONDS: '1' })
    const first = await createGuid(app, GUID, { user: 'first' })
    expect((await app.req('DELETE', path)).status).toBe(204)
    app.clock.advance(2_000)
    await app.runtime.store.sweepExpired(T0_SECONDS + 2, 1_000)
    app.runtime.lru.clear()
    const second = await createGuid(app, GUID, { user: 'second' })
    expect(second).not.toBe(first)
    await expectProblem(await app.req('PATCH', path, { user: 'x' }, { 'if-match': first }), 412, 'precondition-failed')
  })

  test('versions still grow by one per change within an incarnation', async () => {
    app = await createTestApp()
    const first = Number(JSON.parse(await createGuid(app, GUID)))
    const patched = await app.req('PATCH', path, { user: 'next' })
    expect(patched.headers.get('etag')).toBe(`"${first + 1}"`)
  })
})
