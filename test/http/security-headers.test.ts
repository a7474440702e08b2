import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { createGuid, etagAt, expectProblem, GUID, OTHER_GUID } from '../support/http'

let app: TestApp
let etag: string
beforeAll(async () => {
  app = await createTestApp()
  etag = await createGuid(app)
})
afterAll(() => app.close())

describe('X-Content-Type-Options: nosniff', () => {
  test.each([
    ['200 record', 'GET', `/guid/${GUID}`, undefined, {}],
    ['304', 'GET', `/guid/${GUID}`, undefined, { 'if-none-match': etagAt(1) }],
    ['201', 'POST', '/guid', { user: 'u' }, {}],
    ['204', 'DELETE', `/guid/${OTHER_GUID}`, undefined, {}],
    ['400', 'GET', '/guid/bad', undefined, {}],
    ['404 GUID', 'GET', `/guid/${OTHER_GUID}`, undefined, {}],
    ['404 route', 'GET', '/nowhere', undefined, {}],
    ['405', 'PUT', '/guid', undefined, {}],
    ['415', 'POST', '/guid', 'x', { 'content-type': 'text/plain' }],
    ['/healthz', 'GET', '/healthz', undefined, {}],
    ['/readyz', 'GET', '/readyz', undefined, {}],
    ['/metrics', 'GET', '/metrics', undefined, {}],
    ['/docs', 'GET', '/docs', undefined, {}],
    ['/docs/json', 'GET', '/docs/json', undefined, {}],
    ['/docs/swagger-ui-bundle.js', 'GET', '/docs/swagger-ui-bundle.js', undefined, {}],
  ] as const)('is on every response: %s', async (_name, method, path, body, headers) => {
    if (method === 'DELETE') await createGuid(app, OTHER_GUID)
    const res = await app.req(method, path, body, { ...headers })
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  })
})

describe('caching', () => {
  test('answers to mutations are never stored', async () => {
    const created = await app.req('POST', '/guid', { user: 'u' })
    const path = created.headers.get('location')!
    const patched = await app.req('PATCH', path, { user: 'v' })
    const upserted = await app.req('POST', path, { user: 'w' })
    const deleted = await app.req('DELETE', path)
    for (const res of [created, patched, upserted, deleted]) expect(res.headers.get('cache-control')).toBe('no-store')
  })

  test('problems are never stored either (a 404 may be a 201 a moment later)', async () => {
    for (const res of [await app.req('GET', `/guid/${OTHER_GUID}`), await app.req('GET', '/guid/bad'), await app.req('PATCH', `/guid/${GUID}`, { user: 'x' }, { 'if-match': etagAt(99) })]) {
      expect(res.headers.get('cache-control')).toBe('no-store')
    }
  })

  test('reads must be revalidated', async () => {
    expect((await app.req('GET', `/guid/${GUID}`)).headers.get('cache-control')).toBe('no-cache')
    expect(etag).toBe(etagAt(1))
  })
})

describe('the docs pages', () => {
  test.each(['/docs', '/docs/init.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css'])('%s has a strict CSP: only its own origin, no framing', async (path) => {
    const res = await app.req('GET', path)
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("default-src 'self'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).not.toContain('unsafe-eval')
    expect(csp).toContain("frame-ancestors 'none'")
    expect(res.headers.get('x-frame-options')).toBe('DENY')
  })
})

describe('MAX_HEADER_BYTES', () => {
  test('headers over the limit are 431 problem+json; under it, served', async () => {
    const small = await createTestApp({ MAX_HEADER_BYTES: '1024' })
    try {
      expect((await small.req('GET', '/healthz', undefined, { 'x-filler': 'a'.repeat(900) })).status).toBe(200)
      await expectProblem(await small.req('GET', `/guid/${GUID}`, undefined, { 'x-filler': 'a'.repeat(1100) }), 431, 'header-too-large')
      expect(await (await small.req('GET', '/metrics')).text()).toMatch(/^guidd_request_headers_too_large_total 1$/m)
    } finally {
      await small.close()
    }
  })

  test('0 leaves it to Bun (16 KiB)', async () => {
    const off = await createTestApp({ MAX_HEADER_BYTES: '0' })
    try {
      expect((await off.req('GET', '/healthz', undefined, { 'x-filler': 'a'.repeat(12_000) })).status).toBe(200)
    } finally {
      await off.close()
    }
  })
})

describe('CORS', () => {
  test('is off by default: no Access-Control headers, and OPTIONS is 405', async () => {
    const res = await app.req('GET', `/guid/${GUID}`, undefined, { origin: 'https://app.example' })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    await expectProblem(await app.req('OPTIONS', '/guid', undefined, { origin: 'https://app.example', 'access-control-request-method': 'POST' }), 405, 'method-not-allowed')
  })

  describe('with CORS_ORIGINS', () => {
    let cors: TestApp
    beforeAll(async () => {
      cors = await createTestApp({ CORS_ORIGINS: 'https://app.example, http://localhost:3000' })
    })
    afterAll(() => cors.close())

    test('an allowed origin is echoed, with the headers a script may read', async () => {
      const res = await cors.req('GET', `/guid/${GUID}`, undefined, { origin: 'https://app.example' })
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example')
      expect(res.headers.get('access-control-expose-headers')).toContain('ETag')
      // A listing's next page, and whether a write's answer was replayed under its Idempotency-Key.
      expect(res.headers.get('access-control-expose-headers')).toContain('Link')
      expect(res.headers.get('access-control-expose-headers')).toContain('Idempotent-Replayed')
      expect(res.headers.get('vary')).toContain('Origin')
    })

    test('another origin gets no grant', async () => {
      const res = await cors.req('GET', `/guid/${GUID}`, undefined, { origin: 'https://evil.example' })
      expect(res.headers.get('access-control-allow-origin')).toBeNull()
    })

    test("a preflight is 204 with the route's methods and the API's headers", async () => {
      const res = await cors.req('OPTIONS', `/guid/${GUID}`, undefined, { origin: 'http://localhost:3000', 'access-control-request-method': 'PATCH' })
      expect(res.status).toBe(204)
      expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:3000')
      expect(res.headers.get('access-control-allow-methods')).toContain('PATCH')
      expect(res.headers.get('access-control-allow-headers')).toContain('Authorization')
      expect(res.headers.get('access-control-allow-headers')).toContain('If-Match')
      expect(res.headers.get('access-control-allow-headers')).toContain('Idempotency-Key')
      expect(res.headers.get('x-request-id')).toBeTruthy()
    })

    test('a preflight needs no key, even when keys are configured', async () => {
      const keyed = await createTestApp({ CORS_ORIGINS: '*', API_KEYS: 'k-0123456789abcdef' })
      try {
        const res = await keyed.req('OPTIONS', '/guid', undefined, { origin: 'https://any.example', 'access-control-request-method': 'POST' })
        expect(res.status).toBe(204)
        expect(res.headers.get('access-control-allow-origin')).toBe('*')
      } finally {
        await keyed.close()
      }
    })

    test('problems carry the grant too, so a script can read the error', async () => {
      const res = await cors.req('GET', '/guid/bad', undefined, { origin: 'https://app.example' })
      expect(res.status).toBe(400)
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example')
    })
  })
})
