import { afterEach, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { expectProblem, GUID } from '../support/http'

const KEY = 'k-0123456789abcdef'
let app: TestApp | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

/** A service allowing 2 requests per second with a burst of 3, clients told apart by a fake socket address. */
const limited = async (env: Record<string, string> = {}) => {
  let address = '192.0.2.1'
  const created = await createTestApp({ RATE_LIMIT_PER_SECOND: '2', RATE_LIMIT_BURST: '3', ...env }, { clientAddress: () => address })
  app = created
  return { app: created, from: (a: string) => (address = a) }
}

describe('the per-client rate limit', () => {
  test('after the burst: 429 problem+json with Retry-After and RateLimit-* headers', async () => {
    const { app } = await limited()
    for (let i = 0; i < 3; i++) expect((await app.req('GET', `/guid/${GUID}`)).status).toBe(404)
    const res = await app.req('GET', `/guid/${GUID}`)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(res.headers.get('ratelimit-limit')).toBe('3')
    expect(res.headers.get('ratelimit-remaining')).toBe('0')
    expect(res.headers.get('ratelimit-reset')).toBe('1')
    expect(res.headers.get('ratelimit-policy')).toBe('3;w=2')
    expect(res.headers.get('cache-control')).toBe('no-store')
    await expectProblem(res, 429, 'rate-limited')
  })

  test('covers every /guid route, writes included, from one bucket', async () => {
    const { app } = await limited()
    expect((await app.req('POST', '/guid', { guid: GUID, user: 'u' })).status).toBe(201)
    expect((await app.req('PATCH', `/guid/${GUID}`, { user: 'v' })).status).toBe(200)
    expect((await app.req('DELETE', `/guid/${GUID}`)).status).toBe(204)
    await expectProblem(await app.req('POST', `/guid/${GUID}`, { user: 'u' }), 429, 'rate-limited')
  })

  test('time refills the bucket (the clock is advanced, nothing waits)', async () => {
    const { app } = await limited()
    for (let i = 0; i < 3; i++) await app.req('GET', `/guid/${GUID}`)
    expect((await app.req('GET', `/guid/${GUID}`)).status).toBe(429)
    app.clock.advance(499)
    expect((await app.req('GET', `/guid/${GUID}`)).status).toBe(429)
    app.clock.advance(1)
    expect((await app.req('GET', `/guid/${GUID}`)).status).toBe(404)
    expect((await app.req('GET', `/guid/${GUID}`)).status).toBe(429)
  })

  test('clients are told apart by address', async () => {
    const { app, from } = await limited()
    for (let i = 0; i < 3; i++) await app.req('GET', `/guid/${GUID}`)
    expect((await app.req('GET', `/guid/${GUID}`)).status).toBe(429)
    from('192.0.2.2')
    expect((await app.req('GET', `/guid/${GUID}`)).status).toBe(404)
  })

  test('with keys, a client is its key: one key from many addresses shares a bucket', async () => {
    const { app, from } = await limited({ API_KEYS: KEY })
    const auth = { authorization: `Bearer ${KEY}` }
    for (let i = 0; i < 3; i++) {
      from(`198.51.100.${i}`)
      expect((await app.req('GET', `/guid/${GUID}`, undefined, auth)).status).toBe(404)
    }
    from('198.51.100.99')
    expect((await app.req('GET', `/guid/${GUID}`, undefined, auth)).status).toBe(429)
  })

  test('guessing keys is throttled too: requests without a valid key count against the address', async () => {
    const { app } = await limited({ API_KEYS: KEY })
    for (let i = 0; i < 3; i++) expect((await app.req('GET', `/guid/${GUID}`, undefined, { authorization: `Bearer guess-${i}` })).status).toBe(401)
    await expectProblem(await app.req('GET', `/guid/${GUID}`, undefined, { authorization: 'Bearer guess-3' }), 429, 'rate-limited')
    expect((await app.req('GET', `/guid/${GUID}`, undefined, { authorization: `Bearer ${KEY}` })).status).toBe(404)
  })

  test('behind a trusted proxy, the client is the X-Forwarded-For address', async () => {
    const { app } = await limited({ TRUST_PROXY: 'true' })
    for (let i = 0; i < 3; i++) await app.req('GET', `/guid/${GUID}`, undefined, { 'x-forwarded-for': '203.0.113.5' })
    expect((await app.req('GET', `/guid/${GUID}`, undefined, { 'x-forwarded-for': '203.0.113.5' })).status).toBe(429)
    expect((await app.req('GET', `/guid/${GUID}`, undefined, { 'x-forwarded-for': '203.0.113.6' })).status).toBe(404)
  })

  test('operational endpoints are never limited: probes and scrapers must get through', async () => {
    const { app } = await limited()
    for (let i = 0; i < 10; i++) {
      expect((await app.req('GET', '/healthz')).status).toBe(200)
      expect((await app.req('GET', '/metrics')).status).toBe(200)
    }
  })

  test('refusals and remembered clients are in /metrics', async () => {
    const { app } = await limited()
    for (let i = 0; i < 5; i++) await app.req('GET', `/guid/${GUID}`)
    const text = await (await app.req('GET', '/metrics')).text()
    expect(text).toMatch(/^guidd_rate_limited_total 2$/m)
    expect(text).toMatch(/^guidd_rate_limit_clients 1$/m)
  })

  test('is off by default', async () => {
    app = await createTestApp()
    for (let i = 0; i < 150; i++) expect((await app.req('GET', `/guid/${GUID}`)).status).toBe(404)
  })
})
