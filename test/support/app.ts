import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock } from '../../src/clock'
import { type Config, loadConfig } from '../../src/config'
import { createLogger } from '../../src/ops/logger'
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime'

/** 2026-01-01T00:00:00Z: tests' "now", far from any real clock so nothing depends on it. */
export const T0 = Date.UTC(2026, 0, 1)
export const T0_SECONDS = T0 / 1000

export interface TestApp {
  runtime: Runtime
  clock: ManualClock
  config: Config
  dir: string
  /** In-process request: `req('POST', '/guid', { user: 'x' })`; a string body is sent as is. */
  req(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>
  close(): Promise<void>
}

/** A whole service in-process on a temp SQLite file and a manual clock; no socket. */
export const createTestApp = async (env: Record<string, string> = {}, options: Partial<RuntimeOptions> = {}): Promise<TestApp> => {
  const dir = mkdtempSync(join(tmpdir(), 'guidd-test-'))
  const config = loadConfig({ SQLITE_PATH: join(dir, 'guidd.sqlite'), LOG_LEVEL: 'silent', ...env })
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock(T0)
  const runtime = await createRuntime(config, { logger: createLogger('silent'), ...options, clock })
  const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { ...headers } }
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body)
      init.headers = { 'content-type': 'application/json', ...headers }
    }
    return runtime.app.handle(new Request(`http://localhost${path}`, init))
  }
  const close = async () => {
    await runtime.close(1_000)
    rmSync(dir, { recursive: true, force: true })
  }
  return { runtime, clock, config, dir, req, close }
}
