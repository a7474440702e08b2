import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, T0_SECONDS, type TestApp } from '../support/app'
import { createGuid, etagAt, expectProblem, GUID, OTHER_GUID, versionOf } from '../support/http'

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
})
afterEach(() => app.close())

const path = `/guid/${GUID}`

describe('POST /guid/{guid}: create', () => {
  test('creates with 201, Location and the first ETag of its creation second', async () => {
    const res = await app.req('POST', `/guid/${GUID.toLowerCase()}`, { user: 'u', expire: '1893456000' })
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe(path)
    expect(res.headers.get('etag')).toBe(etagAt(1))
    expect(await res.json()).toEqual({ guid: GUID, user: 'u', expire: 1893456000 })
  })

  test('expire defaults to now + 30 days', async () => {
    const res = await app.req('POST', path, { user: 'u' })
    expect(await res.json()).toMatchObject({ expire: T0_SECONDS + 2_592_000 })
  })

  test('requires user', async () => {
    const body = await expectProblem(await app.req('POST', path, { expire: 1893456000 }), 400, 'validation')
    expect(body.errors?.[0]?.path).toBe('/user')
    expect((await app.req('GET', path)).status).toBe(404)
  })

  test('If-Match on an absent GUID is 412 and creates nothing', async () => {
    await expectProblem(await app.req('POST', path, { user: 'u' }, { 'if-match': etagAt(1) }), 412, 'precondition-failed')
    await expectProblem(await app.req('POST', path, { user: 'u' }, { 'if-match': '*' }), 412, 'precondition-failed')
    expect((await app.req('GET', path)).status).toBe(404)
  })

  test('If-None-Match: * creates when absent', async () => {
    expect((await app.req('POST', path, { user: 'u' }, { 'if-none-match': '*' })).status).toBe(201)
  })

  test('creates anew over an expired record, with an ETag above the old one', async () => {
    const old = await createGuid(app, GUID, { user: 'old', expire: T0_SECONDS + 10 })
    app.clock.advance(10_000)
    const res = await app.req('POST', path, { user: 'new' })
    expect(res.status).toBe(201)
    const etag = res.headers.get('etag')!
    expect(etag).toBe(etagAt(1, T0_SECONDS + 10))
    expect(versionOf(etag)).toBeGreaterThan(versionOf(old))
    await expectProblem(await app.req('POST', path, { user: 'stale' }, { 'if-match': old }), 412, 'precondition-failed')
  })

  test('400 for a malformed GUID in the path', async () => {
    await expectProblem(await app.req('POST', '/guid/not-a-guid', { user: 'u' }), 400, 'invalid-guid')
  })
})

describe('POST /guid/{guid}: update', () => {
  beforeEach(() => createGuid(app, GUID, { user: 'owner', expire: 1893456000 }))

  test('updates with 200 and bumps the ETag', async () => {
    const res = await app.req('POST', path, { user: 'changed' })
    expect(res.status).toBe(200)
    expect(res.headers.get('location')).toBeNull()
    expect(res.headers.get('etag')).toBe(etagAt(2))
    expect(await res.json()).toEqual({ guid: GUID, user: 'changed', expire: 1893456000 })
    const again = await app.req('POST', path, { expire: 1893456001 })
    expect(again.headers.get('etag')).toBe(etagAt(3))
    expect(await again.json()).toEqual({ guid: GUID, user: 'changed', expire: 1893456001 })
  })

  test.each([
    ['the same form', GUID],
    ['lowercase', GUID.toLowerCase()],
    ['braced hyphenated', '{9094e4c9-80c7-4043-a4b5-86b420e69ddf}'],
  ])('accepts guid in the body when it equals the path (%s)', async (_form, guid) => {
    const res = await app.req('POST', path, { guid, user: 'whole record', expire: 1893456000 })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ guid: GUID, user: 'whole record', expire: 1893456000 })
  })

  test('400 when guid in the body names another GUID', async () => {
    const body = await expectProblem(await app.req('POST', path, { guid: OTHER_GUID, user: 'x' }), 400, 'validation')
    expect(body.errors?.[0]?.path).toBe('/guid')
    expect((await app.req('GET', `/guid/${OTHER_GUID}`)).status).toBe(404)
    expect(await (await app.req('GET', path)).json()).toMatchObject({ user: 'owner' })
  })

  test('If-Match that matches: 200', async () => {
    const res = await app.req('POST', path, { user: 'x' }, { 'if-match': etagAt(1) })
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe(etagAt(2))
  })

  test('If-Match: * on an existing GUID: 200', async () => {
    expect((await app.req('POST', path, { user: 'x' }, { 'if-match': '*' })).status).toBe(200)
  })

  test('If-Match mismatch: 412 and no change', async () => {
    await expectProblem(await app.req('POST', path, { user: 'x' }, { 'if-match': etagAt(7) }), 412, 'precondition-failed')
    const read = await app.req('GET', path)
    expect(read.headers.get('etag')).toBe(etagAt(1))
    expect(await read.json()).toMatchObject({ user: 'owner' })
  })

  test('If-Match with a weak tag never matches (strong comparison): 412', async () => {
    await expectProblem(await app.req('POST', path, { user: 'x' }, { 'if-match': `W/${etagAt(1)}` }), 412, 'precondition-failed')
  })

  test('If-None-Match: * on an existing GUID: 412', async () => {
    await expectProblem(await app.req('POST', path, { user: 'x' }, { 'if-none-match': '*' }), 412, 'precondition-failed')
    expect((await app.req('GET', path)).headers.get('etag')).toBe(etagAt(1))
  })

  test('expire in the past is 400 on update too', async () => {
    await expectProblem(await app.req('POST', path, { expire: T0_SECONDS }), 400, 'validation')
  })
})
