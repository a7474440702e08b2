import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { expectProblem } from '../support/http'
import { expectReplay, freshKey, idempotencyContract } from '../support/idempotency-contract'
import { freshUser, listPage } from '../support/listing-contract'

/** Idempotency-Key in the embedded mode (LRU + SQLite), in-process. */

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
})
afterEach(() => app.close())

describe('Idempotency-Key (embedded)', () => {
  idempotencyContract(() => ({ a: app.req, b: app.req }))

  test('a repeat while the first request runs is 409 with Retry-After, then the replay', async () => {
    const slow = await createTestApp({ COMMIT_WINDOW_MS: '100' })
    try {
      const key = freshKey()
      const user = freshUser()
      const first = slow.req('POST', '/guid', { user }, { 'idempotency-key': key })
      const second = await slow.req('POST', '/guid', { user }, { 'idempotency-key': key })
      expect(second.headers.get('retry-after')).toBe('1')
      await expectProblem(second, 409, 'idempotency-key-in-flight')
      const answered = await first
      expect(answered.status).toBe(201)
      await expectReplay(answered, await slow.req('POST', '/guid', { user }, { 'idempotency-key': key }))
    } finally {
      await slow.close()
    }
  })

  test('the answer is kept for IDEMPOTENCY_TTL_SECONDS, then the key runs afresh', async () => {
    const key = freshKey()
    const user = freshUser()
    const first = await app.req('POST', '/guid', { user }, { 'idempotency-key': key })
    app.clock.advance((app.config.IDEMPOTENCY_TTL_SECONDS - 1) * 1000)
    await expectReplay(first, await app.req('POST', '/guid', { user }, { 'idempotency-key': key }))
    app.clock.advance(1000)
    const fresh = await app.req('POST', '/guid', { user }, { 'idempotency-key': key })
    expect(fresh.status).toBe(201)
    expect(fresh.headers.get('idempotent-replayed')).toBeNull()
    expect((await listPage(app.req, user)).items).toHaveLength(2)
  })

  test('the answer survives a restart on the same file', async () => {
    const key = freshKey()
    const user = freshUser()
    const first = await app.req('POST', '/guid', { user }, { 'idempotency-key': key })
    await app.runtime.close(1_000)
    const again = await createTestApp({ SQLITE_PATH: app.config.SQLITE_PATH }, { clock: app.clock })
    try {
      await expectReplay(first, await again.req('POST', '/guid', { user }, { 'idempotency-key': key }))
    } finally {
      await again.runtime.close(1_000)
    }
  })
})

describe('Idempotency-Key with API keys', () => {
  test("scoped by the caller's key: the same key from another API key is another request; a 401 is not kept", async () => {
    const keyed = await createTestApp({ API_KEYS: 'alpha,beta' })
    try {
      const key = freshKey()
      const user = freshUser()
      await expectProblem(await keyed.req('POST', '/guid', { user }, { 'idempotency-key': key }), 401, 'unauthorized')
      const alpha = await keyed.req('POST', '/guid', { user }, { 'idempotency-key': key, authorization: 'Bearer alpha' })
      expect(alpha.status).toBe(201)
      expect(alpha.headers.get('idempotent-replayed')).toBeNull()
      const beta = await keyed.req('POST', '/guid', { user }, { 'idempotency-key': key, authorization: 'Bearer beta' })
      expect(beta.status).toBe(201)
      expect(beta.headers.get('idempotent-replayed')).toBeNull()
      await expectReplay(alpha, await keyed.req('POST', '/guid', { user }, { 'idempotency-key': key, authorization: 'Bearer alpha' }))
      expect((await listPage((m, p, b, h) => keyed.req(m, p, b, { ...h, authorization: 'Bearer alpha' }), user)).items).toHaveLength(2)
    } finally {
      await keyed.close()
    }
  })
})
