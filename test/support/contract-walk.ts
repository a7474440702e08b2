import { expect } from 'bun:test'
import { send } from './requests'

/**
 * One walk through the contract (SPEC §2-§3) over real HTTP, for a guidd reached from outside:
 * a container, a compose stack, a load balancer. Every write and read kind, the problem
 * details of the errors, /readyz, /docs and its OpenAPI document. Fresh GUIDs on every call,
 * so it can run again against the same data.
 */

const PROBLEM = 'application/problem+json'

const randomGuid = (): string => crypto.randomUUID().replaceAll('-', '').toUpperCase()

/** The hyphenated, lower-case spelling of a canonical GUID (accepted on input, normalised). */
const hyphenated = (guid: string): string => `${guid.slice(0, 8)}-${guid.slice(8, 12)}-${guid.slice(12, 16)}-${guid.slice(16, 20)}-${guid.slice(20)}`.toLowerCase()

const problem = async (res: Response, status: number): Promise<void> => {
  expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status, type: expect.stringContaining(PROBLEM) })
  const body = (await res.json()) as { status: number; type: string }
  expect(body.status).toBe(status)
}

export const walkContract = async (base: string, user = 'container walk'): Promise<void> => {
  expect((await send(base, 'GET', '/healthz')).status).toBe(200)
  const ready = await send(base, 'GET', '/readyz')
  expect({ status: ready.status, body: await ready.json() }).toMatchObject({ status: 200, body: { status: 'ready' } })

  // POST /guid: a generated GUID, the default expiry.
  const created = await send(base, 'POST', '/guid', { user })
  expect(created.status).toBe(201)
  const record = (await created.json()) as { guid: string; user: string; expire: number }
  expect(record.guid).toMatch(/^[0-9A-F]{32}$/)
  expect(created.headers.get('location')).toBe(`/guid/${record.guid}`)
  const etag = created.headers.get('etag')
  expect(etag).toMatch(/^"\d+"$/)

  // GET, conditional GET.
  const read = await send(base, 'GET', `/guid/${record.guid}`)
  expect({ status: read.status, etag: read.headers.get('etag'), body: await read.json() }).toEqual({ status: 200, etag, body: record })
  const notModified = await send(base, 'GET', `/guid/${record.guid}`, undefined, { 'if-none-match': etag ?? '' })
  expect(notModified.status).toBe(304)

  // POST /guid/{guid}: create under a client's GUID, any spelling, normalised; then update.
  const own = randomGuid()
  const expire = Math.floor(Date.now() / 1000) + 3_600
  const put = await send(base, 'POST', `/guid/{${hyphenated(own)}}`, { user, expire: String(expire) })
  expect({ status: put.status, body: await put.json() }).toEqual({ status: 201, body: { guid: own, user, expire } })
  const updated = await send(base, 'POST', `/guid/${own}`, { user: `${user} (updated)` })
  expect({ status: updated.status, body: await updated.json() }).toEqual({ status: 200, body: { guid: own, user: `${user} (updated)`, expire } })

  // PATCH with If-Match: the current ETag wins, the old one is 412.
  const patched = await send(base, 'PATCH', `/guid/${record.guid}`, { user: `${user} (patched)` }, { 'if-match': etag ?? '' })
  expect(patched.status).toBe(200)
  expect(((await patched.json()) as { user: string }).user).toBe(`${user} (patched)`)
  expect(patched.headers.get('etag')).not.toBe(etag)
  await problem(await send(base, 'PATCH', `/guid/${record.guid}`, { user: 'stale' }, { 'if-match': etag ?? '' }), 412)

  // Errors: problem details with their statuses.
  await problem(await send(base, 'POST', '/guid', { user, extra: 1 }), 400)
  await problem(await send(base, 'GET', '/guid/not-a-guid'), 400)
  await problem(await send(base, 'POST', '/guid', { guid: own, user }), 409)

  // DELETE, then gone.
  expect((await send(base, 'DELETE', `/guid/${record.guid}`)).status).toBe(204)
  await problem(await send(base, 'GET', `/guid/${record.guid}`), 404)
  expect((await send(base, 'DELETE', `/guid/${own}`)).status).toBe(204)

  // The docs: the page, and the OpenAPI document naming the routes.
  const page = await send(base, 'GET', '/docs')
  expect({ status: page.status, type: page.headers.get('content-type') }).toEqual({ status: 200, type: expect.stringContaining('text/html') })
  await page.arrayBuffer()
  const docs = await send(base, 'GET', '/docs/json')
  expect(docs.status).toBe(200)
  expect(Object.keys(((await docs.json()) as { paths: object }).paths)).toEqual(expect.arrayContaining(['/guid', '/guid/{guid}']))
}
