import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { MongoStore } from '../../src/adapters/mongo/store'
import { loadUntilKill, readBack, tombstoneVersion } from '../support/durability'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { type Started, startProcess, waitForHttp } from '../support/process'

/**
 * SPEC §4 "acknowledgement means durable", MongoDB-only mode: concurrent clients write, the
 * server is killed with SIGKILL while writes are in flight, and a new server on the same
 * database must show every acknowledged write, exactly; so must the database itself, read
 * with the store alone. The load and its model are test/support/durability.ts (shared with
 * the embedded and Redis-mode tests), lighter here: FerretDB over SQLite takes ~150 writes/s
 * on the CI machine, with stalls of seconds under 32 writers, and each change is three
 * writes there (claim, update, release; see src/store/mongo-journal.ts).
 */

/** The load: fewer workers than STANDARD_LOAD, so no request waits out its 10 s timeout behind FerretDB. */
const LOAD = { workers: 8, guidsPerWorker: 8, killAfterAcks: 400, loadDeadlineMs: 60_000 } as const

const root = join(import.meta.dir, '..', '..')
const SERVER_CMD = [process.execPath, 'run', join(root, 'src', 'main.ts')]
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

const startServer = async (): Promise<Started> => {
  const s = await startProcess({
    cmd: SERVER_CMD,
    cwd: root,
    name: 'guidd (mongodb-only)',
    env: { MONGODB_URL: ferret.url, MONGODB_DB: DB, REDIS_URL: '', API_KEYS: '', LOG_LEVEL: 'warn', HOST: '127.0.0.1' },
  })
  started.push(s)
  await waitForHttp(`http://127.0.0.1:${s.port}/readyz`, s)
  return s
}

describe.if(enabled)('MongoDB-only mode', () => {
  test('every acknowledged write survives kill -9 under concurrent load, in the API and in MongoDB', async () => {
    const first = await startServer()
    const load = await loadUntilKill({ base: `http://127.0.0.1:${first.port}`, kill: () => first.kill9(), ...LOAD })
    expect(load.failures).toEqual([])
    expect(load.killed).toBe(true)
    expect(first.proc.signalCode).toBe('SIGKILL')
    // Every worker was still writing when the server died: the kill came under full load.
    expect(load.cutOff).toBe(LOAD.workers)
    expect(load.uncertain.size).toBe(LOAD.workers)
    console.log(`kill -9 in MongoDB-only mode: ${load.acks} writes acknowledged`)

    const second = await startServer()
    const base2 = `http://127.0.0.1:${second.port}`
    const { mismatches, seen } = await readBack(base2, load)
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
    seen.set(survivor!, { ...state, user: 'after-restart', version: state.version + 1 })
    expect(await second.stop(8_000)).toBe(0)

    // MongoDB alone holds exactly what the API answered: the record, or the delete's tombstone.
    const store = await MongoStore.open({ url: ferret.url, dbName: DB, ttlIndex: false, clientOptions: { serverSelectionTimeoutMS: 3_000 } })
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
    expect(records).toBeGreaterThan(0)
    expect(tombstones).toBeGreaterThan(0)
  }, 120_000)
})
