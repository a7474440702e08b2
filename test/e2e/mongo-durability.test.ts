import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from 'redis'
import { redisKeys } from '../../src/adapters/redis/keys'
import { killUnderLoad, readBack, tombstoneVersion } from '../support/durability'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { docMismatch, readDocs, waitJournalDrained } from '../support/mongo-docs'
import { type Started, startProcess, waitForHttp } from '../support/process'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'

/**
 * SPEC §4 "acknowledgement means durable" in Redis + MongoDB mode: the kill -9 test of
 * durability-redis.test.ts (same load and model, test/support/durability.ts) with MongoDB
 * (a FerretDB of this run's own) as the store the flusher writes to. The service is killed
 * mid-load and restarted on the same Redis and database: every acknowledged write must
 * read back exactly, and once the journal has drained (the dead instance's pending entries
 * claimed) MongoDB alone, read with the driver, must hold what the API answered.
 */

const root = join(import.meta.dir, '..', '..')
const SERVER_CMD = [process.execPath, 'run', join(root, 'src', 'main.ts')]
const DRAIN_TIMEOUT_MS = 45_000

const enabled = redisSuites('kill -9 durability in Redis + MongoDB mode') && ferretdbSuites('kill -9 durability in Redis + MongoDB mode')
let redis: TestRedis
let ferretdb: TestFerretdb
let dir: string
const started: Started[] = []

beforeAll(
  async () => {
    if (!enabled) return
    dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-mongo-durability-'))
    ;[redis, ferretdb] = await Promise.all([startRedis(), startFerretdb()])
  },
  { timeout: FERRETDB_BUILD_TIMEOUT_MS + 30_000 },
)
afterAll(async () => {
  if (!enabled) return
  for (const s of started) await s.stop(2_000)
  await Promise.all([redis?.stop(), ferretdb?.dispose()])
  rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(!enabled)('Redis + MongoDB mode (FerretDB)', () => {
  test('every acknowledged write survives kill -9 under concurrent load, and all of it reaches MongoDB', async () => {
    const prefix = redis.prefix()
    const dbName = `guidd_e2e_kill_${process.pid}_${Date.now().toString(36)}`
    const env = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      MONGODB_URL: ferretdb.url,
      MONGODB_DB: dbName,
      FLUSH_INTERVAL_MS: '20',
      // The restarted instance is another consumer: it claims the dead one's pending entries
      // only once they have been idle this long (default 30 s).
      JOURNAL_CLAIM_IDLE_MS: '200',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      API_KEYS: '',
      SQLITE_PATH: join(dir, 'unused.sqlite'),
    }
    const startServer = async (): Promise<Started> => {
      const s = await startProcess({ cmd: SERVER_CMD, cwd: root, name: 'guidd (redis + mongodb)', env })
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
      const [left, pending] = await Promise.all([client.xLen(keys.journal), client.xPending(keys.journal, keys.group)])
      console.log(`kill -9 in Redis + MongoDB mode: ${load.acks} writes acknowledged; the dead instance left ${left} journal entries, ${pending.pending} of them read and unacknowledged`)

      const second = await startServer()
      const base2 = `http://127.0.0.1:${second.port}`
      const recovered = await readBack(base2, load)
      expect(recovered.mismatches).toEqual([])
      seen = recovered.seen

      const drainMs = await waitJournalDrained(base2, DRAIN_TIMEOUT_MS, () => second.output())
      console.log(`kill -9 in Redis + MongoDB mode: the journal drained into MongoDB ${drainMs} ms after the read-back`)
      expect((await client.xPending(keys.journal, keys.group)).pending).toBe(0)
      expect(await client.xLen(keys.deadLetters)).toBe(0)
      expect(await second.stop(8_000)).toBe(0)
    } finally {
      await client.quit()
    }

    // MongoDB alone (no Redis, no guidd code in between) holds exactly what the API answered.
    const nowSec = Math.floor(Date.now() / 1000)
    const docs = await readDocs(ferretdb.url, dbName, load.guids)
    const wrong: string[] = []
    let records = 0
    let tombstones = 0
    for (const guid of load.guids) {
      const answered = seen.get(guid)
      if (answered === undefined || answered === 'error') {
        wrong.push(`${guid}: the API answered ${answered}`)
        continue
      }
      const version = answered === null ? tombstoneVersion(load, guid) : undefined
      if (answered !== null) records++
      else if (version !== undefined) tombstones++
      const mismatch = docMismatch(guid, answered, docs.get(guid), version, nowSec)
      if (mismatch !== null) wrong.push(mismatch)
    }
    expect(wrong).toEqual([])
    // The load covers both kinds of state.
    expect(records).toBeGreaterThan(0)
    expect(tombstones).toBeGreaterThan(0)
  }, 120_000)
})
