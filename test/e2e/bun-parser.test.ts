import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateGuid } from '../../src/domain/normalise'
import { type Guidd, startGuidd } from '../support/guidd-process'

/**
 * What Bun's HTTP/1.1 parser answers before any of guidd's code runs, pinned byte for byte
 * against the real process over raw TCP. None of these answers is guidd's (no problem+json, no
 * X-Request-Id), so guidd cannot change them; this test exists so that a Bun upgrade that changes
 * any of them fails here and the section "What Bun answers before guidd" of docs/api.md is revisited.
 * Measured on Bun 1.4.5.
 */

/** Longest wait for one exchange: every pinned case ends (close or full answers) well before. */
const READ_BOUND_MS = 2_000

let dir: string
let server: Guidd
let base: string

interface Parsed {
  statusLine: string
  headers: Map<string, string>
  body: string
}

/** The complete responses at the start of `text` (a partial one at the end is left out). */
const parseResponses = (text: string): Parsed[] => {
  const out: Parsed[] = []
  let rest = text
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) return out
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n')
    const headers = new Map<string, string>()
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
    }
    const length = Number(headers.get('content-length') ?? 0)
    if (rest.length < end + 4 + length) return out
    out.push({ statusLine, headers, body: rest.slice(end + 4, end + 4 + length) })
    rest = rest.slice(end + 4 + length)
  }
}

interface Exchange {
  /** Every byte the server sent, as latin1. */
  text: string
  /** The server closed the connection (rather than us, after the answers or the bound). */
  closedByServer: boolean
  responses: Parsed[]
}

/**
 * Writes `bytes` on a fresh connection and reads until the server closes it, `expect` complete
 * responses have arrived, or READ_BOUND_MS passes, whichever is first.
 */
const exchange = (bytes: string, expectResponses = Number.POSITIVE_INFINITY): Promise<Exchange> =>
  new Promise((resolve) => {
    const socket = connect(server.port, '127.0.0.1')
    let text = ''
    let settled = false
    const finish = (closedByServer: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ text, closedByServer, responses: parseResponses(text) })
    }
    const timer = setTimeout(() => finish(false), READ_BOUND_MS)
    socket.on('connect', () => socket.write(bytes, 'latin1'))
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      if (parseResponses(text).length >= expectResponses) finish(false)
    })
    socket.on('error', () => {}) // a reset is a close too; 'close' follows
    socket.on('close', () => finish(true))
  })

/** Bun's own answer: a status line, `Connection: close`, nothing else, then the close. */
const bare = (status: string) => `HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`

const expectBunAnswer = (ex: Exchange, status: string) => {
  expect(ex.text).toBe(bare(status))
  expect(ex.closedByServer).toBe(true)
}

const expectSilentClose = (ex: Exchange) => {
  expect(ex.text).toBe('')
  expect(ex.closedByServer).toBe(true)
}

/** guidd answered: it has an X-Request-Id, whatever the status. */
const expectGuidd = (res: Parsed | undefined, status: string) => {
  expect(res?.statusLine).toBe(`HTTP/1.1 ${status}`)
  expect(res?.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{1,128}$/)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-bun-parser-'))
  server = await startGuidd({ env: { SQLITE_PATH: join(dir, 'guidd.sqlite'), LOG_LEVEL: 'warn', HOST: '127.0.0.1' } })
  base = server.base
})

