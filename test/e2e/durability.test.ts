import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killAndRestart, patchSurvivor } from '../support/durability'
import { startGuidd } from '../support/guidd-process'
import type { Started } from '../support/process'

/**
 * SPEC §4 "acknowledgement means durable", embedded mode: concurrent clients write, the
 * server is killed with SIGKILL while writes are in flight, and a new server on the same
 * SQLite file must show every acknowledged write, exactly. The load, its model and the
 * kill-and-restart frame are in test/support/durability.ts (shared with the other modes).
 */

const started: Started[] = []
const dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-durability-'))
const sqlitePath = join(dir, 'guidd.sqlite')

afterAll(async () => {
  for (const s of started) await s.stop(2_000)
  rmSync(dir, { recursive: true, force: true })
})

const env = { SQLITE_PATH: sqlitePath, LOG_LEVEL: 'warn', HOST: '127.0.0.1', REDIS_URL: '', MONGODB_URL: '', API_KEYS: '' }

test('every acknowledged write survives kill -9 under concurrent load', async () => {
  const { load, second, base } = await killAndRestart({ start: () => startGuidd({ name: 'guidd', env, started }) })
  await patchSurvivor(base, load)
  expect(await second.stop(8_000)).toBe(0)
}, 60_000)
