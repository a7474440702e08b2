import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Ajv2020 from 'ajv/dist/2020'
import fc from 'fast-check'
import { parseIdempotencyKey } from '../../src/domain/idempotency'
import { parseExpire } from '../../src/domain/expire'
import { CreateBody } from '../../src/domain/model'
import { canonicalGuid } from '../../src/domain/normalise'
import { EXPIRE_STRING_PATTERN, GUID_INPUT_PATTERN, IDEMPOTENCY_KEY_PATTERN } from '../../src/http/docs/schemas'
import { validate } from '../../src/http/validate'
import { createTestApp, T0_SECONDS, type TestApp } from '../support/app'
import { openApiConformance } from '../support/openapi-conformance'
import { redoclyLint, swaggerParserErrors } from '../support/openapi-lint'
import { type Guidd, startGuidd } from '../support/guidd-process'

type Json = Record<string, any>

const root = join(import.meta.dir, '..', '..')
const KEY = 'k-0123456789abcdef'
/** Every option that changes the document, on at once. */
const EVERYTHING = { API_KEYS: KEY, AUTH_OPS_ENDPOINTS: 'true', RATE_LIMIT_PER_SECOND: '10', CORS_ORIGINS: '*', MAX_HEADER_BYTES: '8192', REQUEST_TIMEOUT_MS: '5000' }

const documentOf = async (env: Record<string, string> = {}): Promise<Json> => {
  const app = await createTestApp(env)
  try {
    const res = await app.req('GET', '/docs/json', undefined, env.API_KEYS ? { authorization: `Bearer ${env.API_KEYS}` } : {})
    expect(res.status).toBe(200)
    return (await res.json()) as Json
  } finally {
    await app.close()
  }
}

/** Every value under `value` whose key is `key`, with where it is. */
const findKey = (value: unknown, key: string, at = '#'): Array<[string, unknown]> => {
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value).flatMap(([k, v]) => [...(k === key ? [[`${at}/${k}`, v] as [string, unknown]] : []), ...findKey(v, key, `${at}/${k}`)])
}

const resolve = (doc: Json, object: Json): Json => {
  if (object.$ref === undefined) return object
  const [, , kind, name] = String(object.$ref).split('/')
  return resolve(doc, doc.components[kind!][name!])
}

const statuses = (doc: Json, path: string, method: string): string[] => Object.keys(doc.paths[path][method].responses)

describe('the served document (a real server)', () => {
  let dir: string
  let server: Guidd
  let base: string
  let doc: Json
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guidd-openapi-'))
    server = await startGuidd({ env: { SQLITE_PATH: join(dir, 'guidd.sqlite'), LOG_LEVEL: 'warn', HOST: '127.0.0.1' } })
    base = server.base
    doc = (await (await fetch(`${base}/docs/json`)).json()) as Json
  })
  afterAll(async () => {
    await server?.stop(5_000)
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  test('redocly lint (recommended rules): 0 errors, 0 warnings', async () => {
    const result = await redoclyLint(doc)
    expect(result.problems).toEqual([])
    expect({ errors: result.errors, warnings: result.warnings }).toEqual({ errors: 0, warnings: 0 })
  })

  test('@apidevtools/swagger-parser validates it', async () => {
    expect(await swaggerParserErrors(doc)).toEqual([])
  })

  test('a body of any size gets the documented 413 problem from the service, with a request id (not a bare 413 from Bun)', async () => {
    const contract = openApiConformance(doc)
    for (const bytes of [17 * 1024, 2 * 1024 * 1024, 64 * 1024 * 1024]) {
      const body = `{"user":"${'x'.repeat(bytes)}"}`
      const res = await fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) })
      expect({ bytes, status: res.status, type: res.headers.get('content-type') }).toEqual({ bytes, status: 413, type: 'application/problem+json' })
      expect(await contract.check('POST', '/guid', res)).toEqual([])
      await res.arrayBuffer()
    }
    // Sent chunked (no Content-Length): read up to the limit, then refused the same way.
    const chunks = 4 * 1024
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"user":"'))
        for (let i = 0; i < chunks; i++) controller.enqueue(new Uint8Array(1024).fill(120))
        controller.close()
      },
    })
    const res = await fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, signal: AbortSignal.timeout(10_000) })
    expect(res.status).toBe(413)
    expect(await contract.check('POST', '/guid', res)).toEqual([])
    await res.arrayBuffer()
  })
})

