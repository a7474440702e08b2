import { afterAll, beforeAll, describe, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteStore } from '../../src/adapters/sqlite/store'
import { expectStoredAsAnswered, storeCheck } from '../support/durability'
import { startGuidd } from '../support/guidd-process'
import type { Started } from '../support/process'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'
import { killAndRestartJournaled } from '../support/redis-journal'

/**
 * SPEC §4 "acknowledgement means durable", Redis mode: the kill -9 test of
 * durability.test.ts (same load, model and frame, test/support/durability.ts) with REDIS_URL
 * set, so a 2xx means the mutation is in the Redis journal, and SQLite (SQLITE_PATH) is the
 * store the flusher writes to. The service is killed mid-load and restarted on the same
 * Redis and SQLite file: every acknowledged write must read back exactly, and then the
 * journal must drain into the store (the entries the dead instance had read but not
 * acknowledged are claimed by the new one after JOURNAL_CLAIM_IDLE_MS, set low here),
 * leaving each GUID's stored state equal to what the API answered.
 */

const DRAIN_TIMEOUT_MS = 10_000

const enabled = redisSuites('kill -9 durability in Redis mode')
let redis: TestRedis
let dir: string
const started: Started[] = []

beforeAll(async () => {
  if (!enabled) return
  redis = await startRedis()
  dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-durability-redis-'))
})
afterAll(async () => {
  if (!enabled) return
  for (const s of started) await s.stop(2_000)
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(!enabled)('Redis mode', () => {
  test('every acknowledged write survives kill -9 under concurrent load, and all of it reaches the store', async () => {
    const prefix = redis.prefix()
    const sqlitePath = join(dir, 'store.sqlite')
    const env = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      SQLITE_PATH: sqlitePath,
      FLUSH_INTERVAL_MS: '20',
      // The restarted instance is another consumer: it claims the dead one's pending entries
      // only once they have been idle this long (default 30 s).
      JOURNAL_CLAIM_IDLE_MS: '200',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      // Empty is unset: none of the runner's own settings leak in (SQLite is the store checked).
      MONGODB_URL: '',
      API_KEYS: '',
    }

    // Everything the dead instance left in the journal is flushed (the restarted instance claims its pending entries).
    const { load, seen } = await killAndRestartJournaled({
      redisUrl: redis.url,
      prefix,
      start: () => startGuidd({ name: 'guidd (redis mode)', env, started }),
      mode: 'Redis mode',
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
    })

    // The store alone (no Redis in front) holds exactly what the API answered.
    const store = new SqliteStore({ path: sqlitePath, synchronous: 'NORMAL' })
    try {
      await expectStoredAsAnswered(load, seen, storeCheck(store, Math.floor(Date.now() / 1000)))
    } finally {
      await store.close()
    }
  }, 60_000)
})