afterAll(async () => {
  await server?.stop(5_000)
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('Bun answers 505 itself', () => {
  test.each([
    ['a request line ending in a bare LF', 'GET /healthz HTTP/1.1\nHost: x\n\n'],
    ['a bare-LF request for a GUID', 'GET /guid/9094E4C980C74043A4B586B420E69DDF HTTP/1.1\nHost: x\n\n'],
    ['HTTP/1.2', 'GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n'],
    ['HTTP/2.0 in text', 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n'],
    ['a lower-case version', 'GET /healthz http/1.1\r\nHost: x\r\n\r\n'],
    ['no version (HTTP/0.9 style)', 'GET /healthz\r\n\r\n'],
  ])('%s', async (_, bytes) => {
    expectBunAnswer(await exchange(bytes), '505 HTTP Version Not Supported')
  })

  test('HTTP/1.0 is not refused: guidd answers it and closes', async () => {
    const ex = await exchange('GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n')
    expectGuidd(ex.responses[0], '200 OK')
    expect(ex.closedByServer).toBe(true)
  })
})

describe('Bun answers a bare 400 itself (no problem+json, no X-Request-Id)', () => {
  test.each([
    ['no Host header', 'GET /healthz HTTP/1.1\r\n\r\n'],
    ['a space in a header name', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n'],
    ['bare LF in the headers only', 'GET /healthz HTTP/1.1\r\nHost: x\n\n'],
    ['a Content-Length that is not a number', 'POST /guid HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
    ['both Content-Length and Transfer-Encoding', 'POST /guid HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a line that is not a request line', 'hello\r\n\r\n'],
  ])('%s', async (_, bytes) => {
    expectBunAnswer(await exchange(bytes), '400 Bad Request')
  })
})

describe('Bun answers a bare 431 itself above 16 KiB of headers (MAX_HEADER_BYTES unset)', () => {
  test('a 20,000-byte header', async () => {
    const ex = await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    expectBunAnswer(ex, '431 Request Header Fields Too Large')
  })

  test('a 15,000-byte header still reaches guidd', async () => {
    const ex = await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(15_000)}\r\n\r\n`, 1)
    expectGuidd(ex.responses[0], '200 OK')
  })
})

describe('Bun closes the connection without a reply for a method it does not know', () => {
  test.each([
    ['FOO', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['FOO on /guid', 'FOO /guid HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a lower-case get', 'get /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
  ])('%s', async (_, bytes) => {
    expectSilentClose(await exchange(bytes))
  })

  test.each(['PROPFIND', 'QUERY', 'TRACE'])('%s is known to Bun: guidd answers 405', async (method) => {
    const ex = await exchange(`${method} /guid HTTP/1.1\r\nHost: x\r\n\r\n`, 1)
    expectGuidd(ex.responses[0], '405 Method Not Allowed')
    expect(ex.responses[0]?.headers.get('content-type')).toStartWith('application/problem+json')
  })
})

describe('a request pipelined behind a pending response', () => {
  const postGuid = (guid: string) => {
    const body = JSON.stringify({ guid, user: 'pipelined' })
    return `POST /guid HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`
  }
  const GET_HEALTHZ = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'

  test('behind a create: no reply to either request, the connection closed, the create applied', async () => {
    const guid = generateGuid()
    expectSilentClose(await exchange(postGuid(guid) + GET_HEALTHZ))
    // The client saw nothing, yet the write was applied: a blind retry would meet 409.
    const res = await fetch(`${base}/guid/${guid}`, { signal: AbortSignal.timeout(READ_BOUND_MS) })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { user: string }).user).toBe('pipelined')
  })

  test('behind an answer guidd gives at once (a 400), both are answered', async () => {
    const bad = 'POST /guid HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'
    const ex = await exchange(bad + GET_HEALTHZ, 2)
    expectGuidd(ex.responses[0], '400 Bad Request')
    expectGuidd(ex.responses[1], '200 OK')
    expect(ex.closedByServer).toBe(false)
  })

  test('two pipelined reads are both answered', async () => {
    const ex = await exchange(`GET /guid/${generateGuid()} HTTP/1.1\r\nHost: x\r\n\r\n${GET_HEALTHZ}`, 2)
    expectGuidd(ex.responses[0], '404 Not Found')
    expectGuidd(ex.responses[1], '200 OK')
    expect(ex.closedByServer).toBe(false)
  })
})
