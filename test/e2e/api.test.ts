import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Conformance, servedConformance } from '../support/openapi-conformance'
import { pidExists, runToExit } from '../support/process'
import { isFirstVersion, versionOf } from '../support/versions'
import { GUIDD_CMD, type Guidd, startGuidd } from '../support/guidd-process'

/**
 * The whole API over real HTTP against `bun run src/main.ts` on a free port and a temp
 * SQLite file: what a client of the deployed service sees, headers included.
 */

const root = join(import.meta.dir, '..', '..')
const DAY = 86_400

let dir: string
let server: Guidd
let base: string
/** Every answer this suite receives is held to the OpenAPI document the server serves. */
let contract: Conformance

interface Call {
  body?: unknown
  /** Sent as is, with no Content-Type unless given in headers. */
  raw?: string
  headers?: Record<string, string>
}

/** One request; every response, whatever its status, must carry an X-Request-Id. */
const call = async (method: string, path: string, opts: Call = {}): Promise<Response> => {
  const headers: Record<string, string> = { ...opts.headers }
  let body: string | undefined = opts.raw
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body)
    headers['content-type'] ??= 'application/json'
  }
  const res = await fetch(`${base}${path}`, { method, headers, body, signal: AbortSignal.timeout(5_000) })
  expect(res.headers.get('x-request-id') ?? `missing on ${method} ${path} -> ${res.status}`).toMatch(/^[A-Za-z0-9._:-]{1,128}$/)
  await contract.check(method, path, res)
  return res
}

const expectProblem = async (res: Response, status: number, code: string) => {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toStartWith('application/problem+json')
  const problem = (await res.json()) as { type: string; status: number; title: string; detail: string; errors?: unknown[] }
  expect(problem.type).toBe(`urn:guidd:problem:${code}`)
  expect(problem.status).toBe(status)
  expect(problem.title).toBeString()
  expect(problem.detail).toBeString()
  return problem
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-api-'))
  server = await startGuidd({ env: { SQLITE_PATH: join(dir, 'guidd.sqlite'), LOG_LEVEL: 'warn', HOST: '127.0.0.1' } })
  base = server.base
  contract = await servedConformance(base)
})

