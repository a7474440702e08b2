import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { expectProblem, GUID } from '../support/http'

let app: TestApp
beforeAll(async () => {
  app = await createTestApp()
})
afterAll(() => app.close())

describe('problem details', () => {
  test.each([
    ['GET', '/guid/bad', undefined, 400, 'invalid-guid'],
    ['GET', `/guid/${GUID}`, undefined, 404, 'not-found'],
    ['POST', '/guid', { user: '' }, 400, 'validation'],
    ['POST', '/guid', '{', 400, 'malformed-json'],
    ['PUT', '/guid', undefined, 405, 'method-not-allowed'],
    ['GET', '/nowhere', undefined, 404, 'route-not-found'],
  ] as const)('%s %s: problem+json with type, title, status, detail, instance and requestId', async (method, path, body, status, code) => {
    const problem = await expectProblem(await app.req(method, path, body), status, code)
    expect(problem.instance).toBe(path)
    expect(problem.title.length).toBeGreaterThan(0)
    expect(problem.detail.length).toBeGreaterThan(0)
  })

  test('the same kind of error always has the same type and title', async () => {
    const a = await expectProblem(await app.req('GET', '/guid/one'), 400, 'invalid-guid')
    const b = await expectProblem(await app.req('DELETE', '/guid/two'), 400, 'invalid-guid')
    expect(a.title).toBe(b.title)
  })
})

describe('X-Request-Id', () => {
  test.each([
    ['GET /healthz', 'GET', '/healthz'],
    ['GET /metrics', 'GET', '/metrics'],
    ['GET /docs/json', 'GET', '/docs/json'],
    ['a 404', 'GET', `/guid/${GUID}`],
    ['a 405', 'DELETE', '/guid'],
    ['an unknown path', 'GET', '/x'],
  ])('is on every response: %s', async (_name, method, path) => {
    const res = await app.req(method, path)
    expect(res.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{1,128}$/)
  })

  test('is on a 201', async () => {
    expect((await app.req('POST', '/guid', { user: 'u' })).headers.get('x-request-id')).toBeTruthy()
  })

  test('generated ids differ between requests', async () => {
    const ids = new Set<string | null>()
    for (let i = 0; i < 10; i++) ids.add((await app.req('GET', '/healthz')).headers.get('x-request-id'))
    expect(ids.size).toBe(10)
  })

  test.each(['abc-123', 'req.42:a_b', '4f1c2b1e-5a60-4c1f-9d5e-0f6f7f0c2a11', 'x'.repeat(128)])('a sane id is echoed: %s', async (id) => {
    const res = await app.req('GET', `/guid/${GUID}`, undefined, { 'x-request-id': id })
    expect(res.headers.get('x-request-id')).toBe(id)
    expect(((await res.json()) as { requestId: string }).requestId).toBe(id)
  })

  test.each([
    ['spaces', 'has spaces in it'],
    ['300 characters', 'a'.repeat(300)],
    ['129 characters', 'a'.repeat(129)],
    ['angle brackets', '<script>'],
    ['a newline escape', 'a%0d%0ab'],
  ])('an insane id (%s) is replaced by a sane one', async (_name, id) => {
    const res = await app.req('GET', `/guid/${GUID}`, undefined, { 'x-request-id': id })
    const echoed = res.headers.get('x-request-id')
    expect(echoed).not.toBe(id)
    expect(echoed).toMatch(/^[A-Za-z0-9._:-]{1,128}$/)
    expect(((await res.json()) as { requestId: string }).requestId).toBe(echoed!)
  })
})
