import { afterEach, describe, expect, test } from 'bun:test'
import { hostname } from 'node:os'
import { createLogger } from '../../src/ops/logger'
import { createTestApp, type TestApp } from '../support/app'
import { GUID } from '../support/http'

const KEY = 'k-secret-0123456789'
const USER = 'Private Person <private@example.com>'

let app: TestApp | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

const logged = async (level: string, env: Record<string, string> = {}) => {
  const lines: string[] = []
  app = await createTestApp({ API_KEYS: KEY, ...env }, { logger: createLogger(level, { write: (line: string) => void lines.push(line) }), clientAddress: () => '192.0.2.7' })
  return { app, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}
const auth = { authorization: `Bearer ${KEY}` }

describe('the request log', () => {
  test("one JSON line per request in pino's shape: numeric level, epoch-ms time, pid, hostname, then the request", async () => {
    const { app, records } = await logged('info')
    const before = Date.now()
    const res = await app.req('POST', '/guid', { guid: GUID, user: USER }, { ...auth, 'x-request-id': 'req-42' })
    expect(res.status).toBe(201)
    const body = await res.text()
    const lines = records().filter((r) => r.msg === 'request')
    expect(lines).toHaveLength(1)
    const line = lines[0]!
    expect(line).toMatchObject({
      level: 30,
      pid: process.pid,
      hostname: hostname(),
      name: 'guidd',
      requestId: 'req-42',
      method: 'POST',
      route: '/guid',
      status: 201,
      bytes: Buffer.byteLength(body),
      client: '192.0.2.7',
    })
    expect(line.time).toBeNumber()
    expect(line.time as number).toBeGreaterThanOrEqual(before)
    expect(line.time as number).toBeLessThanOrEqual(Date.now())
    expect(line.durationMs).toBeNumber()
    expect(line).not.toHaveProperty('sample')
  })

  test('LOG_SAMPLE_2XX=0 drops every 2xx line; refusals, misses and failures are still logged', async () => {
    const { app, records } = await logged('info', { LOG_SAMPLE_2XX: '0' })
    await app.req('POST', '/guid', { guid: GUID, user: USER }, auth)
    await app.req('GET', `/guid/${GUID}`, undefined, auth)
    await app.req('GET', '/healthz')
    await app.req('GET', `/guid/${GUID}`)
    await app.req('GET', '/guid/0123456789ABCDEF0123456789ABCDEF', undefined, auth)
    await app.req('GET', `/guid/${GUID}`, undefined, { ...auth, 'if-none-match': (await app.req('GET', `/guid/${GUID}`, undefined, auth)).headers.get('etag')! })
    await app.req('GET', '/nowhere')
    expect(records().map((r) => r.status)).toEqual([401, 404, 304, 404])
  })

  test('LOG_SAMPLE_2XX=1 (the default) logs every line, unmarked', async () => {
    const { app, records } = await logged('info', { LOG_SAMPLE_2XX: '1' })
    for (let i = 0; i < 5; i++) await app.req('GET', '/healthz')
    expect(records().map((r) => [r.status, r.sample])).toEqual(Array(5).fill([200, undefined]))
  })

  test('every answer is logged, including refusals and unknown routes, each with its own request id', async () => {
    const { app, records } = await logged('info')
    const responses = [
      await app.req('GET', `/guid/${GUID}`),
      await app.req('GET', `/guid/${GUID}`, undefined, { authorization: 'Bearer wrong-key' }),
      await app.req('GET', `/guid/${GUID}`, undefined, auth),
      await app.req('GET', '/nowhere'),
      await app.req('DELETE', '/guid'),
      await app.req('GET', '/healthz'),
    ]
    const lines = records().filter((r) => r.msg === 'request')
    expect(lines.map((l) => l.status)).toEqual([401, 401, 404, 404, 405, 200])
    expect(lines.map((l) => l.requestId)).toEqual(responses.map((r) => r.headers.get('x-request-id')))
    expect(lines.map((l) => l.route)).toEqual(['/guid/:guid', '/guid/:guid', '/guid/:guid', 'unmatched', '/guid', '/healthz'])
  })

  test('never holds a key, a body, a user value or a raw path', async () => {
    const { app, lines } = await logged('info')
    await app.req('POST', '/guid', { guid: GUID, user: USER }, auth)
    await app.req('PATCH', `/guid/${GUID}`, { user: USER }, auth)
    await app.req('GET', `/guid/${GUID}`, undefined, { authorization: `Bearer ${KEY}x` })
    await app.req('POST', '/guid', { user: USER, unknown: 'field-value' }, auth)
    const text = lines.join('')
    expect(lines.length).toBeGreaterThan(0)
    for (const secret of [KEY, USER, 'private@example.com', 'field-value', GUID]) expect(text).not.toContain(secret)
  })

  test('LOG_LEVEL is honoured: at warn there are no request lines', async () => {
    const { app, lines } = await logged('warn')
    await app.req('GET', '/healthz')
    await app.req('GET', `/guid/${GUID}`, undefined, auth)
    expect(lines).toEqual([])
  })

  test('an unexpected failure is an error event with the request id; the lines parse as JSON', async () => {
    const { app, records } = await logged('info')
    // Closing the store under the app makes the next read fail with a driver error.
    await app.runtime.close(100)
    const res = await app.req('GET', '/guid/0123456789ABCDEF0123456789ABCDEF', undefined, auth)
    expect(res.status).toBe(500)
    const requestId = res.headers.get('x-request-id')
    const error = records().find((r) => r.level === 50)
    expect(error).toMatchObject({ requestId, msg: 'request failed' })
    expect(records().find((r) => r.msg === 'request' && r.status === 500)).toMatchObject({ requestId })
  })
})
