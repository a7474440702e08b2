import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext } from 'playwright-core'
import { type Guidd, startGuidd } from '../support/guidd-process'

/**
 * /docs in a real browser: Debian's Chromium, headless, driven by playwright-core (which never
 * downloads a browser of its own). The page must render from the service alone (every request
 * to another host is refused and recorded, as on a network with no internet), and "Try it
 * out" on POST /guid must create a GUID on the running server.
 */

const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const available = existsSync(CHROMIUM)
const required = process.env.CI === 'true'

if (!available && !required) console.log(`SKIPPED: docs browser test: ${CHROMIUM} is missing (apt-get install chromium); CI=true makes this a failure`)

describe.skipIf(!available && !required)('/docs in headless Chromium', () => {
  let dir: string
  let server: Guidd | undefined
  let context: BrowserContext | undefined
  let passed = false

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-browser-'))
    server = await startGuidd({ env: { SQLITE_PATH: join(dir, 'guidd.sqlite'), LOG_LEVEL: 'warn', HOST: '127.0.0.1' } })
  })

  afterAll(async () => {
    await context?.close().catch(() => {})
    await server?.stop(5_000)
    // The screenshot stays for a failed run, to look at.
    if (passed) rmSync(dir, { recursive: true, force: true })
    else if (dir) console.log(`docs browser test: kept ${dir} (screenshot docs.png)`)
  })

  test('renders offline, and "Try it out" on POST /guid gets a 201 with a GUID', async () => {
    if (!available) throw new Error(`CI=true and ${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`)
    const { chromium } = await import('playwright-core')
    const base = `http://127.0.0.1:${server!.port}`
    context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 20_000 })

    const elsewhere: string[] = []
    await context.route('**/*', (route) => {
      const url = route.request().url()
      if (url.startsWith(`${base}/`)) return route.continue()
      elsewhere.push(url)
      return route.abort('internetdisconnected')
    })
    const page = context.pages()[0] ?? (await context.newPage())
    page.setDefaultTimeout(15_000)
    const problems: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text())
    })
    page.on('pageerror', (error) => problems.push(error.message))

    try {
      const response = await page.goto(`${base}/docs`, { waitUntil: 'load' })
      expect(response?.status()).toBe(200)

      // The operations list, rendered from /docs/json by the bundle the service itself served.
      const create = page.locator('#operations-guid-createGuid')
      await create.waitFor({ state: 'visible' })
      expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(8)

      await create.locator('.opblock-summary').click()
      await create.locator('button.try-out__btn').click()
      await create.locator('button.execute').click()

      // The live response: its status cell (not the "Code" column header) and its body.
      const status = create.locator('.live-responses-table .response-col_status:not(.col_header)')
      await status.waitFor({ state: 'visible' })
      expect((await status.textContent())?.trim()).toBe('201')
      const body = (await create.locator('.live-responses-table .response-col_description pre').first().textContent()) ?? ''
      const guid = /"guid":\s*"([0-9A-F]{32})"/.exec(body)?.[1]
      expect(guid).toBeDefined()

      // It really was created on the running server.
      const read = await fetch(`${base}/guid/${guid}`, { signal: AbortSignal.timeout(5_000) })
      expect(read.status).toBe(200)
      expect(((await read.json()) as { user: string }).user).toBe('Cylance, Inc.')

      expect(elsewhere).toEqual([])
      // No console error at all: a CSP violation or a failed load would be one.
      expect(problems).toEqual([])
      passed = true
    } finally {
      await page.screenshot({ path: join(dir, 'docs.png'), fullPage: true }).catch(() => {})
      expect(existsSync(join(dir, 'docs.png'))).toBe(true)
    }
  }, 60_000)
})
