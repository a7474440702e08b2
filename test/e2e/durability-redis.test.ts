import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from 'redis'
import { redisKeys } from '../../src/adapters/redis/keys'
import { SqliteStore } from '../../src/adapters/sqlite/store'
import { killUnderLoad, readBack, tombstoneVersion } from '../support/durability'
import { type Started, startProcess, waitForHttp } from '../support/process'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'

/**
 * SPEC §4 "acknowledgement means durable", Redis mode: the kill -9 test of
 * durability.test.ts (same load and model, test/support/durability.ts) with REDIS_URL set,
 * so a 2xx means the mutation is in the Redis journal, and SQLite (SQLITE_PATH) is the
 * store the flusher writes to. The service is killed mid-load and restarted on the same
 * Redis and SQLite file: every acknowledged write must read back exactly, and then the
 * journal must drain into the store (the entries the dead instance had read but not
 * acknowledged are claimed by the new one after JOURNAL_CLAIM_IDLE_MS, set low here),
 * leaving each GUID's stored state equal to what the API answered.
 */

const root = join(import.meta.dir, '..', '..')
const SERVER_CMD = [process.execPath, 'run', join(root, 'src', 'main.ts')]

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

const metric = async (base: string, name: string): Promise<number> => {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}

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
    const startServer = async (): Promise<Started> => {
      const s = await startProcess({ cmd: SERVER_CMD, cwd: root, name: 'guidd (redis mode)', env })
      started.push(s)
      await waitForHttp(`http://127.0.0.1:${s.port}/healthz`, s)
      return s
    }

    const first = await startServer()
    const load = await killUnderLoad(`http://127.0.0.1:${first.port}`, first)

    const keys = redisKeys(prefix)
    const client = createClient({ url: redis.url })
    await client.connect()
    let seen: Awaited<ReturnType<typeof readBack>>['seen']
    try {
      // What the dead instance left: entries never read, and entries read but not acknowledged
      // (these only a claim recovers). Printed, not asserted: it depends on where the kill fell.
      const [left, pending] = await Promise.all([client.xLen(keys.journal), client.xPending(keys.journal, keys.group)])
      console.log(`kill -9 in Redis mode: ${load.acks} writes acknowledged; the dead instance left ${left} journal entries, ${pending.pending} of them read and unacknowledged`)

      const second = await startServer()
      const base2 = `http://127.0.0.1:${second.port}`
      const recovered = await readBack(base2, load)
      expect(recovered.mismatches).toEqual([])
      seen = recovered.seen

      // Everything the dead instance left in the journal is flushed.
      const deadline = Date.now() + DRAIN_TIMEOUT_MS
      let length = await metric(base2, 'guidd_journal_length')
      while (length !== 0) {
        if (Date.now() > deadline) throw new Error(`the journal still holds ${length} entries after ${DRAIN_TIMEOUT_MS} ms:\n${second.output()}`)
        await Bun.sleep(20)
        length = await metric(base2, 'guidd_journal_length')
      }
      expect((await client.xPending(keys.journal, keys.group)).pending).toBe(0)
      expect(await client.xLen(keys.deadLetters)).toBe(0)
      expect(await second.stop(8_000)).toBe(0)
    } finally {
      await client.quit()
    }

    // The store alone (no Redis in front) holds exactly what the API answered.
    const store = new SqliteStore({ path: sqlitePath, synchronous: 'NORMAL' })
    const nowSec = Math.floor(Date.now() / 1000)
    const wrong: string[] = []
    let records = 0
    let tombstones = 0
    try {
      for (const guid of load.guids) {
        const answered = seen.get(guid)
        const stored = await store.get(guid, nowSec)
        if (answered === undefined || answered === 'error') {
          wrong.push(`${guid}: the API answered ${answered}`)
        } else if (answered !== null) {
          records++
          if (!Bun.deepEquals(stored, { guid, ...answered })) wrong.push(`${guid}: stored ${JSON.stringify(stored)}, answered ${JSON.stringify(answered)}`)
        } else {
          const version = tombstoneVersion(load, guid)
          if (version === undefined) {
            if (stored !== null) wrong.push(`${guid}: never created, yet stored ${JSON.stringify(stored)}`)
            continue
          }
          tombstones++
          if (stored === null || !('deleted' in stored) || stored.deleted !== true || stored.version !== version) {
            wrong.push(`${guid}: answered 404, stored ${JSON.stringify(stored)}; expected a tombstone of version ${version}`)
          }
        }
      }
    } finally {
      await store.close()
    }
    expect(wrong).toEqual([])
    // The load covers both kinds of state.
    expect(records).toBeGreaterThan(0)
    expect(tombstones).toBeGreaterThan(0)
  }, 60_000)
})
