import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import createClient from 'openapi-fetch'
import { createTestApp, type TestApp } from '../support/app'
import { generateTypes } from '../support/openapi-typescript'
import type { paths } from './guidd-api'

/**
 * What a client generated from /docs/json gets: `guidd-api.ts` is openapi-typescript's output
 * for the served document (default configuration), kept in the repo so `npm run typecheck`
 * checks this file's calls against it; the first test fails when it no longer equals a fresh
 * generation (GUIDD_UPDATE_CLIENT=1 rewrites it). The calls below use the generated types
 * through openapi-fetch with no cast anywhere.
 */

const TYPES = join(import.meta.dir, 'guidd-api.ts')

let app: TestApp
beforeAll(async () => {
  app = await createTestApp()
})
afterAll(() => app.close())

describe('the generated client', () => {
  test('guidd-api.ts is what openapi-typescript makes of the served document', async () => {
    const doc: object = await (await app.req('GET', '/docs/json')).json()
    const fresh = await generateTypes(doc, 'guidd-api.ts')
    if (process.env.GUIDD_UPDATE_CLIENT === '1') writeFileSync(TYPES, fresh)
    if (readFileSync(TYPES, 'utf8') !== fresh) {
      throw new Error('test/client/guidd-api.ts is stale: the document changed. Regenerate it: GUIDD_UPDATE_CLIENT=1 npx bun test test/client/typed-client.test.ts')
    }
  }, 360_000)

  test('create, read, 304, 412, patch, delete, 404 through openapi-fetch', async () => {
    const client = createClient<paths>({ baseUrl: 'http://localhost', fetch: async (request) => app.runtime.app.handle(request) })

    const created = await client.POST('/guid', { body: { user: 'Cylance, Inc.', expire: '2100-01-01T00:00:00Z' } })
    expect(created.response.status).toBe(201)
    const guid = created.data?.guid ?? 'missing'
    expect(guid).toMatch(/^[0-9A-F]{32}$/)
    expect(created.data?.expire).toBe(4102444800)
    expect(created.response.headers.get('location')).toBe(`/guid/${guid}`)

    const read = await client.GET('/guid/{guid}', { params: { path: { guid: guid.toLowerCase() } } })
    expect(read.data).toEqual({ guid, user: 'Cylance, Inc.', expire: 4102444800 })
    const etag = read.response.headers.get('etag') ?? ''
    expect(etag).toBe(created.response.headers.get('etag') ?? 'no etag on create')

    const cached = await client.GET('/guid/{guid}', { params: { path: { guid }, header: { 'If-None-Match': etag } } })
    expect(cached.response.status).toBe(304)
    expect(cached.data).toBeUndefined()

    const lost = await client.PATCH('/guid/{guid}', { params: { path: { guid }, header: { 'If-Match': '"1"' } }, body: { user: 'lost update' } })
    expect(lost.response.status).toBe(412)
    expect(lost.error?.type).toBe('urn:guidd:problem:precondition-failed')
    expect(lost.error?.requestId).toBe(lost.response.headers.get('x-request-id') ?? 'no request id')

    const patched = await client.PATCH('/guid/{guid}', { params: { path: { guid }, header: { 'If-Match': etag } }, body: { user: 'Someone Else' } })
    expect(patched.response.status).toBe(200)
    expect(patched.data?.user).toBe('Someone Else')
    const next = patched.response.headers.get('etag') ?? ''
    expect(next).not.toBe(etag)

    const deleted = await client.DELETE('/guid/{guid}', { params: { path: { guid }, header: { 'If-Match': next } } })
    expect(deleted.response.status).toBe(204)

    const gone = await client.GET('/guid/{guid}', { params: { path: { guid } } })
    expect(gone.response.status).toBe(404)
    expect(gone.error?.type).toBe('urn:guidd:problem:not-found')
    expect(gone.data).toBeUndefined()
  })
})
