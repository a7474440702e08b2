import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, T0_SECONDS, type TestApp } from '../support/app'
import { createGuid, etagAt, expectProblem, GUID, OTHER_GUID } from '../support/http'

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
  await createGuid(app, GUID, { user: 'owner', expire: 1893456000 })
})
afterEach(() => app.close())

const path = `/guid/${GUID}`

describe('PATCH /guid/{guid}', () => {
  test.each([
    ['user only', { user: 'new owner' }, { user: 'new owner', expire: 1893456000 }],
    ['expire only', { expire: 1900000000 }, { user: 'owner', expire: 1900000000 }],
    ['both', { user: 'new owner', expire: '2031-01-01T00:00:00Z' }, { user: 'new owner', expire: 1924992000 }],
    ['both, with guid equal to the path', { guid: GUID.toLowerCase(), user: 'x', expire: 1900000000 }, { user: 'x', expire: 1900000000 }],
  ])('%s: 200 with the updated record and a bumped ETag', async (_name, body, expected) => {
    const res = await app.req('PATCH', path, body)
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe(etagAt(2))
    expect(await res.json()).toEqual({ guid: GUID, ...expected })
    const read = await app.req('GET', path)
    expect(read.headers.get('etag')).toBe(etagAt(2))
    expect(await read.json()).toEqual({ guid: GUID, ...expected })
  })

  test('each PATCH bumps the version by one', async () => {
    for (let v = 2; v <= 5; v++) {
      const res = await app.req('PATCH', path, { user: `u${v}` })
      expect(res.headers.get('etag')).toBe(etagAt(v))
    }
  })

  test('concurrent PATCHes of one GUID each get their own version', async () => {
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => app.req('PATCH', path, { user: `u${i}` })))
    expect(all.map((r) => r.status)).toEqual(Array<number>(10).fill(200))
    expect(all.map((r) => r.headers.get('etag'))).toEqual(Array.from({ length: 10 }, (_, i) => etagAt(i + 2)))
    const read = await app.req('GET', path)
    expect(read.headers.get('etag')).toBe(etagAt(11))
    expect(await read.json()).toMatchObject({ user: 'u9' })
  })

  test('an empty body {} is 400', async () => {
    await expectProblem(await app.req('PATCH', path, {}), 400, 'validation')
  })

  test('a body with only guid is 400', async () => {
    await expectProblem(await app.req('PATCH', path, { guid: GUID }), 400, 'validation')
    expect((await app.req('GET', path)).headers.get('etag')).toBe(etagAt(1))
  })

  test('guid in the body naming another GUID is 400', async () => {
    await expectProblem(await app.req('PATCH', path, { guid: OTHER_GUID, user: 'x' }), 400, 'validation')
  })

  test('404 for an absent GUID', async () => {
    await expectProblem(await app.req('PATCH', `/guid/${OTHER_GUID}`, { user: 'x' }), 404, 'not-found')
    expect((await app.req('GET', `/guid/${OTHER_GUID}`)).status).toBe(404)
  })

  test('404 for an expired GUID', async () => {
    await createGuid(app, OTHER_GUID, { user: 'u', expire: T0_SECONDS + 5 })
    app.clock.advance(5_000)
    await expectProblem(await app.req('PATCH', `/guid/${OTHER_GUID}`, { user: 'x' }), 404, 'not-found')
  })

  test('400 for a malformed GUID', async () => {
    await expectProblem(await app.req('PATCH', '/guid/xyz', { user: 'x' }), 400, 'invalid-guid')
  })

  test('If-Match that matches: 200', async () => {
    const res = await app.req('PATCH', path, { user: 'x' }, { 'if-match': etagAt(1) })
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe(etagAt(2))
  })

  test('If-Match in a list: 200', async () => {
    expect((await app.req('PATCH', path, { user: 'x' }, { 'if-match': `${etagAt(9)}, ${etagAt(1)}` })).status).toBe(200)
  })

  test('If-Match mismatch: 412 and nothing changes', async () => {
    await app.req('PATCH', path, { user: 'second' })
    await expectProblem(await app.req('PATCH', path, { user: 'lost update' }, { 'if-match': etagAt(1) }), 412, 'precondition-failed')
    const read = await app.req('GET', path)
    expect(read.headers.get('etag')).toBe(etagAt(2))
    expect(await read.json()).toMatchObject({ user: 'second' })
  })
})
