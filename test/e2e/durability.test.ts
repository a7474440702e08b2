import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killUnderLoad, readBack } from '../support/durability'
import { type Started, startProcess, waitForHttp } from '../support/process'

/**
 * SPEC §4 "acknowledgement means durable", embedded mode: concurrent clients write, the
 * server is killed with SIGKILL while writes are in flight, and a new server on the same
 * SQLite file must show every acknowledged write, exactly. The load and its model are in
 * test/support/durability.ts (shared with the Redis-mode test, durability-redis.test.ts).
 */

const root = join(import.meta.dir, '..', '..')
const SERVER_CMD = [process.execPath, 'run', join(root, 'src', 'main.ts')]

const started: Started[] = []
const dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-durability-'))
const sqlitePath = join(dir, 'guidd.sqlite')

afterAll(async () => {
  for (const s of started) await s.stop(2_000)
  rmSync(dir, { recursive: true, force: true })
})

const startServer = async (): Promise<Started> => {
  const s = await startProcess({ cmd: SERVER_CMD, cwd: root, name: 'guidd', env: { SQLITE_PATH: sqlitePath, LOG_LEVEL: 'warn', HOST: '127.0.0.1', REDIS_URL: '', MONGODB_URL: '', API_KEYS: '' } })
  started.push(s)
  await waitForHttp(`http://127.0.0.1:${s.port}/healthz`, s)
  return s
}

test('every acknowledged write survives kill -9 under concurrent load', async () => {
  const first = await startServer()
  const load = await killUnderLoad(`http://127.0.0.1:${first.port}`, first)

  const second = await startServer()
  const base2 = `http://127.0.0.1:${second.port}`
  const { mismatches } = await readBack(base2, load)
  expect(mismatches).toEqual([])

  // The recovered records are live: a conditional write on one continues its version line.
  const survivor = load.guids.find((g) => load.uncertain.get(g) === undefined && load.acked.get(g))
  expect(survivor).toBeDefined()
  const state = load.acked.get(survivor!)!
  const patched = await fetch(`${base2}/guid/${survivor}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', 'if-match': `"${state.version}"` },
    body: JSON.stringify({ user: 'after-restart' }),
    signal: AbortSignal.timeout(5_000),
  })
  expect(patched.status).toBe(200)
  expect(patched.headers.get('etag')).toBe(`"${state.version + 1}"`)
  await patched.arrayBuffer()

  expect(await second.stop(8_000)).toBe(0)
}, 60_000)
