import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock } from '../../src/domain/clock'
import { type Config, loadConfig } from '../../src/runtime/config'
import { createLogger } from '../../src/ops/logger'
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime/runtime'

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

/** Runtime options (the clock, a logger, a fake client address, ...), and files to write into
 * the app's temp dir before it starts; `{dir}` in env values names that dir. */
export type TestAppOptions = Partial<RuntimeOptions> & { files?: Record<string, string> }

/** A whole service in-process on a temp SQLite file and a manual clock; no socket. */
export const createTestApp = async (env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> => {
  const dir = mkdtempSync(join(tmpdir(), 'guidd-test-'))
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), text)
  const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replaceAll('{dir}', dir)]))
  const config = loadConfig({ SQLITE_PATH: join(dir, 'guidd.sqlite'), LOG_LEVEL: 'silent', ...resolved })
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock(T0)
  const { files: _files, ...runtimeOptions } = options
  let runtime: Runtime
  try {
    runtime = await createRuntime(config, { logger: createLogger('silent'), ...runtimeOptions, clock })
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const req = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> => {
    const init: RequestInit = { method, headers: { ...headers } }
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body)
      init.headers = { 'content-type': 'application/json', ...headers }
    }
    // The function the listening server calls for every request (createApp's handle).
    return runtime.app.handle(new Request(`http://localhost${path}`, init))
  }
  const close = async () => {
    await runtime.close(1_000)
    rmSync(dir, { recursive: true, force: true })
  }
  return { runtime, clock, config, dir, req, close }
}