describe('the document in every configuration', () => {
  let plain: Json
  let everything: Json
  beforeAll(async () => {
    plain = await documentOf()
    everything = await documentOf(EVERYTHING)
  })

  test('with every option on, redocly finds nothing and swagger-parser validates it', async () => {
    const result = await redoclyLint(everything)
    expect(result.problems).toEqual([])
    expect(await swaggerParserErrors(everything)).toEqual([])
  })

  test('OpenAPI 3.1 with a server entry and shared components', () => {
    expect(plain.openapi).toBe('3.1.0')
    expect(plain.servers).toEqual([expect.objectContaining({ url: '/' })])
    for (const kind of ['schemas', 'responses', 'headers', 'parameters']) expect(Object.keys(plain.components[kind]).length).toBeGreaterThan(2)
    // Operations refer to the components rather than repeating them.
    expect(plain.paths['/guid/{guid}'].get.responses['200']).toEqual({ $ref: '#/components/responses/Record' })
    expect(plain.paths['/guid'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateBody' })
  })

  test('no keyword OpenAPI does not know: errorMessage and the validator-only format stay out', () => {
    for (const doc of [plain, everything]) {
      expect(findKey(doc, 'errorMessage')).toEqual([])
      expect(findKey(doc, 'format')).toEqual([])
    }
  })

  test('ajv (strict, JSON Schema 2020-12) compiles every schema of the document', () => {
    const ajv = new Ajv2020({ strict: true })
    const defs = JSON.parse(JSON.stringify(everything.components.schemas).replaceAll('#/components/schemas/', 'urn:guidd:doc#/$defs/'))
    ajv.addSchema({ $id: 'urn:guidd:doc', $defs: defs })
    const schemas = findKey(everything, 'schema').map(([at, schema]) => [at, JSON.parse(JSON.stringify(schema).replaceAll('#/components/schemas/', 'urn:guidd:doc#/$defs/'))] as const)
    expect(schemas.length).toBeGreaterThan(20)
    // ajv.compile throws on anything strict mode refuses (an unknown keyword or format, a loose `required`).
    for (const [at, schema] of schemas) expect({ at, compiled: typeof ajv.compile(schema) }).toEqual({ at, compiled: 'function' })
    for (const name of Object.keys(defs)) expect({ name, compiled: typeof ajv.getSchema(`urn:guidd:doc#/$defs/${name}`) }).toEqual({ name, compiled: 'function' })
  })

  test('every example validates against its schema; expiry examples lie in the future; no problem example invents an instance', () => {
    const ajv = new Ajv2020({ strict: true })
    ajv.addSchema({ $id: 'urn:guidd:doc', $defs: JSON.parse(JSON.stringify(plain.components.schemas).replaceAll('#/components/schemas/', 'urn:guidd:doc#/$defs/')) })
    const compile = (schema: unknown) => ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('#/components/schemas/', 'urn:guidd:doc#/$defs/')))
    let checked = 0
    const media = [...findKey(plain, 'content').flatMap(([, content]) => Object.values(content as Json))] as Json[]
    for (const m of media) {
      if (m.schema === undefined) continue
      const v = compile(m.schema)
      const values = [...(m.example === undefined ? [] : [m.example]), ...Object.values((m.examples ?? {}) as Json).map((e) => resolve(plain, e).value)]
      for (const value of values) {
        expect({ value, valid: v(value) }).toEqual({ value, valid: true })
        checked++
      }
    }
    for (const [name, schema] of Object.entries<Json>(plain.components.schemas)) {
      for (const value of schema.examples ?? []) {
        expect({ name, value, valid: compile({ $ref: `#/components/schemas/${name}` })(value) }).toEqual({ name, value, valid: true })
        checked++
      }
    }
    expect(checked).toBeGreaterThan(25)
    const now = Date.now() / 1000
    for (const [at, expire] of findKey(plain, 'expire')) {
      if (typeof expire !== 'number' && typeof expire !== 'string') continue
      const seconds = typeof expire === 'number' || /^[0-9]+$/.test(expire) ? Number(expire) : Date.parse(expire) / 1000
      expect({ at, future: seconds > now + 50 * 365 * 86400 }).toEqual({ at, future: true })
    }
    expect(findKey(plain, 'instance').filter(([at]) => !at.includes('/properties/'))).toEqual([])
  })

  /**
   * Each operation's statuses by default: what the handler answers, plus 431 and 500, which every
   * route may, and the 503 of REQUEST_TIMEOUT_MS (10 s by default) on every guarded route.
   */
  const base: Array<[string, string, string[]]> = [
    ['/guid', 'get', ['200', '400', '431', '500', '503']],
    ['/guid', 'head', ['200', '400', '431', '500', '503']],
    ['/guid', 'post', ['201', '400', '409', '413', '415', '422', '431', '500', '503']],
    ['/guid/{guid}', 'get', ['200', '304', '400', '404', '431', '500', '503']],
    ['/guid/{guid}', 'head', ['200', '304', '400', '404', '431', '500', '503']],
    ['/guid/{guid}', 'post', ['200', '201', '400', '409', '412', '413', '415', '422', '431', '500', '503']],
    ['/guid/{guid}', 'patch', ['200', '400', '404', '409', '412', '413', '415', '422', '431', '500', '503']],
    ['/guid/{guid}', 'delete', ['204', '400', '404', '409', '412', '422', '431', '500', '503']],
    ['/healthz', 'get', ['200', '431', '500', '503']],
    ['/healthz', 'head', ['200', '431', '500', '503']],
    ['/readyz', 'get', ['200', '431', '500', '503']],
    ['/readyz', 'head', ['200', '431', '500', '503']],
    ['/metrics', 'get', ['200', '431', '500', '503']],
    ['/metrics', 'head', ['200', '431', '500', '503']],
  ]

  test.each(base)('%s %s documents exactly %p by default', (path, method, codes) => {
    expect(statuses(plain, path, method)).toEqual(codes)
  })

  test('with keys, a rate limit and a timeout, the guarded operations add 401, 429 and the 503 timeout; the probes need no key', () => {
    for (const [path, method, codes] of base) {
      const guarded = path.startsWith('/guid')
      const expected = new Set(codes)
      if (guarded || path === '/metrics') expected.add('401')
      if (guarded) expected.add('429')
      expected.add('503')
      expect({ path, method, codes: statuses(everything, path, method) }).toEqual({ path, method, codes: [...expected].sort() })
      const security = everything.paths[path][method].security
      expect({ path, method, security }).toEqual({ path, method, security: guarded || path === '/metrics' ? undefined : [] })
    }
    expect(everything.security).toEqual([{ bearerAuth: [] }])
    expect(everything.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
    const unavailable = resolve(everything, everything.paths['/guid'].post.responses['503'])
    expect(Object.keys(unavailable.content['application/problem+json'].examples)).toEqual(['overloaded', 'unavailable', 'timeout'])
    expect(unavailable.headers['Retry-After']).toBeDefined()
    expect(Object.keys(resolve(everything, everything.paths['/guid'].post.responses['429']).headers)).toEqual(
      expect.arrayContaining(['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy']),
    )
  })

  test('without keys, no scheme and no operation demanding one', () => {
    expect(plain.security).toEqual([])
    expect(plain.components.securitySchemes).toBeUndefined()
    expect(findKey(plain.paths, 'security')).toEqual([])
  })

  test("431: Bun's bare answer by default, the service's problem when MAX_HEADER_BYTES is set", () => {
    const bare = resolve(plain, plain.paths['/guid'].post.responses['431'])
    expect(bare.content).toBeUndefined()
    expect(bare.headers).toBeUndefined()
    const limited = resolve(everything, everything.paths['/guid'].post.responses['431'])
    expect(Object.keys(limited.content)).toEqual(['application/problem+json'])
    expect(limited.headers['X-Request-Id'].required).toBe(false)
  })

  test('the probes: /healthz and /readyz 200 and 503 exactly as sent; 503 carries Retry-After', () => {
    const schemaOf = (path: string, status: string, type = 'application/json') => resolve(plain, resolve(plain, plain.paths[path].get.responses[status]).content[type].schema)
    expect(schemaOf('/healthz', '200')).toMatchObject({ properties: { status: { const: 'ok' } }, required: ['status'], additionalProperties: false })
    expect(schemaOf('/readyz', '200')).toMatchObject({ properties: { status: { const: 'ready' }, checks: { additionalProperties: { const: 'ok' } } } })
    expect(schemaOf('/readyz', '503')).toMatchObject({ properties: { status: { const: 'unavailable' } } })
    expect(resolve(plain, plain.paths['/readyz'].get.responses['503']).headers['Retry-After']).toBeDefined()
    // With a request timeout, the readiness checks may outlive it: then the 503 is a problem.
    expect(Object.keys(resolve(everything, everything.paths['/readyz'].get.responses['503']).content)).toEqual(['application/json', 'application/problem+json'])
  })

  test('record answers require ETag (and Location on 201); each path names the methods a 405 lists in Allow', () => {
    const created = resolve(plain, plain.paths['/guid'].post.responses['201'])
    for (const name of ['ETag', 'Location', 'X-Request-Id']) expect(resolve(plain, created.headers[name]).required).toBe(true)
    expect(resolve(plain, resolve(plain, plain.paths['/guid/{guid}'].get.responses['304']).headers.ETag).required).toBe(true)
    expect(plain.paths['/guid'].description).toContain('405')
    expect(plain.paths['/guid'].description).toContain('Allow: GET, HEAD, POST`')
    expect(plain.paths['/guid/{guid}'].description).toContain('Allow: GET, HEAD, POST, PATCH, DELETE`')
  })

  test('with CORS on, OPTIONS is documented as the preflight', () => {
    expect(plain.paths['/guid'].options).toBeUndefined()
    expect(statuses(everything, '/guid', 'options')).toEqual(['204', '431', '500'])
    expect(everything.paths['/guid'].options.security).toEqual([])
    // Found by Schemathesis: a preflight answers 204 whatever the path's GUID, malformed included.
    expect(everything.paths['/guid/{guid}'].options.parameters).toEqual([expect.objectContaining({ in: 'path', name: 'guid', schema: { type: 'string' } })])
  })
})

describe('the schemas refuse what the server refuses', () => {
  const guidRegex = new RegExp(GUID_INPUT_PATTERN)
  const expireRegex = new RegExp(EXPIRE_STRING_PATTERN)
  const hex = fc.constantFrom(...'0123456789abcdefABCDEFgG'.split(''))
  const guidish = fc.oneof(
    fc.array(fc.oneof(hex, fc.constantFrom('-', '{', '}')), { maxLength: 40 }).map((cs) => cs.join('')),
    fc.uuid().chain((u) => fc.constantFrom(u, u.replaceAll('-', ''), `{${u}}`, `{${u}`, `${u}}`, `{${u.replaceAll('-', '')}}`, u.toUpperCase(), ` ${u}`)),
  )

  test('the Idempotency-Key pattern accepts exactly what parseIdempotencyKey accepts', () => {
    const keyRegex = new RegExp(IDEMPOTENCY_KEY_PATTERN)
    const parses = (s: string) => {
      try {
        parseIdempotencyKey(s)
        return true
      } catch {
        return false
      }
    }
    const chars = fc.oneof(fc.constantFrom('"', '\\', 'a', ' ', '~', 'é', '\t', ';', '='), fc.string({ maxLength: 3 }))
    const keyish = fc.oneof(
      fc.array(chars, { maxLength: 12 }).map((cs) => cs.join('')),
      fc.array(chars, { maxLength: 12 }).map((cs) => `"${cs.join('')}"`),
      fc.integer({ min: 250, max: 260 }).map((n) => `"${'k'.repeat(n)}"`),
    )
    fc.assert(
      fc.property(keyish, (s) => keyRegex.test(s) === parses(s)),
      { numRuns: 5_000 },
    )
  })

  test('the GUID pattern accepts exactly what canonicalGuid accepts', () => {
    fc.assert(
      fc.property(guidish, (s) => guidRegex.test(s) === (canonicalGuid(s) !== null)),
      { numRuns: 5_000 },
    )
  })

  const syntaxRefused = (s: string): boolean => {
    try {
      parseExpire(s, 0)
      return false
    } catch (error) {
      return (error as Error).message.startsWith('expire must be Unix seconds')
    }
  }

  test('the expire pattern accepts every string the service reads, and refuses digit strings it does not', () => {
    const piece = fc.constantFrom('2100', '10000', '-', '01', '12', '31', '30', 'T', 't', ' ', ':', '00', '59', '60', '.5', 'Z', 'z', '+02:00', '-05:30', '1', '4102444800', '9999999999999')
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 12 }).map((ps) => ps.join('')),
        (s) => {
          const read = !syntaxRefused(s)
          if (read) return expireRegex.test(s)
          // A date-time that matches and is still refused has a day, hour or offset out of range (2100-02-30): a 400 past the pattern.
          return !expireRegex.test(s) || !/^[0-9]+$/.test(s)
        },
      ),
      { numRuns: 5_000 },
    )
    for (const s of ['10000-01-01T00:00:00Z', '2100-01-01', '2100-01-01T00:00:00', '1e9', ' 4102444800', '4102444800 ', '0x10', '9999999999999'])
      expect({ s, matches: expireRegex.test(s) }).toEqual({ s, matches: false })
  })

  test('user: 1 to 256 code points, in the document as in the service (an emoji is one)', async () => {
    const doc = await documentOf()
    const ajv = new Ajv2020({ strict: true })
    const user = ajv.compile(doc.components.schemas.User)
    const accepts = (u: string) => {
      try {
        validate(CreateBody, { user: u })
        return true
      } catch {
        return false
      }
    }
    for (const u of ['x', '😀'.repeat(256), 'x'.repeat(256), '😀'.repeat(257), 'x'.repeat(257), ''])
      expect({ length: [...u].length, doc: user(u), service: accepts(u) }).toEqual({ length: [...u].length, doc: accepts(u), service: accepts(u) })
  })

  test('PATCH: a body naming only the GUID satisfies neither the schema nor the service', async () => {
    const doc = await documentOf()
    const ajv = new Ajv2020({ strict: false })
    ajv.addSchema({ $id: 'urn:guidd:doc', $defs: JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', 'urn:guidd:doc#/$defs/')) })
    const patch = ajv.getSchema('urn:guidd:doc#/$defs/PatchBody')!
    expect(patch({ guid: '9094E4C980C74043A4B586B420E69DDF' })).toBe(false)
    expect(patch({ user: 'x' })).toBe(true)
    expect(patch({ expire: 4102444800 })).toBe(true)
  })
})

