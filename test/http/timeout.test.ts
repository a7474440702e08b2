import { afterEach, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { expectProblem, GUID } from '../support/http'

let app: TestApp | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

/** A POST whose body never finishes arriving (a stalled client): the handler waits on it. */
const stalledPost = (app: TestApp) => {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const body = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c
      c.enqueue(new TextEncoder().encode('{"user":'))
    },
  })
  const response = app.runtime.app.handle(new Request('http://localhost/guid', { method: 'POST', headers: { 'content-type': 'application/json' }, body }))
  return { response, finish: () => controller.close() }
}

describe('the per-request timeout', () => {
  test('a request still running at REQUEST_TIMEOUT_MS is answered 503 timeout with Retry-After', async () => {
    app = await createTestApp({ REQUEST_TIMEOUT_MS: '5000' })
    const stalled = stalledPost(app)
    app.clock.advance(4_999)
    expect(app.runtime.deadlines!.tick()).toBe(0)
    app.clock.advance(1)
    expect(app.runtime.deadlines!.tick()).toBe(1)
    const res = await stalled.response
    expect(res.headers.get('retry-after')).toBe('1')
    const problem = await expectProblem(res, 503, 'timeout')
    expect(problem.detail).toContain('5000 ms')
    stalled.finish()
  })

  test('is counted in /metrics, and the request in its route stats as a 503', async () => {
    app = await createTestApp({ REQUEST_TIMEOUT_MS: '100' })
    const stalled = stalledPost(app)
    app.clock.advance(100)
    app.runtime.deadlines!.tick()
    expect((await stalled.response).status).toBe(503)
    stalled.finish()
    const text = await (await app.req('GET', '/metrics')).text()
    expect(text).toMatch(/^guidd_request_timeouts_total 1$/m)
    expect(text).toContain('guidd_http_requests_total{method="POST",route="/guid",status="503"} 1')
  })

  test('requests that finish in time are untouched, and leave nothing pending', async () => {
    app = await createTestApp({ REQUEST_TIMEOUT_MS: '100' })
    expect((await app.req('POST', '/guid', { guid: GUID, user: 'u' })).status).toBe(201)
    expect((await app.req('PATCH', `/guid/${GUID}`, { user: 'v' })).status).toBe(200)
    expect(app.runtime.deadlines!.pending).toBe(0)
    app.clock.advance(1_000)
    expect(app.runtime.deadlines!.tick()).toBe(0)
  })

  test('REQUEST_TIMEOUT_MS=0 turns it off', async () => {
    app = await createTestApp({ REQUEST_TIMEOUT_MS: '0' })
    expect(app.runtime.deadlines).toBeUndefined()
  })
})
