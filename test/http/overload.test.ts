import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { createGuid, etagAt, expectProblem, GUID, OTHER_GUID } from '../support/http'

let app: TestApp
beforeEach(async () => {
  app = await createTestApp({ ACTOR_MAILBOX_MAX: '1' })
  await createGuid(app)
})
afterEach(() => app.close())

describe('one GUID with too many requests in flight', () => {
  test('the excess gets 503 overloaded with Retry-After; the rest succeed; other GUIDs are unaffected', async () => {
    const all = await Promise.all(Array.from({ length: 5 }, (_, i) => app.req('PATCH', `/guid/${GUID}`, { user: `u${i}` })))
    const ok = all.filter((r) => r.status === 200)
    const refused = all.filter((r) => r.status === 503)
    expect(ok.length + refused.length).toBe(5)
    expect(ok.length).toBeGreaterThanOrEqual(1)
    expect(refused.length).toBeGreaterThanOrEqual(1)
    for (const res of refused) {
      expect(res.headers.get('retry-after')).toBeTruthy()
      await expectProblem(res, 503, 'overloaded')
    }
    expect((await app.req('GET', `/guid/${GUID}`)).headers.get('etag')).toBe(etagAt(1 + ok.length))
    expect((await app.req('POST', '/guid', { guid: OTHER_GUID, user: 'u' })).status).toBe(201)
  })
})
