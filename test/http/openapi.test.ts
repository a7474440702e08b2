import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'

type Operation = { responses?: Record<string, unknown>; requestBody?: unknown }
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> }

let app: TestApp
let doc: Doc
beforeAll(async () => {
  app = await createTestApp()
  const res = await app.req('GET', '/docs/json')
  expect(res.status).toBe(200)
  doc = (await res.json()) as Doc
})
afterAll(() => app.close())

/** SPEC §3: each operation and the status codes it must document. */
const operations: Array<[string, string, string[]]> = [
  ['/guid', 'post', ['201', '400', '409']],
  ['/guid/{guid}', 'post', ['200', '201', '400', '412']],
  ['/guid/{guid}', 'get', ['200', '304', '400', '404']],
  ['/guid/{guid}', 'patch', ['200', '400', '404', '412']],
  ['/guid/{guid}', 'delete', ['204', '400', '404', '412']],
]

const hasExample = (value: unknown): boolean => typeof value === 'object' && value !== null && Object.entries(value).some(([k, v]) => k === 'example' || k === 'examples' || hasExample(v))

describe('GET /docs/json', () => {
  test('is an OpenAPI 3 document', () => {
    expect(doc.openapi).toMatch(/^3\./)
  })

  test('/docs serves the Swagger UI', async () => {
    const res = await app.req('GET', '/docs')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
  })

  test.each(operations)('%s %s lists the status codes %p', (path, method, codes) => {
    const operation = doc.paths[path]?.[method]
    expect(operation).toBeDefined()
    expect(Object.keys(operation!.responses ?? {})).toEqual(expect.arrayContaining(codes))
  })

  test.each(operations)('%s %s has an example', (path, method) => {
    expect(hasExample(doc.paths[path]?.[method])).toBe(true)
  })

  test.each(operations.filter(([, method]) => method !== 'get' && method !== 'delete'))('%s %s documents its JSON request body', (path, method) => {
    const operation = doc.paths[path]?.[method]
    expect(JSON.stringify(operation?.requestBody)).toContain('application/json')
  })

  test.each([['/healthz'], ['/readyz'], ['/metrics']])('%s is documented', (path) => {
    expect(doc.paths[path]?.get).toBeDefined()
  })
})

type Example = { value: { type: string; status: number } }
type Response = { description: string; content?: Record<string, { examples?: Record<string, Example>; example?: unknown }> }
type FullOperation = {
  responses: Record<string, Response>
  security?: unknown[]
  parameters?: Array<{ in: string; name: string; schema?: { example?: string } }>
  requestBody?: { content: Record<string, { examples?: Record<string, { value: unknown }> }> }
}
type FullDoc = { paths: Record<string, Record<string, FullOperation>>; components: { securitySchemes: Record<string, { type: string; scheme: string }> } }

describe('errors and auth in the OpenAPI document', () => {
  const full = () => doc as unknown as FullDoc

  test('declares the bearer scheme', () => {
    expect(full().components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
  })

  test.each(operations)("%s %s documents the guard's answers: 401, 429 and the 503 timeout", (path, method) => {
    const responses = full().paths[path]![method]!.responses
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['401', '429', '503']))
    expect(Object.keys(responses['503']!.content!['application/problem+json']!.examples!)).toContain('timeout')
    expect(Object.keys(responses['429']!)).toContain('headers')
  })

  test('every error response of every operation names its problem types, each with an example of that type and status', () => {
    let checked = 0
    for (const [path, methods] of Object.entries(full().paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) < 400 || path === '/readyz') continue
          const examples = response.content?.['application/problem+json']?.examples
          expect({ at: `${method} ${path} ${status}`, examples: examples !== undefined }).toEqual({ at: `${method} ${path} ${status}`, examples: true })
          for (const [code, example] of Object.entries(examples!)) {
            expect(example.value.type).toBe(`urn:guidd:problem:${code}`)
            expect(String(example.value.status)).toBe(status)
            expect(response.description).toContain(`urn:guidd:problem:${code}`)
            checked++
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(40)
  })

  test('431 is documented when MAX_HEADER_BYTES sets a limit', async () => {
    expect(full().paths['/guid']!.post!.responses['431']).toBeUndefined()
    const limited = await createTestApp({ MAX_HEADER_BYTES: '4096' })
    try {
      const limitedDoc = (await (await limited.req('GET', '/docs/json')).json()) as FullDoc
      for (const [path, method] of operations) expect(limitedDoc.paths[path]![method]!.responses['431']!.description).toContain('urn:guidd:problem:header-too-large')
    } finally {
      await limited.close()
    }
  })

  test('without keys configured, no operation demands the scheme', () => {
    for (const methods of Object.values(full().paths)) for (const operation of Object.values(methods)) expect(operation.security).toBeUndefined()
  })

  test('with keys configured, every /guid operation requires it; /healthz never does', async () => {
    const keyed = await createTestApp({ API_KEYS: 'k-0123456789abcdef' })
    try {
      const keyedDoc = (await (await keyed.req('GET', '/docs/json')).json()) as FullDoc
      for (const [path, method] of operations) expect(keyedDoc.paths[path]![method]!.security).toEqual([{ bearerAuth: [] }])
      expect(keyedDoc.paths['/healthz']!.get!.security).toBeUndefined()
      expect(keyedDoc.paths['/metrics']!.get!.security).toBeUndefined()
    } finally {
      await keyed.close()
    }
  })

  test('with AUTH_OPS_ENDPOINTS, /metrics requires it too', async () => {
    const keyed = await createTestApp({ API_KEYS: 'k-0123456789abcdef', AUTH_OPS_ENDPOINTS: 'true' })
    try {
      const res = await keyed.req('GET', '/docs/json', undefined, { authorization: 'Bearer k-0123456789abcdef' })
      const keyedDoc = (await res.json()) as FullDoc
      expect(keyedDoc.paths['/metrics']!.get!.security).toEqual([{ bearerAuth: [] }])
      expect(keyedDoc.paths['/readyz']!.get!.security).toBeUndefined()
    } finally {
      await keyed.close()
    }
  })
})

describe('the examples work when pasted', () => {
  test('every request-body example, sent in the order a reader meets them, succeeds', async () => {
    const fresh = await createTestApp()
    try {
      const paths = ((await (await fresh.req('GET', '/docs/json')).json()) as FullDoc).paths
      const guidOf = (operation: FullOperation) => operation.parameters!.find((p) => p.in === 'path' && p.name === 'guid')!.schema!.example!
      const bodies = (operation: FullOperation) => Object.values(operation.requestBody!.content['application/json']!.examples!).map((e) => e.value)
      const sent: Array<[string, number]> = []
      for (const body of bodies(paths['/guid']!.post!)) sent.push(['POST /guid', (await fresh.req('POST', '/guid', body)).status])
      const get = paths['/guid/{guid}']!.get!
      sent.push(['GET', (await fresh.req('GET', `/guid/${guidOf(get)}`)).status])
      for (const method of ['post', 'patch'] as const) {
        const operation = paths['/guid/{guid}']![method]!
        for (const body of bodies(operation)) sent.push([method, (await fresh.req(method.toUpperCase(), `/guid/${guidOf(operation)}`, body)).status])
      }
      sent.push(['DELETE', (await fresh.req('DELETE', `/guid/${guidOf(paths['/guid/{guid}']!.delete!)}`)).status])
      expect(sent.length).toBeGreaterThanOrEqual(8)
      for (const [what, status] of sent) expect({ what, ok: status >= 200 && status < 300 }).toEqual({ what, ok: true })
    } finally {
      await fresh.close()
    }
  })
})

describe('/docs offline', () => {
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