describe('the conformance checker can fail', () => {
  let doc: Json
  beforeAll(async () => {
    doc = await documentOf()
  })
  const record = { guid: '9094E4C980C74043A4B586B420E69DDF', user: 'x', expire: 4102444800 }
  const answer = (status: number, body: unknown, headers: Record<string, string>) => new Response(body === undefined ? null : JSON.stringify(body), { status, headers })

  test.each([
    ['a conforming 200', 'GET', '/guid/9094E4C980C74043A4B586B420E69DDF', answer(200, record, { 'content-type': 'application/json', etag: '"1"', 'x-request-id': 'r-1' }), 0],
    ['no ETag', 'GET', '/guid/9094E4C980C74043A4B586B420E69DDF', answer(200, record, { 'content-type': 'application/json', 'x-request-id': 'r-1' }), 1],
    ['an extra field', 'GET', '/guid/9094E4C980C74043A4B586B420E69DDF', answer(200, { ...record, version: 1 }, { 'content-type': 'application/json', etag: '"1"', 'x-request-id': 'r-1' }), 1],
    ['an undocumented status', 'GET', '/guid/9094E4C980C74043A4B586B420E69DDF', answer(409, undefined, { 'x-request-id': 'r-1' }), 1],
    ['the wrong content type', 'GET', '/healthz', answer(200, { status: 'ok' }, { 'content-type': 'text/plain', 'x-request-id': 'r-1' }), 1],
    [
      'a problem of another status',
      'GET',
      '/guid/x',
      answer(400, { type: 'urn:guidd:problem:not-found', title: 't', status: 400, detail: 'd', requestId: 'r-1' }, { 'content-type': 'application/problem+json', 'x-request-id': 'r-1' }),
      1,
    ],
    [
      'a 405 whose Allow disagrees',
      'PUT',
      '/guid',
      answer(
        405,
        { type: 'urn:guidd:problem:method-not-allowed', title: 't', status: 405, detail: 'd', requestId: 'r-1' },
        { 'content-type': 'application/problem+json', allow: 'GET', 'x-request-id': 'r-1' },
      ),
      1,
    ],
    ['a bare 413', 'POST', '/guid', answer(413, undefined, {}), 2],
  ] as const)('%s: %d mismatches', async (_, method, path, response, count) => {
    const mismatches = await openApiConformance(doc).check(method, path, response)
    expect(mismatches.length).toBe(count)
  })
})

