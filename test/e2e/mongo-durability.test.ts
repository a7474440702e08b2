import { describe, test } from 'bun:test'
import { join } from 'node:path'
import { expectStoredAsAnswered } from '../support/durability'
import { startGuidd } from '../support/guidd-process'
import { docMismatch, readDocs } from '../support/mongo-docs'
import { killAndRestartJournaled } from '../support/redis-journal'
import { redisMongoSuite } from '../support/redis-mongo'

/**
 * SPEC §4 "acknowledgement means durable" in Redis + MongoDB mode: the kill -9 test of
 * durability-redis.test.ts (same load, model and frame, test/support/durability.ts) with
 * MongoDB (a FerretDB of this run's own) as the store the flusher writes to. The service is
 * killed mid-load and restarted on the same Redis and database: every acknowledged write must
 * read back exactly, and once the journal has drained (the dead instance's pending entries
 * claimed) MongoDB alone, read with the driver, must hold what the API answered.
 */

const DRAIN_TIMEOUT_MS = 45_000

const suite = redisMongoSuite('kill -9 durability in Redis + MongoDB mode')

describe.skipIf(!suite.enabled)('Redis + MongoDB mode (FerretDB)', () => {
  test('every acknowledged write survives kill -9 under concurrent load, and all of it reaches MongoDB', async () => {
    const { redis, ferretdb, dir, started } = suite
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

    const { load, seen, drainMs } = await killAndRestartJournaled({
      redisUrl: redis.url,
      prefix,
      start: () => startGuidd({ name: 'guidd (redis + mongodb)', env, started }),
      mode: 'Redis + MongoDB mode',
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
    })
    console.log(`kill -9 in Redis + MongoDB mode: the journal drained into MongoDB ${drainMs} ms after the read-back`)

    // MongoDB alone (no Redis, no guidd code in between) holds exactly what the API answered.
    const nowSec = Math.floor(Date.now() / 1000)
    const docs = await readDocs(ferretdb.url, dbName, load.guids)
    await expectStoredAsAnswered(load, seen, (guid, answered, tombstone) => docMismatch(guid, answered, docs.get(guid), tombstone, nowSec))
  }, 120_000)
})
