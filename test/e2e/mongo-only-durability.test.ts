import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MongoStore } from '../../src/adapters/mongo/store'
import { expectStoredAsAnswered, killAndRestart, patchSurvivor, storeCheck } from '../support/durability'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { startGuidd } from '../support/guidd-process'
import type { Started } from '../support/process'

/**
 * SPEC §4 "acknowledgement means durable", MongoDB-only mode: concurrent clients write, the
 * server is killed with SIGKILL while writes are in flight, and a new server on the same
 * database must show every acknowledged write, exactly; so must the database itself, read
 * with the store alone. The load, its model and the kill-and-restart frame are
 * test/support/durability.ts (shared with the embedded and Redis-mode tests), the load lighter
 * here: FerretDB over SQLite takes ~150 writes/s on the CI machine, with stalls of seconds
 * under 32 writers, and each change is three writes there (claim, update, release; see
 * src/store/mongo-journal.ts).
 */

/** The load: fewer workers than STANDARD_LOAD, so no request waits out its 10 s timeout behind FerretDB. */
const LOAD = { workers: 8, guidsPerWorker: 8, killAfterAcks: 400, loadDeadlineMs: 60_000 } as const

const DB = 'guidd_mongo_only_durability'

const enabled = ferretdbSuites('MongoDB-only mode kill -9')
let ferret: TestFerretdb
const started: Started[] = []

beforeAll(async () => {
  if (enabled) ferret = await startFerretdb()
  // The first run on a machine builds FerretDB (scripts/ferretdb; .ci/run starts that build early).
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)

afterAll(async () => {
  if (!enabled) return
  for (const s of started) await s.stop(2_000)
  await ferret?.dispose()
})

describe.if(enabled)('MongoDB-only mode', () => {
  test('every acknowledged write survives kill -9 under concurrent load, in the API and in MongoDB', async () => {
    const env = { MONGODB_URL: ferret.url, MONGODB_DB: DB, REDIS_URL: '', API_KEYS: '', LOG_LEVEL: 'warn', HOST: '127.0.0.1' }
    const { load, second, base, seen } = await killAndRestart({
      start: () => startGuidd({ name: 'guidd (mongodb-only)', env, started, ready: '/readyz' }),
      shape: LOAD,
      afterKill: (load) => console.log(`kill -9 in MongoDB-only mode: ${load.acks} writes acknowledged`),
    })

    // The recovered records are live: a conditional write on one continues its version line.
    const survivor = await patchSurvivor(base, load)
    seen.set(survivor.guid, survivor.state)
    expect(await second.stop(8_000)).toBe(0)

    // MongoDB alone holds exactly what the API answered: the record, or the delete's tombstone.
    const store = await MongoStore.open({ url: ferret.url, dbName: DB, ttlIndex: false, clientOptions: { serverSelectionTimeoutMS: 3_000 } })
    try {
      await expectStoredAsAnswered(load, seen, storeCheck(store, Math.floor(Date.now() / 1000)))
    } finally {
      await store.close()
    }
  }, 120_000)
})
