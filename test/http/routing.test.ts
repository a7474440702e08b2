import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { expectProblem, GUID } from '../support/http'

let app: TestApp
beforeAll(async () => {
  app = await createTestApp()
})
afterAll(() => app.close())

describe('wrong method on a known path', () => {
  test.each([
    ['PUT', '/guid'],
    ['DELETE', '/guid'],
    ['PATCH', '/guid'],
    ['PUT', `/guid/${GUID}`],
  ])('%s %s is 405 with Allow', async (method, path) => {
    const res = await app.req(method, path, { user: 'x' })
    const body = await expectProblem(res, 405, 'method-not-allowed')
    const allow = res.headers.get('allow')
    expect(allow).toBeTruthy()
    const allowed = allow!.split(',').map((m) => m.trim())
    expect(allowed).not.toContain(method)
    expect(body.detail).toContain(method)
  })

  test('Allow on /guid is GET, HEAD (the listing) and POST', async () => {
    expect((await app.req('PUT', '/guid')).headers.get('allow')).toBe('GET, HEAD, POST')
  })

  test('Allow on /guid/{guid} names every method the route serves', async () => {
    const allowed = (await app.req('PUT', `/guid/${GUID}`)).headers
      .get('allow')!
      .split(',')
      .map((m) => m.trim())
    expect(allowed).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']))
  })

  test.each(['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'])('%s on /guid/{guid}, listed in Allow, is not 405', async (method) => {
    const res = await app.req(method, `/guid/${GUID}`, method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : { user: 'x' })
    expect(res.status).not.toBe(405)
  })
})

describe('unknown paths', () => {
  test.each(['/', '/nope', '/guids', '/guid/', `/guid/${GUID}/extra`, '/api/guid'])('%s is 404 route-not-found', async (path) => {
    const res = await app.req('GET', path)
    const body = await expectProblem(res, 404, 'route-not-found')
    expect(res.headers.get('allow')).toBeNull()
    expect(body.instance).toBe(path)
  })
})
