import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { createGuid, expectProblem, GUID } from '../support/http'

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
  await createGuid(app)
})
afterEach(() => app.close())

const writes: Array<[string, string]> = [
  ['POST', '/guid'],
  ['POST', `/guid/${GUID}`],
  ['PATCH', `/guid/${GUID}`],
]

/** A request with a raw body and exactly the given headers (no content-type added). */
const raw = (method: string, path: string, body: RequestInit['body'], headers: Record<string, string> = {}) => app.runtime.app.handle(new Request(`http://localhost${path}`, { method, body, headers }))

/** `{"user":"x"}` padded with whitespace to exactly `bytes` bytes: valid JSON. */
const paddedValid = (bytes: number) => {
  const json = '{"user":"x"}'
  return `${json.slice(0, -1) + ' '.repeat(bytes - json.length)}}`
}

/** `{"user":"xxxx..."}` of exactly `bytes` bytes: valid JSON, invalid user (too long). */
const longUser = (bytes: number) => `{"user":"${'x'.repeat(bytes - 11)}"}`

describe('request bodies', () => {
  test.each(writes)('%s %s: malformed JSON is 400 malformed-json', async (method, path) => {
    await expectProblem(await app.req(method, path, '{"user": "x"'), 400, 'malformed-json')
  })

  test.each(writes)('%s %s: an empty body is 400 malformed-json', async (method, path) => {
    await expectProblem(await raw(method, path, '', { 'content-type': 'application/json' }), 400, 'malformed-json')
  })

  test.each([
    ['an array', [{ user: 'x' }]],
    ['a string', 'just text'],
    ['a number', 42],
    ['null', null],
  ])('a JSON %s instead of an object is 400', async (_name, value) => {
    const body = await expectProblem(await app.req('POST', '/guid', JSON.stringify(value)), 400, 'validation')
    expect(body.detail).toContain('object')
  })

  test.each(writes)('%s %s: text/plain is 415', async (method, path) => {
    await expectProblem(await app.req(method, path, '{"user":"x"}', { 'content-type': 'text/plain' }), 415, 'unsupported-media-type')
  })

  test.each(writes)('%s %s: no content type is 415', async (method, path) => {
    await expectProblem(await raw(method, path, new TextEncoder().encode('{"user":"x"}')), 415, 'unsupported-media-type')
  })

  test('application/json with a charset is accepted', async () => {
    const res = await app.req('POST', '/guid', '{"user":"x"}', { 'content-type': 'application/json; charset=utf-8' })
    expect(res.status).toBe(201)
  })

  test.each(writes)('%s %s: 16385 bytes is 413', async (method, path) => {
    await expectProblem(await app.req(method, path, paddedValid(16385)), 413, 'payload-too-large')
  })

  test('16385 bytes sent as a stream, with no Content-Length, is 413', async () => {
    const bytes = new TextEncoder().encode(paddedValid(16385))
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 8000))
        controller.enqueue(bytes.slice(8000))
        controller.close()
      },
    })
    await expectProblem(await raw('POST', '/guid', stream, { 'content-type': 'application/json' }), 413, 'payload-too-large')
  })

  test('a declared Content-Length over 16 KiB is 413', async () => {
    await expectProblem(await raw('POST', '/guid', paddedValid(20000), { 'content-type': 'application/json', 'content-length': '20000' }), 413, 'payload-too-large')
  })

  test('exactly 16384 bytes of valid JSON is accepted', async () => {
    const body = paddedValid(16384)
    expect(Buffer.byteLength(body)).toBe(16384)
    expect((await app.req('POST', '/guid', body)).status).toBe(201)
  })

  test.each([16000, 16384])('%d bytes failing validation is 400, not 413', async (size) => {
    const body = longUser(size)
    expect(Buffer.byteLength(body)).toBe(size)
    await expectProblem(await app.req('POST', '/guid', body), 400, 'validation')
  })

  test('the limit counts bytes, not characters', async () => {
    // 5460 three-byte characters: over 16384 bytes in under 5500 characters.
    const body = `{"user":"x","expire":"${'€'.repeat(5460)}"}`
    expect(body.length).toBeLessThan(16384)
    expect(Buffer.byteLength(body)).toBeGreaterThan(16384)
    await expectProblem(await app.req('POST', '/guid', body), 413, 'payload-too-large')
  })
})
