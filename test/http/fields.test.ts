import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, T0_SECONDS, type TestApp } from '../support/app'
import { createGuid, expectProblem, GUID } from '../support/http'

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
})
afterEach(() => app.close())

describe('expire input', () => {
  test.each([
    ['a JSON integer', 1893456000, 1893456000],
    ['a digit string', '1893456000', 1893456000],
    ['RFC 3339 with Z', '2030-01-01T00:00:00Z', 1893456000],
    ['RFC 3339 with +02:00', '2030-01-01T02:00:00+02:00', 1893456000],
    ['RFC 3339 with -05:30', '2029-12-31T18:30:00-05:30', 1893456000],
    ['RFC 3339 with a fraction (dropped)', '2030-01-01T00:00:00.999Z', 1893456000],
    ['the last second allowed', 253402300799, 253402300799],
    ['one second from now', T0_SECONDS + 1, T0_SECONDS + 1],
  ])('accepts %s', async (_name, expire, expected) => {
    const res = await app.req('POST', '/guid', { user: 'u', expire })
    expect(res.status).toBe(201)
    expect(((await res.json()) as { expire: unknown }).expire).toBe(expected)
  })

  test.each([
    ['in the past', T0_SECONDS - 1],
    ['equal to now', T0_SECONDS],
    ['zero', 0],
    ['negative', -1],
    ['after 9999-12-31T23:59:59Z', 253402300800],
    ['a digit string after 9999-12-31T23:59:59Z', '253402300800'],
    ['a fraction', 1.5],
    ['an impossible date', '2024-02-30T00:00:00Z'],
    ['a date-time without offset', '2030-01-01T00:00:00'],
    ['a date only', '2030-01-01'],
    ['RFC 3339 in the past', '2020-01-01T00:00:00Z'],
    ['text', 'abc'],
    ['an empty string', ''],
    ['a negative digit string', '-1893456000'],
    ['null', null],
    ['a boolean', true],
    ['an object', { at: 1893456000 }],
  ])('rejects %s with 400 naming /expire', async (_name, expire) => {
    const body = await expectProblem(await app.req('POST', '/guid', { user: 'u', expire }), 400, 'validation')
    expect(body.errors?.map((e) => e.path)).toContain('/expire')
  })

  test.each(['PATCH', 'POST'])('the same rules hold on %s /guid/{guid}', async (method) => {
    await createGuid(app)
    await expectProblem(await app.req(method, `/guid/${GUID}`, { expire: 'abc' }), 400, 'validation')
    await expectProblem(await app.req(method, `/guid/${GUID}`, { expire: T0_SECONDS }), 400, 'validation')
    const ok = await app.req(method, `/guid/${GUID}`, { expire: '2030-01-01T02:00:00+02:00' })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ expire: 1893456000 })
  })
})

describe('user input', () => {
  test.each([
    ['one character', 'x'],
    ['256 characters', 'u'.repeat(256)],
    ['surrounding whitespace, kept as given', '  Cylance, Inc.\t '],
    ['only whitespace', '   '],
    ['non-ASCII', 'Zürich Ünïcödé 日本'],
    ['256 characters outside the BMP (512 UTF-16 units)', '😀'.repeat(256)],
  ])('accepts %s', async (_name, user) => {
    const res = await app.req('POST', '/guid', { user })
    expect(res.status).toBe(201)
    const { guid, user: stored } = (await res.json()) as { guid: string; user: string }
    expect(stored).toBe(user)
    app.runtime.lru.clear()
    expect(await (await app.req('GET', `/guid/${guid}`)).json()).toMatchObject({ user })
  })

  test.each([
    ['empty', ''],
    ['257 characters', 'u'.repeat(257)],
    ['257 characters outside the BMP', '😀'.repeat(257)],
    ['a number', 42],
    ['null', null],
    ['an array', ['a']],
    ['an object', { name: 'a' }],
    ['a boolean', false],
  ])('rejects %s with 400 naming /user', async (_name, user) => {
    const body = await expectProblem(await app.req('POST', '/guid', { user }), 400, 'validation')
    expect(body.errors?.map((e) => e.path)).toContain('/user')
  })

  test('PATCH rejects an empty user too', async () => {
    await createGuid(app)
    await expectProblem(await app.req('PATCH', `/guid/${GUID}`, { user: '' }), 400, 'validation')
  })
})

describe('unknown fields', () => {
  test.each([
    ['POST', '/guid', { user: 'u', owner: 'x' }],
    ['POST', `/guid/${GUID}`, { user: 'u', owner: 'x' }],
    ['PATCH', `/guid/${GUID}`, { user: 'u', owner: 'x' }],
  ])('%s %s: 400 with errors[] naming the field', async (method, path, body) => {
    await createGuid(app)
    const problem = await expectProblem(await app.req(method, path, body), 400, 'validation')
    expect(problem.errors).toContainEqual({ path: '/owner', message: expect.stringContaining('owner') })
  })

  test('version is not a writable field', async () => {
    await createGuid(app)
    await expectProblem(await app.req('PATCH', `/guid/${GUID}`, { user: 'u', version: 9 }), 400, 'validation')
  })

  test('every field that breaks the schema is listed', async () => {
    const problem = await expectProblem(await app.req('POST', '/guid', { user: '', expire: null, extra: 1 }), 400, 'validation')
    const paths = problem.errors?.map((e) => e.path) ?? []
    expect(paths).toContain('/user')
    expect(paths).toContain('/expire')
    expect(paths).toContain('/extra')
  })
})
