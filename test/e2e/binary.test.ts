import { afterAll, expect, test } from 'bun:test'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildCommand } from '../support/binary'
import { type Guidd, startGuidd } from '../support/guidd-process'
import { pidExists, runToExit } from '../support/process'
import { isFirstVersion, versionOf } from '../support/versions'

/**
 * The shipped artefact (SPEC §1): the executable `bun build --compile` makes, built with
 * package.json's own "build" flags into a temp dir, run from an empty directory (so no
 * node_modules, no sources), serving the API, answering its container healthcheck.
 */

const root = join(import.meta.dir, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-binary-'))
let server: Guidd | undefined

afterAll(async () => {
  await server?.stop(2_000)
  rmSync(dir, { recursive: true, force: true })
})

test('the compiled binary serves the API from an empty directory and answers its healthcheck', async () => {
  const binary = join(dir, 'build', 'guidd')
  const build = await runToExit({ cmd: buildCommand(binary), cwd: root, timeoutMs: 90_000 })
  expect({ code: build.code, stderr: build.stderr }).toEqual({ code: 0, stderr: expect.any(String) })
  expect(existsSync(binary)).toBe(true)

  const cwd = join(dir, 'run')
  mkdirSync(cwd)
  expect(readdirSync(cwd)).toEqual([])
  const env = { SQLITE_PATH: join(cwd, 'data', 'guidd.sqlite'), LOG_LEVEL: 'warn', HOST: '127.0.0.1' }
  server = await startGuidd({ cmd: [binary], cwd, env, name: 'guidd binary' })
  const base = server.base

  const before = Math.floor(Date.now() / 1000)
  const created = await fetch(`${base}/guid`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'binary smoke' }),
    signal: AbortSignal.timeout(5_000),
  })
  const after = Math.floor(Date.now() / 1000)
  expect(created.status).toBe(201)
  const etag = created.headers.get('etag')
  expect(isFirstVersion(versionOf(etag), 0, before, after)).toBe(true)
  const record = (await created.json()) as { guid: string; user: string; expire: number }
  expect(record.guid).toMatch(/^[0-9A-F]{32}$/)

  const read = await fetch(`${base}/guid/${record.guid}`, { signal: AbortSignal.timeout(5_000) })
  expect(read.status).toBe(200)
  expect(read.headers.get('etag')).toBe(etag)
  expect(await read.json()).toEqual(record)

  const deleted = await fetch(`${base}/guid/${record.guid}`, { method: 'DELETE', signal: AbortSignal.timeout(5_000) })
  expect(deleted.status).toBe(204)
  // The SQLite checkpointer thread runs inside the binary too (a second entrypoint of the build).
  expect(server.output()).not.toContain('checkpoint thread failed')
  const gone = await fetch(`${base}/guid/${record.guid}`, { signal: AbortSignal.timeout(5_000) })
  expect(gone.status).toBe(404)
  expect(gone.headers.get('content-type')).toStartWith('application/problem+json')
  await gone.arrayBuffer()

  const page = await fetch(`${base}/docs`, { signal: AbortSignal.timeout(5_000) })
  expect(page.status).toBe(200)
  expect(page.headers.get('content-type')).toStartWith('text/html')
  await page.arrayBuffer()
  // The Swagger UI files come from inside the executable (no node_modules here, no CDN).
  for (const [path, marker, minBytes] of [
    ['/docs/swagger-ui-bundle.js', 'SwaggerUIBundle', 1_000_000],
    ['/docs/swagger-ui.css', '.swagger-ui', 100_000],
    ['/docs/init.js', "url: '/docs/json'", 50],
  ] as const) {
    const asset = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) })
    expect({ path, status: asset.status }).toEqual({ path, status: 200 })
    const text = await asset.text()
    expect(text.length).toBeGreaterThan(minBytes)
    expect(text).toContain(marker)
  }
  const docs = await fetch(`${base}/docs/json`, { signal: AbortSignal.timeout(5_000) })
  expect(docs.status).toBe(200)
  expect(Object.keys(((await docs.json()) as { paths: object }).paths)).toEqual(expect.arrayContaining(['/guid', '/guid/{guid}']))

  // What the container HEALTHCHECK runs: 0 while the service answers.
  const healthy = await runToExit({ cmd: [binary, '--healthcheck'], cwd, env: { PORT: String(server.port) }, timeoutMs: 10_000 })
  expect(healthy.code).toBe(0)

  // The operator's backup runs inside the binary too (no bun, no sqlite3 in the image), beside the serving instance.
  const copy = join(dir, 'guidd-backup.sqlite')
  const backup = await runToExit({ cmd: [binary, 'backup', copy], cwd, env: { SQLITE_PATH: env.SQLITE_PATH }, timeoutMs: 20_000 })
  expect({ code: backup.code, stderr: backup.stderr }).toEqual({ code: 0, stderr: '' })
  expect(JSON.parse(backup.stdout)).toMatchObject({ dest: copy, integrity: 'ok' })

  const port = server.port
  const pid = server.proc.pid
  expect(await server.stop(8_000)).toBe(0)
  expect(pidExists(pid)).toBe(false)
  // The only thing it left behind is the SQLite file it was told to use.
  expect(readdirSync(cwd)).toEqual(['data'])

  // ... and 1 once nothing listens there.
  const unhealthy = await runToExit({ cmd: [binary, '--healthcheck'], cwd, env: { PORT: String(port) }, timeoutMs: 10_000 })
  expect(unhealthy.code).toBe(1)
}, 120_000)
