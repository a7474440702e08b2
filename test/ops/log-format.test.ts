import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Guidd, startGuidd } from '../support/guidd-process'

/**
 * The log as tools read it: the real process's stdout, piped through pino-pretty (the
 * devDependency, run by Node as an operator would run `npx pino-pretty`).
 */

const root = join(import.meta.dir, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'guidd-log-format-'))
const PINO_PRETTY = join(root, 'node_modules', '.bin', 'pino-pretty')

let server: Guidd | undefined
afterAll(async () => {
  await server?.stop(5_000)
  rmSync(dir, { recursive: true, force: true })
})

/** Runs pino-pretty over `input`, bounded in time. */
const pretty = async (input: string, args: string[]): Promise<string> => {
  const proc = Bun.spawn([PINO_PRETTY, ...args], { stdin: new TextEncoder().encode(input), stdout: 'pipe', stderr: 'pipe', env: { ...process.env, NO_COLOR: '1' } })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
  try {
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    if (code !== 0) throw new Error(`pino-pretty exited ${code}: ${err}`)
    return out
  } finally {
    clearTimeout(timer)
  }
}

describe("the log in pino's standard shape", () => {
  let stdout = ''
  let pid = 0
  let started = 0

  test('a run of the service: start, requests, a refusal, stop', async () => {
    started = Date.now()
    server = await startGuidd({ env: { SQLITE_PATH: join(dir, 'guidd.sqlite'), HOST: '127.0.0.1', LOG_LEVEL: 'info' } })
    pid = server.proc.pid
    const base = server.base
    expect((await fetch(`${base}/guid/0123456789ABCDEF0123456789ABCDEF`, { signal: AbortSignal.timeout(5_000) })).status).toBe(404)
    expect(await server.stop(5_000)).toBe(0)
    stdout = server.output()
    expect(stdout).toContain('"msg":"stopped"')
  }, 30_000)

  test('every line is JSON with a numeric level, epoch-ms time, pid and hostname', () => {
    const lines = stdout.split('\n').filter((l) => l !== '')
    expect(lines.length).toBeGreaterThanOrEqual(5)
    for (const line of lines) {
      const record = JSON.parse(line) as Record<string, unknown>
      expect([10, 20, 30, 40, 50, 60]).toContain(record.level as number)
      expect(record.time).toBeNumber()
      expect(record.time as number).toBeGreaterThanOrEqual(started)
      expect(record.time as number).toBeLessThanOrEqual(Date.now())
      expect(record).toMatchObject({ pid, hostname: hostname(), name: 'guidd' })
      expect(record.msg).toBeString()
    }
    const levels = lines.map((l) => (JSON.parse(l) as { level: number }).level)
    expect(levels).toContain(30)
    expect(levels).toContain(40)
  })

  test('pino-pretty --minimumLevel warn shows the warning and filters every info line out', async () => {
    const everything = await pretty(stdout, [])
    expect(everything).toContain('INFO')
    expect(everything).toContain('guidd listening')
    expect(everything).toMatch(/request[\s\S]*route: "\/guid\/:guid"/)
    const warnings = await pretty(stdout, ['--minimumLevel', 'warn'])
    expect(warnings).toContain('WARN')
    expect(warnings).toContain('open to anyone')
    for (const info of ['INFO', 'guidd listening', 'request', 'draining', 'stopped']) expect(warnings).not.toContain(info)
  }, 30_000)
})
