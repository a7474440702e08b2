import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, T0_SECONDS, type TestApp } from '../support/app'
import { createGuid, etagAt, expectProblem, GUID, versionOf } from '../support/http'

const THIRTY_DAYS = 2_592_000

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
})
afterEach(() => app.close())

describe('POST /guid', () => {
  test('generates a canonical GUID: 201, Location, the first ETag of its creation second, body exactly {guid,user,expire}', async () => {
    const res = await app.req('POST', '/guid', { user: 'Cylance, Inc.' })
    expect(res.status).toBe(201)
    expect(res.headers.get('content-type')).toStartWith('application/json')
    const body = (await res.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['expire', 'guid', 'user'])
    expect(body.guid).toMatch(/^[0-9A-F]{32}$/)
    expect(body.user).toBe('Cylance, Inc.')
    expect(res.headers.get('location')).toBe(`/guid/${body.guid}`)
    expect(res.headers.get('etag')).toBe(etagAt(1))
  })

  test('generated GUIDs differ', async () => {
    const guids = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const res = await app.req('POST', '/guid', { user: 'u' })
      guids.add(((await res.json()) as { guid: string }).guid)
    }
    expect(guids.size).toBe(20)
  })

  test('expire defaults to now + 30 days on the service clock', async () => {
    const res = await app.req('POST', '/guid', { user: 'u' })
    expect(((await res.json()) as { expire: number }).expire).toBe(T0_SECONDS + THIRTY_DAYS)
  })

  test.each([
    ['uppercase', GUID],
    ['lowercase', GUID.toLowerCase()],
    ['hyphenated', '9094e4c9-80c7-4043-a4b5-86b420e69ddf'],
    ['braced hyphenated', '{9094E4C9-80C7-4043-A4B5-86B420E69DDF}'],
  ])('accepts a given GUID %s and answers it canonical', async (_form, guid) => {
    const res = await app.req('POST', '/guid', { guid, user: 'u', expire: 1893456000 })
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe(`/guid/${GUID}`)
    expect(res.headers.get('etag')).toBe(etagAt(1))
    expect(await res.json()).toEqual({ guid: GUID, user: 'u', expire: 1893456000 })
    const read = await app.req('GET', `/guid/${GUID}`)
    expect(read.status).toBe(200)
  })

  test.each([
    '9094E4C980C74043A4B586B420E69DD',
    '9094E4C980C74043A4B586B420E69DDG',
    '{9094E4C980C74043A4B586B420E69DDF}',
    '{9094e4c9-80c7-4043-a4b5-86b420e69ddf',
    '9094e4c980c7-4043-a4b5-86b420e69ddf',
    '',
  ])('rejects the malformed GUID %p with 400', async (guid) => {
    const body = await expectProblem(await app.req('POST', '/guid', { guid, user: 'u' }), 400, 'invalid-guid')
    expect(body.errors?.[0]?.path).toBe('/guid')
  })

  test('user is required', async () => {
    const body = await expectProblem(await app.req('POST', '/guid', { expire: 1893456000 }), 400, 'validation')
    expect(body.errors?.map((e) => e.path)).toContain('/user')
  })

  test('409 when the GUID exists, in whatever form it is named', async () => {
    await createGuid(app)
    await expectProblem(await app.req('POST', '/guid', { guid: GUID.toLowerCase(), user: 'other' }), 409, 'guid-exists')
    expect(await (await app.req('GET', `/guid/${GUID}`)).json()).toMatchObject({ user: 'owner' })
  })

  test('concurrent creates of one GUID: exactly one 201, the rest 409', async () => {
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => app.req('POST', '/guid', { guid: GUID, user: `u${i}` })))
    const statuses = all.map((r) => r.status).sort()
    expect(statuses).toEqual([201, ...Array<number>(9).fill(409)])
  })

  test('after the old one expired, the same GUID is created anew with an ETag above every earlier one; an old If-Match is 412', async () => {
    const created = await createGuid(app, GUID, { user: 'old', expire: T0_SECONDS + 60 })
    const changed = (await app.req('PATCH', `/guid/${GUID}`, { user: 'old, changed' })).headers.get('etag')!
    expect([created, changed]).toEqual([etagAt(1), etagAt(2)])
    app.clock.advance(60_000)
    const res = await app.req('POST', '/guid', { guid: GUID, user: 'new' })
    expect(res.status).toBe(201)
    // The new incarnation starts from its own creation second, T0 + 60.
    const etag = res.headers.get('etag')!
    expect(etag).toBe(etagAt(1, T0_SECONDS + 60))
    for (const earlier of [created, changed]) {
      expect(etag).not.toBe(earlier)
      expect(versionOf(etag)).toBeGreaterThan(versionOf(earlier))
    }
    expect(await res.json()).toEqual({ guid: GUID, user: 'new', expire: T0_SECONDS + 60 + THIRTY_DAYS })
    for (const earlier of [created, changed]) {
      await expectProblem(await app.req('PATCH', `/guid/${GUID}`, { user: 'stale' }, { 'if-match': earlier }), 412, 'precondition-failed')
    }
    const read = await app.req('GET', `/guid/${GUID}`)
    expect(read.headers.get('etag')).toBe(etag)
    expect(await read.json()).toMatchObject({ user: 'new' })
  })

  test('after a DELETE, the same GUID is created anew, its version continuing past the tombstone', async () => {
    await createGuid(app)
    expect((await app.req('DELETE', `/guid/${GUID}`)).status).toBe(204)
    const res = await app.req('POST', '/guid', { guid: GUID, user: 'again' })
    expect(res.status).toBe(201)
    // n=1 created, n=2 the delete's tombstone, n=3 the new record (all within T0's second):
    // an ETag never names two records.
    expect(res.headers.get('etag')).toBe(etagAt(3))
    expect((await app.req('PATCH', `/guid/${GUID}`, { user: 'x' }, { 'if-match': etagAt(1) })).status).toBe(412)
  })

  test('once the tombstone is gone, a re-create still takes a version above every earlier one; an old If-Match is 412', async () => {
    const created = await createGuid(app)
    expect(created).toBe(etagAt(1))
    expect((await app.req('DELETE', `/guid/${GUID}`)).status).toBe(204)
    const later = T0_SECONDS + app.config.TOMBSTONE_TTL_SECONDS + 1
    app.clock.set(later * 1000)
    const res = await app.req('POST', '/guid', { guid: GUID, user: 'again' })
    expect(res.status).toBe(201)
    // Nothing of the earlier incarnation is left, yet its versions (the create, the delete's
    // tombstone) are below the new one: the floor is the creation second.
    const etag = res.headers.get('etag')!
    expect(etag).toBe(etagAt(1, later))
    for (const earlier of [created, etagAt(2)]) {
      expect(etag).not.toBe(earlier)
      expect(versionOf(etag)).toBeGreaterThan(versionOf(earlier))
    }
    await expectProblem(await app.req('PATCH', `/guid/${GUID}`, { user: 'stale' }, { 'if-match': created }), 412, 'precondition-failed')
    expect(await (await app.req('GET', `/guid/${GUID}`)).json()).toMatchObject({ user: 'again' })
  })

  test('the record survives the LRU: a fresh read from the store has the same fields', async () => {
    await createGuid(app, GUID, { user: 'u', expire: '2030-01-01T00:00:00Z' })
    app.runtime.lru.clear()
    const res = await app.req('GET', `/guid/${GUID}`)
    expect(res.headers.get('etag')).toBe(etagAt(1))
    expect(await res.json()).toEqual({ guid: GUID, user: 'u', expire: 1893456000 })
  })
})
