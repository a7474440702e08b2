import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { freePort } from '../support/children'
import { GUIDD_CMD } from '../support/guidd-process'
import { type Started, startProcess, waitForHttp } from '../support/process'

/**
 * The change feed in a real client: EventSource in Debian's Chromium (headless, driven by
 * playwright-core). It receives events as they are written, and when the server is killed
 * (kill -9) and started again on the same port and data, it reconnects by itself with
 * Last-Event-ID and receives what was written meanwhile: once each, nothing missed.
 */

const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const root = join(import.meta.dir, '..', '..')
const available = existsSync(CHROMIUM)
const required = process.env.CI === 'true'

if (!available && !required) console.log(`SKIPPED: EventSource browser test: ${CHROMIUM} is missing (apt-get install chromium); CI=true makes this a failure`)

type Got = Array<{ id: string; type: string; guid: string }>

describe.skipIf(!available && !required)('GET /events with EventSource in headless Chromium', () => {
  let dir: string
  let port: number
  const servers: Started[] = []
  let context: BrowserContext | undefined

  const start = async () => {
    const server = await startProcess({ cmd: GUIDD_CMD, cwd: root, name: 'guidd', env: { PORT: String(port), SQLITE_PATH: join(dir, 'guidd.sqlite'), LOG_LEVEL: 'warn', HOST: '127.0.0.1' } })
    servers.push(server)
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, server)
    return server
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-events-'))
    port = await freePort()
    await start()
  })

  afterAll(async () => {
    await context?.close().catch(() => {})
    for (const server of servers) await server.stop(5_000)
    rmSync(dir, { recursive: true, force: true })
  })

  const create = async (user: string): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${port}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) })
    expect(res.status).toBe(201)
    return ((await res.json()) as { guid: string }).guid
  }

  const received = (page: Page, n: number): Promise<Got> =>
    page
      .waitForFunction((count) => ((globalThis as unknown as { got: Got }).got.length >= count ? (globalThis as unknown as { got: Got }).got : false), n, { timeout: 15_000 })
      .then((h) => h.jsonValue() as Promise<Got>)

  test('receives each write, and after a kill -9 and restart resumes with Last-Event-ID: nothing missed, nothing twice', async () => {
    if (!available) throw new Error(`CI=true and ${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`)
    const { chromium } = await import('playwright-core')
    const base = `http://127.0.0.1:${port}`
    context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 20_000 })
    const page = context.pages()[0] ?? (await context.newPage())
    const resumedWith: string[] = []
    page.on('request', async (request) => {
      if (!request.url().startsWith(`${base}/events`)) return
      const id = (await request.allHeaders())['last-event-id']
      if (id !== undefined) resumedWith.push(id)
    })
    await page.goto(`${base}/healthz`)
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          const w = globalThis as unknown as { got: Got; feed: EventSource }
          w.got = []
          w.feed = new EventSource('/events')
          w.feed.onmessage = (e) => w.got.push({ id: e.lastEventId, ...JSON.parse(e.data) })
          w.feed.onopen = () => resolve()
        }),
    )

    const before = [await create('before-1'), await create('before-2')]
    const first = await received(page, 2)
    expect(first.map((e) => [e.type, e.guid])).toEqual(before.map((guid) => ['created', guid]))

    await servers.at(-1)!.kill9()
    await start()
    // Written before the browser is back (it waits `retry:` 1 s, then more): only a resume finds it.
    const after = [await create('after-1'), await create('after-2')]
    const all = await received(page, 4)
    expect(all.map((e) => e.guid)).toEqual([...before, ...after])
    expect(new Set(all.map((e) => e.id)).size).toBe(4)
    expect(resumedWith).toContain(first[1]!.id)
    // Nothing more arrives: no event was delivered twice.
    await create('later')
    const five = await received(page, 5)
    expect(five).toHaveLength(5)
  }, 60_000)
})
