import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, T0_SECONDS, type TestApp } from '../support/app'
import { createGuid, etagAt, expectProblem, GUID, OTHER_GUID } from '../support/http'

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
  await createGuid(app)
})
afterEach(() => app.close())

const path = `/guid/${GUID}`

describe('DELETE /guid/{guid}', () => {
  test('204 with no body; then GET is 404 and DELETE again is 404', async () => {
    const res = await app.req('DELETE', path)
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    expect(res.headers.get('x-request-id')).toBeTruthy()
    await expectProblem(await app.req('GET', path), 404, 'not-found')
    await expectProblem(await app.req('DELETE', path), 404, 'not-found')
  })

  test('the deletion holds in the store, not only in memory', async () => {
    expect((await app.req('DELETE', path)).status).toBe(204)
    app.runtime.lru.clear()
    await expectProblem(await app.req('GET', path), 404, 'not-found')
  })

  test('the deletion holds after the negative cache entry expires', async () => {
    expect((await app.req('DELETE', path)).status).toBe(204)
    app.clock.advance(60_000)
    await expectProblem(await app.req('GET', path), 404, 'not-found')
  })

  test('any accepted GUID form deletes the canonical one', async () => {
    expect((await app.req('DELETE', '/guid/9094e4c9-80c7-4043-a4b5-86b420e69ddf')).status).toBe(204)
    await expectProblem(await app.req('GET', path), 404, 'not-found')
  })

  test('404 for an absent GUID', async () => {
    await expectProblem(await app.req('DELETE', `/guid/${OTHER_GUID}`), 404, 'not-found')
  })

  test('404 for an expired GUID', async () => {
    await createGuid(app, OTHER_GUID, { user: 'u', expire: T0_SECONDS + 1 })
    app.clock.advance(1_000)
    await expectProblem(await app.req('DELETE', `/guid/${OTHER_GUID}`), 404, 'not-found')
  })

  test('400 for a malformed GUID', async () => {
    await expectProblem(await app.req('DELETE', '/guid/1234'), 400, 'invalid-guid')
  })

  test('If-Match mismatch: 412 and the GUID stays', async () => {
    await expectProblem(await app.req('DELETE', path, undefined, { 'if-match': etagAt(2) }), 412, 'precondition-failed')
    expect((await app.req('GET', path)).status).toBe(200)
  })

  test('If-Match that matches: 204', async () => {
    expect((await app.req('DELETE', path, undefined, { 'if-match': etagAt(1) })).status).toBe(204)
    expect((await app.req('GET', path)).status).toBe(404)
  })
})

describe('DELETE with negative caching disabled', () => {
  test('a deleted GUID is not served from memory', async () => {
    const noNegative = await createTestApp({ NEGATIVE_CACHE_MS: '0' })
    try {
      await createGuid(noNegative)
      expect((await noNegative.req('GET', path)).status).toBe(200)
      expect((await noNegative.req('DELETE', path)).status).toBe(204)
      await expectProblem(await noNegative.req('GET', path), 404, 'not-found')
    } finally {
      await noNegative.close()
    }
  })
})
