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

const hasExample = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && Object.entries(value).some(([k, v]) => k === 'example' || k === 'examples' || hasExample(v))

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