describe('the examples work when pasted', () => {
  test('every request-body example, sent in the order a reader meets them, succeeds', async () => {
    const fresh = await createTestApp()
    try {
      const doc = (await (await fresh.req('GET', '/docs/json')).json()) as Json
      const guid = doc.components.parameters.Guid.example as string
      const bodies = (operation: Json) => Object.values<Json>(operation.requestBody.content['application/json'].examples).map((e) => e.value)
      const sent: Array<[string, number]> = []
      for (const body of bodies(doc.paths['/guid'].post)) sent.push(['POST /guid', (await fresh.req('POST', '/guid', body)).status])
      sent.push(['GET', (await fresh.req('GET', `/guid/${guid}`)).status])
      for (const method of ['post', 'patch'] as const) {
        for (const body of bodies(doc.paths['/guid/{guid}'][method])) sent.push([method, (await fresh.req(method.toUpperCase(), `/guid/${guid}`, body)).status])
      }
      sent.push(['DELETE', (await fresh.req('DELETE', `/guid/${guid}`)).status])
      expect(sent.length).toBeGreaterThanOrEqual(8)
      for (const [what, status] of sent) expect({ what, ok: status >= 200 && status < 300 }).toEqual({ what, ok: true })
    } finally {
      await fresh.close()
    }
  })

  test('the example expiry is accepted by the service for decades yet', () => {
    expect(parseExpire('2100-01-01T00:00:00Z', T0_SECONDS)).toBe(4102444800)
  })
})

