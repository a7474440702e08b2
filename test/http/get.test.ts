import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, T0_SECONDS, type TestApp } from '../support/app'
import { createGuid, etagAt, expectProblem, GUID } from '../support/http'

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
})
afterEach(() => app.close())

const path = `/guid/${GUID}`

describe('GET /guid/{guid}', () => {
  test('200 with the record, ETag and Cache-Control', async () => {
    await createGuid(app, GUID, { user: 'u', expire: 1893456000 })
    const res = await app.req('GET', path)
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe(etagAt(1))
    expect(res.headers.get('cache-control')).toBeTruthy()
    expect(res.headers.get('content-type')).toStartWith('application/json')
    expect(await res.json()).toEqual({ guid: GUID, user: 'u', expire: 1893456000 })
  })

  test.each([GUID.toLowerCase(), '9094e4c9-80c7-4043-a4b5-86b420e69ddf', '{9094E4C9-80C7-4043-A4B5-86B420E69DDF}', '%7B9094e4c9-80c7-4043-a4b5-86b420e69ddf%7D'])(
    'the path GUID may be in any accepted form: %s',
    async (form) => {
      await createGuid(app)
      const res = await app.req('GET', `/guid/${form}`)
      expect(res.status).toBe(200)
      expect(((await res.json()) as { guid: string }).guid).toBe(GUID)
    },
  )

  test.each([
    ['the current ETag', etagAt(1)],
    ['the weak form of the current ETag', `W/${etagAt(1)}`],
    ['a list containing it', `${etagAt(5)}, ${etagAt(1)}`],
    ['*', '*'],
  ])('If-None-Match with %s: 304 with ETag and no body', async (_name, header) => {
    await createGuid(app)
    const res = await app.req('GET', path, undefined, { 'if-none-match': header })
    expect(res.status).toBe(304)
    expect(res.headers.get('etag')).toBe(etagAt(1))
    expect(res.headers.get('x-request-id')).toBeTruthy()
    expect(await res.text()).toBe('')
  })

  test('If-None-Match with an old ETag: 200 with the record', async () => {
    await createGuid(app)
    await app.req('PATCH', path, { user: 'changed' })
    const res = await app.req('GET', path, undefined, { 'if-none-match': etagAt(1) })
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe(etagAt(2))
    expect(await res.json()).toMatchObject({ user: 'changed' })
  })

  test.each(['not-a-guid', '9094E4C980C74043A4B586B420E69DD', 'ZZ94E4C980C74043A4B586B420E69DDF', '9094e4c9-80c7-4043-a4b586b420e69ddf'])('400 for the malformed GUID %s', async (guid) => {
    await expectProblem(await app.req('GET', `/guid/${guid}`), 400, 'invalid-guid')
  })

  test('404 for an absent GUID', async () => {
    await expectProblem(await app.req('GET', path), 404, 'not-found')
  })

  test('404 the instant expire is reached, 200 one second before', async () => {
    const expire = T0_SECONDS + 3600
    await createGuid(app, GUID, { user: 'u', expire })
    app.clock.set((expire - 1) * 1000)
    expect((await app.req('GET', path)).status).toBe(200)
    app.clock.set(expire * 1000)
    await expectProblem(await app.req('GET', path), 404, 'not-found')
  })

  test('404 at expire when the record is read from the store, not memory', async () => {
    const expire = T0_SECONDS + 3600
    await createGuid(app, GUID, { user: 'u', expire })
    app.runtime.lru.clear()
    app.clock.set(expire * 1000)
    await expectProblem(await app.req('GET', path), 404, 'not-found')
  })

  test('a GUID created after a 404 is found at once (the negative cache is cleared by the create)', async () => {
    await expectProblem(await app.req('GET', path), 404, 'not-found')
    await createGuid(app)
    expect((await app.req('GET', path)).status).toBe(200)
  })
})
