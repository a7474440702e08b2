import { afterAll, afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Guidd, startGuidd } from '../support/guidd-process'
import { eventually } from '../support/eventually'

/**
 * The operational side against the real process: key file reload on SIGHUP, the log lines
 * on stdout, the start-up warning, Bun's own header limit and the idle timeout at the socket.
 */

const dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-ops-'))
const KEY_1 = 'k1-0123456789abcdef0123456789abcdef'
const KEY_2 = 'k2-fedcba9876543210fedcba9876543210'

let server: Guidd | undefined
afterEach(async () => {
  await server?.stop(5_000)
  server = undefined
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const start = async (name: string, env: Record<string, string>) => {
  server = await startGuidd({ env: { SQLITE_PATH: join(dir, `${name}.sqlite`), HOST: '127.0.0.1', ...env } })
  return { base: server.base, started: server }
}

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers, signal: AbortSignal.timeout(5_000) })

const jsonLines = (output: string) =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describe('API_KEYS_FILE and SIGHUP', () => {
  test('a changed key file is picked up on SIGHUP, without a restart; the log holds no key', async () => {
    const file = join(dir, 'keys')
    writeFileSync(file, `# guidd keys\n${KEY_1}\n`)
    const { base, started } = await start('sighup', { API_KEYS_FILE: file, LOG_LEVEL: 'info' })
    const pid = started.proc.pid
    expect((await get(`${base}/guid/0123456789ABCDEF0123456789ABCDEF`, { authorization: `Bearer ${KEY_1}` })).status).toBe(404)
    expect((await get(`${base}/guid/0123456789ABCDEF0123456789ABCDEF`, { authorization: `Bearer ${KEY_2}` })).status).toBe(401)

    writeFileSync(file, `${KEY_2}\n`)
    process.kill(pid, 'SIGHUP')
    await eventually('the new key accepted', async () => (await get(`${base}/guid/0123456789ABCDEF0123456789ABCDEF`, { authorization: `Bearer ${KEY_2}` })).status === 404)
    expect((await get(`${base}/guid/0123456789ABCDEF0123456789ABCDEF`, { authorization: `Bearer ${KEY_1}` })).status).toBe(401)
    expect(started.proc.pid).toBe(pid)

    // A broken file on the next SIGHUP leaves the keys in force.
    writeFileSync(file, 'not a key\n')
    process.kill(pid, 'SIGHUP')
    await eventually('the failed reload logged', () => started.output().includes('API keys not reloaded'))
    expect((await get(`${base}/guid/0123456789ABCDEF0123456789ABCDEF`, { authorization: `Bearer ${KEY_2}` })).status).toBe(404)

    await started.stop(5_000)
    const output = started.output()
    expect(output).not.toContain(KEY_1)
    expect(output).not.toContain(KEY_2)
    const lines = jsonLines(output)
    expect(lines.find((l) => l.msg === 'API keys reloaded')).toMatchObject({ keys: 1, level: 30 })
    expect(lines.find((l) => l.msg === 'API keys not reloaded; the previous keys stay in force')).toMatchObject({ level: 50 })
  })
})

describe('logs', () => {
  test('every stdout line is JSON; one request line per request, with the echoed request id; start, warning and stop', async () => {
    const { base, started } = await start('logs', { LOG_LEVEL: 'info' })
    const ids = ['e2e-log-1', 'e2e-log-2', 'e2e-log-3']
    const created = await fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': ids[0]! }, body: JSON.stringify({ user: 'Secret User Name' }) })
    expect(created.status).toBe(201)
    const { guid } = (await created.json()) as { guid: string }
    expect((await get(`${base}/guid/${guid}`, { 'x-request-id': ids[1]! })).status).toBe(200)
    expect((await get(`${base}/nowhere`, { 'x-request-id': ids[2]! })).status).toBe(404)
    await started.stop(5_000)

    const raw = started.output().trim().split('\n')
    const lines = raw.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['guidd listening', 'request', 'draining', 'stopped']))
    expect(lines.find((l) => l.level === 40)?.msg).toContain('open to anyone')
    const requests = lines.filter((l) => l.msg === 'request' && ids.includes(l.requestId as string))
    expect(requests.map((l) => [l.requestId, l.status, l.client])).toEqual([
      [ids[0], 201, '127.0.0.1'],
      [ids[1], 200, '127.0.0.1'],
      [ids[2], 404, '127.0.0.1'],
    ])
    const text = raw.join('\n')
    expect(text).not.toContain('Secret User Name')
    expect(text).not.toContain(guid)
  })
})

describe('limits at the socket', () => {
  test("headers over MAX_HEADER_BYTES: 431 problem+json; over Bun's 16 KiB: Bun's own 431", async () => {
    const { base } = await start('headers', { LOG_LEVEL: 'warn', MAX_HEADER_BYTES: '4096' })
    const ours = await get(`${base}/healthz`, { 'x-filler': 'a'.repeat(6_000) })
    expect(ours.status).toBe(431)
    expect(ours.headers.get('content-type')).toStartWith('application/problem+json')
    expect(((await ours.json()) as { type: string }).type).toBe('urn:guidd:problem:header-too-large')
    const buns = await get(`${base}/healthz`, { 'x-filler': 'a'.repeat(20_000) })
    expect(buns.status).toBe(431)
    await buns.arrayBuffer()
  })

  test('a client that goes silent mid-request is disconnected after IDLE_TIMEOUT_SECONDS', async () => {
    const { started } = await start('idle', { LOG_LEVEL: 'warn', IDLE_TIMEOUT_SECONDS: '1' })
    const opened = Date.now()
    const closed = await new Promise<number>((resolve, reject) => {
      const socket = connect(started.port, '127.0.0.1', () => socket.write('POST /guid HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"us'))
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error('the stalled connection was still open after 10 s'))
      }, 10_000)
      socket.on('close', () => {
        clearTimeout(timer)
        resolve(Date.now() - opened)
      })
      socket.on('error', () => {})
    })
    expect(closed).toBeGreaterThanOrEqual(900)
    expect(closed).toBeLessThan(10_000)
    // Bun closes idle sockets on a coarse timer (seconds late on a loaded machine), and the
    // process start counts too: the test's own bound is the 10 s above, not bun's 5 s default.
  }, 20_000)
})