describe('/docs offline', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await createTestApp()
  })
  afterAll(() => app.close())

  test('/docs serves the Swagger UI', async () => {
    const res = await app.req('GET', '/docs')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
  })

  test('the page loads only files the service serves itself: no CDN, no inline script', async () => {
    const html = await (await app.req('GET', '/docs')).text()
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//)
    expect(html).not.toMatch(/<script>(?!<)|<script[^>]*>[^<]+<\/script>/)
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    expect(refs).toEqual(expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/init.js']))
    for (const ref of refs) {
      const res = await app.req('GET', ref)
      expect({ ref, status: res.status }).toEqual({ ref, status: 200 })
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100)
    }
  })

  test('the start-up script points Swagger UI at /docs/json and at no public validator', async () => {
    const js = await (await app.req('GET', '/docs/init.js')).text()
    expect(js).toContain("url: '/docs/json'")
    expect(js).toContain('validatorUrl: null')
    expect(js).not.toMatch(/https?:\/\//)
  })

  test.each([
    ['/docs/swagger-ui-bundle.js', 'text/javascript', 'SwaggerUIBundle'],
    ['/docs/swagger-ui.css', 'text/css', '.swagger-ui'],
  ])("%s is swagger-ui-dist's file, gzipped when the client accepts it", async (path, type, marker) => {
    const plain = await app.req('GET', path)
    expect(plain.headers.get('content-type')).toStartWith(type)
    expect(plain.headers.get('content-encoding')).toBeNull()
    const text = await plain.text()
    expect(text).toContain(marker)
    const zipped = await app.req('GET', path, undefined, { 'accept-encoding': 'gzip, br' })
    expect(zipped.headers.get('content-encoding')).toBe('gzip')
    const bytes = new Uint8Array(await zipped.arrayBuffer())
    expect(bytes.byteLength).toBeLessThan(Buffer.byteLength(text) / 2)
  })
})

describe('the document info', () => {
  test("its version is the package's", async () => {
    const pkg = (await Bun.file(join(root, 'package.json')).json()) as { version: string }
    expect((await documentOf()).info.version).toBe(pkg.version)
  })

  test('it names no license while the project has none (Swagger UI would link a dead spdx.org page)', async () => {
    expect((await documentOf(EVERYTHING)).info).not.toHaveProperty('license')
  })
})
