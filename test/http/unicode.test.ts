import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { findDuplicateKey } from '../../src/http/json-keys'
import { createTestApp, type TestApp } from '../support/app'
import { createGuid, expectProblem, GUID } from '../support/http'

/**
 * Issue 7, hole 2: text is well-formed Unicode and a body means one thing. A lone surrogate
 * escape was stored (as U+FFFD by SQLite, and in Redis mode it made the compare-and-set
 * misread the version forever); invalid UTF-8 bytes were read as U+FFFD; a duplicate member
 * was accepted with the last one winning.
 */

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
})
afterEach(() => app.close())

const send = (method: string, path: string, body: string | Uint8Array<ArrayBuffer>) =>
  app.runtime.app.handle(new Request(`http://localhost${path}`, { method, body, headers: { 'content-type': 'application/json' } }))

const writes: Array<[string, string]> = [
  ['POST', '/guid'],
  ['POST', `/guid/${GUID}`],
  ['PATCH', `/guid/${GUID}`],
]

describe('well-formed Unicode', () => {
  test.each(writes)('%s %s: a lone surrogate escape in user is 400 validation', async (method, path) => {
    await createGuid(app)
    for (const user of ['\\ud800', '\\udfff', 'a\\ud83d', '\\ude00b']) {
      const problem = await expectProblem(await send(method, path, `{"user":"${user}"}`), 400, 'validation')
      expect(problem.errors).toEqual([{ path: '/user', message: expect.stringContaining('well-formed') }])
    }
  })

  test('a surrogate pair (an astral character) is one character and is stored exactly', async () => {
    const res = await send('POST', '/guid', `{"guid":"${GUID}","user":"\\ud83d\\ude00 x"}`)
    expect(res.status).toBe(201)
    expect(await (await app.req('GET', `/guid/${GUID}`)).json()).toMatchObject({ user: '\u{1F600} x' })
  })

  test.each(writes)('%s %s: invalid UTF-8 bytes anywhere in the body are 400 malformed-json', async (method, path) => {
    await createGuid(app)
    const prefix = new TextEncoder().encode('{"user":"a')
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80] /* an encoded surrogate */, [0xc0, 0xaf] /* overlong */]) {
      const body = new Uint8Array([...prefix, ...bad, 0x22, 0x7d])
      await expectProblem(await send(method, path, body), 400, 'malformed-json')
    }
  })

  test('nothing was stored by the refused bodies', async () => {
    await send('POST', '/guid', `{"guid":"${GUID}","user":"\\ud800"}`)
    await expectProblem(await app.req('GET', `/guid/${GUID}`), 404, 'not-found')
  })
})

describe('duplicate members', () => {
  test.each([
    ['guid', `{"guid":"nothex","guid":"${GUID}","user":"x"}`],
    ['user', '{"user":"a","user":"b"}'],
    ['an escaped spelling of the same name', '{"user":"a","\\u0075ser":"b"}'],
  ])('POST /guid naming %s twice is 400 malformed-json', async (_name, body) => {
    await expectProblem(await send('POST', '/guid', body), 400, 'malformed-json')
  })

  test('the same name in different objects is not a duplicate', () => {
    expect(findDuplicateKey('{"a":{"a":1},"b":[{"a":1},{"a":2}]}')).toBeUndefined()
    expect(findDuplicateKey('{"a":"{\\"a\\":1,","b":"\\\\"}')).toBeUndefined()
    expect(findDuplicateKey('{"a":[1,{"x":1,"x":2}]}')).toBe('x')
    expect(findDuplicateKey('[{"a":1},{"a":1,"b":2,"a":3}]')).toBe('a')
  })
})