afterAll(async () => {
  await server?.stop(5_000)
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('GUID resource over HTTP', () => {
  // Lower case and hyphenated on the way in; canonical on the way out.
  const GIVEN = '9094e4c9-80c7-4043-a4b5-86b420e69ddf'
  const CANONICAL = '9094E4C980C74043A4B586B420E69DDF'
  const expireAt = nowSeconds() + 365 * DAY
  /** The version the given GUID is created with (the server's clock picks it); each change adds one. */
  let v1 = Number.NaN

  test('POST /guid without a guid generates one, 30 days by default', async () => {
    const before = nowSeconds()
    const res = await call('POST', '/guid', { body: { user: 'Cylance, Inc.' } })
    const after = nowSeconds()
    expect(res.status).toBe(201)
    const body = (await res.json()) as { guid: string; user: string; expire: number }
    expect(body.guid).toMatch(/^[0-9A-F]{32}$/)
    expect(body.user).toBe('Cylance, Inc.')
    expect(body.expire).toBeGreaterThanOrEqual(before + 30 * DAY)
    expect(body.expire).toBeLessThanOrEqual(after + 30 * DAY)
    expect(Object.keys(body).sort()).toEqual(['expire', 'guid', 'user'])
    expect(res.headers.get('location')).toBe(`/guid/${body.guid}`)
    expect(isFirstVersion(versionOf(res.headers.get('etag')), 0, before, after)).toBe(true)
    expect(res.headers.get('content-type')).toStartWith('application/json')

    const read = await call('GET', `/guid/${body.guid}`)
    expect(read.status).toBe(200)
    expect(await read.json()).toEqual(body)
  })

  test('POST /guid with a given guid (any form) and an RFC 3339 expire', async () => {
    const before = nowSeconds()
    const res = await call('POST', '/guid', { body: { guid: `{${GIVEN}}`, user: 'Cylance, Inc.', expire: new Date(expireAt * 1000).toISOString() } })
    const after = nowSeconds()
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ guid: CANONICAL, user: 'Cylance, Inc.', expire: expireAt })
    expect(res.headers.get('location')).toBe(`/guid/${CANONICAL}`)
    v1 = versionOf(res.headers.get('etag'))
    expect(isFirstVersion(v1, 0, before, after)).toBe(true)

    await expectProblem(await call('POST', '/guid', { body: { guid: CANONICAL, user: 'again' } }), 409, 'guid-exists')
  })

  test('GET returns the record with its ETag; If-None-Match answers 304', async () => {
    const res = await call('GET', `/guid/${GIVEN.toUpperCase()}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe(`"${v1}"`)
    expect(await res.json()).toEqual({ guid: CANONICAL, user: 'Cylance, Inc.', expire: expireAt })

    const cached = await call('GET', `/guid/${CANONICAL}`, { headers: { 'if-none-match': `"${v1}"` } })
    expect(cached.status).toBe(304)
    expect(cached.headers.get('etag')).toBe(`"${v1}"`)
    expect(await cached.text()).toBe('')

    const stale = await call('GET', `/guid/${CANONICAL}`, { headers: { 'if-none-match': `"${v1 + 6}"` } })
    expect(stale.status).toBe(200)
    await stale.arrayBuffer()
  })

  test('PATCH with If-Match updates and bumps the ETag; a stale If-Match is 412', async () => {
    const res = await call('PATCH', `/guid/${CANONICAL}`, { body: { user: 'Someone Else' }, headers: { 'if-match': `"${v1}"` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe(`"${v1 + 1}"`)
    expect(await res.json()).toEqual({ guid: CANONICAL, user: 'Someone Else', expire: expireAt })

    await expectProblem(await call('PATCH', `/guid/${CANONICAL}`, { body: { user: 'lost update' }, headers: { 'if-match': `"${v1}"` } }), 412, 'precondition-failed')

    const read = await call('GET', `/guid/${CANONICAL}`)
    expect(read.headers.get('etag')).toBe(`"${v1 + 1}"`)
    expect(((await read.json()) as { user: string }).user).toBe('Someone Else')
  })

  test('POST /guid/{guid} updates an existing GUID (200) and creates a new one (201)', async () => {
    const newExpire = expireAt + DAY
    const updated = await call('POST', `/guid/${CANONICAL}`, { body: { guid: GIVEN, expire: String(newExpire) }, headers: { 'if-match': `"${v1 + 1}"` } })
    expect(updated.status).toBe(200)
    expect(updated.headers.get('etag')).toBe(`"${v1 + 2}"`)
    expect(await updated.json()).toEqual({ guid: CANONICAL, user: 'Someone Else', expire: newExpire })

    const fresh = '0123456789ABCDEF0123456789ABCDEF'
    const before = nowSeconds()
    const created = await call('POST', `/guid/${fresh.toLowerCase()}`, { body: { user: 'upserted', expire: newExpire } })
    const after = nowSeconds()
    expect(created.status).toBe(201)
    expect(created.headers.get('location')).toBe(`/guid/${fresh}`)
    expect(isFirstVersion(versionOf(created.headers.get('etag')), 0, before, after)).toBe(true)
    expect(await created.json()).toEqual({ guid: fresh, user: 'upserted', expire: newExpire })

    await expectProblem(await call('POST', `/guid/${fresh}`, { body: { guid: CANONICAL, user: 'x' } }), 400, 'validation')
  })

  test('DELETE answers 204; the GUID is then 404 for every operation', async () => {
    await expectProblem(await call('DELETE', `/guid/${CANONICAL}`, { headers: { 'if-match': `"${v1}"` } }), 412, 'precondition-failed')
    const res = await call('DELETE', `/guid/${CANONICAL}`, { headers: { 'if-match': `"${v1 + 2}"` } })
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')

    await expectProblem(await call('GET', `/guid/${CANONICAL}`), 404, 'not-found')
    await expectProblem(await call('PATCH', `/guid/${CANONICAL}`, { body: { user: 'ghost' } }), 404, 'not-found')
    await expectProblem(await call('DELETE', `/guid/${CANONICAL}`), 404, 'not-found')
  })

  test('malformed GUIDs, unknown fields and bad expiry are 400 problems', async () => {
    await expectProblem(await call('GET', '/guid/not-a-guid'), 400, 'invalid-guid')
    const unknown = await expectProblem(await call('POST', '/guid', { body: { user: 'x', owner: 'y' } }), 400, 'validation')
    expect(unknown.errors).toBeArray()
    await expectProblem(await call('POST', '/guid', { body: { user: 'x', expire: nowSeconds() - 10 } }), 400, 'validation')
    await expectProblem(await call('POST', '/guid', { body: { expire: nowSeconds() + DAY } }), 400, 'validation')
  })
})

describe('HTTP edge', () => {
  test('a wrong method on a known path is 405 with Allow; an unknown path is 404', async () => {
    const res = await call('PUT', '/guid/9094E4C980C74043A4B586B420E69DDF', { body: { user: 'x' } })
    await expectProblem(res, 405, 'method-not-allowed')
    const allow = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim())
    expect(allow).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']))
    expect(allow).not.toContain('PUT')

    const onCollection = await call('PUT', '/guid')
    await expectProblem(onCollection, 405, 'method-not-allowed')
    expect(onCollection.headers.get('allow')).toBe('GET, HEAD, POST')

    await expectProblem(await call('GET', '/nope'), 404, 'route-not-found')
  })

  test('a 17 KiB body is 413', async () => {
    const body = JSON.stringify({ user: 'x'.repeat(17 * 1024) })
    await expectProblem(await call('POST', '/guid', { raw: body, headers: { 'content-type': 'application/json' } }), 413, 'payload-too-large')
  })

  test('a body that is not JSON is 415; malformed JSON is 400', async () => {
    await expectProblem(await call('POST', '/guid', { raw: 'user=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported-media-type')
    await expectProblem(await call('POST', '/guid', { raw: '{"user": "x"', headers: { 'content-type': 'application/json' } }), 400, 'malformed-json')
    await expectProblem(await call('PATCH', '/guid/9094E4C980C74043A4B586B420E69DDF', { raw: '{oops', headers: { 'content-type': 'application/json' } }), 400, 'malformed-json')
  })

  test('X-Request-Id is echoed when sane and generated otherwise', async () => {
    const echoed = await call('GET', '/healthz', { headers: { 'x-request-id': 'client-id-42' } })
    expect(echoed.headers.get('x-request-id')).toBe('client-id-42')
    await echoed.arrayBuffer()

    const replaced = await call('GET', '/healthz', { headers: { 'x-request-id': 'has spaces and "quotes"' } })
    expect(replaced.headers.get('x-request-id')).not.toBe('has spaces and "quotes"')
    await replaced.arrayBuffer()

    const a = await call('GET', '/guid/00000000000000000000000000000000')
    const b = await call('GET', '/guid/00000000000000000000000000000000')
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'))
    const problem = (await a.json()) as { requestId?: string }
    expect(problem.requestId).toBe(a.headers.get('x-request-id')!)
    await b.arrayBuffer()
  })
})

describe('operational endpoints', () => {
  test('/healthz and /readyz', async () => {
    const health = await call('GET', '/healthz')
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok' })

    const ready = await call('GET', '/readyz')
    expect(ready.status).toBe(200)
    expect(((await ready.json()) as { status: string }).status).toBe('ready')
  })

  test('/metrics is Prometheus text with the request counters', async () => {
    const res = await call('GET', '/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('text/plain')
    const text = await res.text()
    expect(text).toContain('# TYPE guidd_http_requests_total counter')
    expect(text).toMatch(/guidd_http_requests_total\{[^}]*route="\/guid\/:guid"[^}]*\} \d+/)
    // Raw paths never become labels.
    expect(text).not.toContain('9094E4C980C74043A4B586B420E69DDF')
  })

  test('/docs is the Swagger UI page; /docs/json the OpenAPI document', async () => {
    const page = await call('GET', '/docs')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toStartWith('text/html')
    expect((await page.text()).toLowerCase()).toContain('<html')

    const res = await call('GET', '/docs/json')
    expect(res.status).toBe(200)
    const spec = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
    expect(spec.openapi).toStartWith('3.')
    expect(Object.keys(spec.paths['/guid'] ?? {})).toContain('post')
    expect(Object.keys(spec.paths['/guid/{guid}'] ?? {}).sort()).toEqual(expect.arrayContaining(['delete', 'get', 'patch', 'post']))
    expect(Object.keys(spec.paths['/guid']!.post!.responses)).toEqual(expect.arrayContaining(['201', '400', '409', '413', '415']))
    expect(Object.keys(spec.paths['/guid/{guid}']!.get!.responses)).toEqual(expect.arrayContaining(['200', '304', '400', '404']))
  })
})

describe('process lifecycle', () => {
  test('SIGTERM drains and exits 0; the process is gone', async () => {
    const pid = server.proc.pid
    // A keep-alive connection left open must not hold up the shutdown.
    await (await call('GET', '/healthz')).arrayBuffer()
    expect(pidExists(pid)).toBe(true)
    const code = await server.stop(8_000)
    expect(code).toBe(0)
    expect(server.proc.signalCode).toBeNull()
    expect(pidExists(pid)).toBe(false)
    expect(server.output()).toContain('"msg":"stopped"')
  })

  test('a bad configuration exits 2 and names every bad variable', async () => {
    const result = await runToExit({
      cmd: GUIDD_CMD,
      cwd: root,
      env: { PORT: 'abc', LRU_MAX_ENTRIES: '-1', SQLITE_PATH: join(dir, 'never.sqlite'), LOG_LEVEL: 'warn' },
      timeoutMs: 10_000,
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('PORT')
    expect(result.stderr).toContain('LRU_MAX_ENTRIES')
    expect(result.stdout).not.toContain('listening')
  })
})

describe('the OpenAPI document', () => {
  test('every answer above matched /docs/json: status, content type, required headers, body', () => {
    expect(contract.checked).toBeGreaterThan(20)
    expect(contract.mismatches).toEqual([])
  })
})
