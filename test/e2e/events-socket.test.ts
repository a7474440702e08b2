import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestApp, type TestApp } from '../support/app'
import { GUIDD_CMD } from '../support/guidd-process'
import { type Started, startProcess, waitForHttp } from '../support/process'
import { SseReader } from '../support/sse'

/** The change feed over real sockets: what only a real connection shows (idle timeout, a consumer that stops reading). */

const root = join(import.meta.dir, '..', '..')
const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (let step = cleanup.pop(); step !== undefined; step = cleanup.pop()) await step()
})

describe('GET /events over a real socket', () => {
  test('a stream outlives IDLE_TIMEOUT_SECONDS with nothing to send', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'guidd-events-idle-'))
    const server: Started = await startProcess({
      cmd: GUIDD_CMD,
      cwd: root,
      name: 'guidd',
      env: { SQLITE_PATH: join(dir, 'guidd.sqlite'), LOG_LEVEL: 'warn', HOST: '127.0.0.1', IDLE_TIMEOUT_SECONDS: '1' },
    })
    cleanup.push(async () => {
      await server.stop(5_000)
      rmSync(dir, { recursive: true, force: true })
    })
    const base = `http://127.0.0.1:${server.port}`
    await waitForHttp(`${base}/healthz`, server)
    const sse = new SseReader(await fetch(`${base}/events`))
    await sse.next()
    // Nothing sent for 6 s (the heartbeat is 15 s away): Bun's idle timer, which ticks in steps of
    // about 4 s, closes an exempt-less connection with IDLE_TIMEOUT_SECONDS=1 within 4-5 s (measured).
    await Bun.sleep(6_000)
    const created = await fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'still here' }) })
    expect(created.status).toBe(201)
    expect((await sse.events(1, 5_000))[0]?.record?.user).toBe('still here')
    await sse.cancel()
  }, 30_000)

  test('a consumer that stops reading is disconnected once the socket is full and it takes nothing for the stall time; nothing piles up in the server', async () => {
    const app: TestApp = await createTestApp({ MAX_EVENT_STREAMS: '2' }, { sseTiming: { heartbeatMs: 60_000, stallMs: 300 } })
    const server = app.runtime.app.listen({ port: 0, hostname: '127.0.0.1', idleTimeoutSeconds: 10 })
    cleanup.push(async () => {
      await server.stop(true)
      await app.close()
    })
    const socket = connect(server.port!, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write('GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n')
    socket.pause()
    cleanup.push(async () => void socket.destroy())
    const until = Date.now() + 5_000
    while (app.runtime.feed!.hub.streams === 0 && Date.now() < until) await Bun.sleep(5)
    expect(app.runtime.feed!.hub.streams).toBe(1)
    // ~600 bytes an event: some 30 MB, far more than the socket buffers take.
    const user = 'u'.repeat(256)
    for (let round = 0; round < 50 && app.runtime.feed!.hub.streams > 0; round++) {
      await Promise.all(Array.from({ length: 1_000 }, () => app.req('POST', '/guid', { user })))
      await Bun.sleep(20)
    }
    const deadline = Date.now() + 5_000
    while (app.runtime.feed!.hub.streams > 0 && Date.now() < deadline) await Bun.sleep(10)
    expect(app.runtime.feed!.hub.streams).toBe(0)
    expect(process.memoryUsage().rss).toBeLessThan(2 ** 30)
  }, 60_000)
})
