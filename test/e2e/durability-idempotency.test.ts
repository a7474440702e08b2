import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { startGuidd } from '../support/guidd-process'
import { keyedCreatesSurviveKill } from '../support/keyed-kill'
import type { Started } from '../support/process'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'

/**
 * Keyed creates across kill -9 (test/support/keyed-kill.ts), in each mode: whatever point of a
 * keyed create the kill hits, retries with that key after the restart make exactly one GUID,
 * and an acknowledged answer is replayed. Embedded: the answer is in the write's SQLite
 * transaction. Redis: in the write's journal script (AOF always). MongoDB-only: the claim
 * fixes the GUID before the write, and a retry takes a dead request's claim over once its
 * lease (REQUEST_TIMEOUT_MS + 1 s) has run out.
 */

const started: Started[] = []
const dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-keyed-kill-'))
let ferret: TestFerretdb | undefined
let redis: TestRedis | undefined

afterAll(async () => {
  for (const s of started) await s.stop(2_000)
  await ferret?.dispose()
  await redis?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const COMMON = { LOG_LEVEL: 'warn', HOST: '127.0.0.1', API_KEYS: '', REQUEST_TIMEOUT_MS: '2000' }

test('embedded: keyed creates survive kill -9, one GUID per key, acknowledged answers replayed', async () => {
  const env = { ...COMMON, SQLITE_PATH: join(dir, 'embedded.sqlite'), REDIS_URL: '', MONGODB_URL: '' }
  const r = await keyedCreatesSurviveKill({ start: () => startGuidd({ name: 'guidd (embedded)', env, started }), workers: 16, killAfterAcks: 300, retryForMs: 5_000 })
  console.log(`keyed kill -9, embedded: ${r.acked} acknowledged, ${r.uncertain} unanswered (cut off by the kill, or 503), ${r.replayed} replayed after the restart`)
  expect(r.uncertain).toBeGreaterThanOrEqual(16)
}, 60_000)

describe.if(redisSuites('keyed creates across kill -9, Redis mode'))('Redis mode', () => {
  test('keyed creates survive kill -9 of the service, one GUID per key, acknowledged answers replayed', async () => {
    redis = await startRedis()
    const env = { ...COMMON, SQLITE_PATH: join(dir, 'redis.sqlite'), REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix(), MONGODB_URL: '', FLUSH_INTERVAL_MS: '20' }
    const r = await keyedCreatesSurviveKill({ start: () => startGuidd({ name: 'guidd (redis)', env, started }), workers: 16, killAfterAcks: 300, retryForMs: 6_000 })
    console.log(`keyed kill -9, Redis mode: ${r.acked} acknowledged, ${r.uncertain} unanswered (cut off by the kill, or 503), ${r.replayed} replayed after the restart`)
    expect(r.uncertain).toBeGreaterThanOrEqual(16)
  }, 60_000)
})

describe.if(ferretdbSuites('keyed creates across kill -9, MongoDB-only mode'))('MongoDB-only mode', () => {
  test(
    'keyed creates survive kill -9, one GUID per key, acknowledged answers replayed',
    async () => {
      ferret = await startFerretdb()
      const env = { ...COMMON, MONGODB_URL: ferret.url, MONGODB_DB: 'guidd_keyed_kill', REDIS_URL: '' }
      const r = await keyedCreatesSurviveKill({ start: () => startGuidd({ name: 'guidd (mongodb-only)', env, started, ready: '/readyz' }), workers: 8, killAfterAcks: 80, retryForMs: 8_000 })
      console.log(`keyed kill -9, MongoDB-only: ${r.acked} acknowledged, ${r.uncertain} unanswered (cut off by the kill, or 503), ${r.replayed} replayed after the restart`)
      expect(r.uncertain).toBeGreaterThanOrEqual(8)
    },
    FERRETDB_BUILD_TIMEOUT_MS + 120_000,
  )
})
