import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MongoStore } from '../../src/adapters/mongo/store'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { startGuidd, urlOf } from '../support/guidd-process'
import { type MongoProxy, startMongoProxy } from '../support/mongo-proxy'
import type { Started } from '../support/process'
import { send } from '../support/requests'
import { generateGuid } from '../../src/domain/normalise'

/**
 * MongoDB went away and came back, and the driver's monitoring connection never heard: found
 * by the model-based tests (a FerretDB stopped gracefully while the monitor's heartbeat was
 * in flight). The operation connections closed, so the driver marked the server unknown and
 * waited for its monitor, whose heartbeat hung on the dead connection until the driver's
 * default connect timeout (30 s): for that long every request was 503 with the database up.
 * A proxy between guidd and FerretDB reproduces it exactly (support/mongo-proxy.ts); guidd
 * must be serving again within seconds.
 *
 * Under Bun the heartbeat was also seen never to end at all, its timeout never firing (the
 * model-based tests again, with connectTimeoutMS at 2 s): the store's monitor watch then
 * replaces the driver's topology. The second test makes the driver's bound a minute, as if
 * it never came, and the store must serve again within seconds of the watch's own bound.
 */

const RECOVERY_BOUND_MS = 10_000

const enabled = ferretdbSuites('MongoDB: a stranded driver monitor')
let ferret: TestFerretdb
let proxy: MongoProxy
let storeProxy: MongoProxy
const started: Started[] = []

beforeAll(async () => {
  if (!enabled) return
  ferret = await startFerretdb()
  proxy = await startMongoProxy({ host: '127.0.0.1', port: ferret.port })
  storeProxy = await startMongoProxy({ host: '127.0.0.1', port: ferret.port })
  const env = { MONGODB_URL: proxy.url, MONGODB_DB: 'guidd_stranded', REDIS_URL: '', API_KEYS: '', LOG_LEVEL: 'warn', HOST: '127.0.0.1' }
  await startGuidd({ name: 'guidd (mongodb-only, behind a proxy)', env, started, ready: '/readyz' })
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)

afterAll(async () => {
  for (const server of started) await server.stop(2_000)
  await proxy?.close()
  await storeProxy?.close()
  await ferret?.dispose()
})

describe.if(enabled)('MongoDB-only mode, the database gone and back while the driver monitor hears nothing', () => {
  test(`guidd serves again within ${RECOVERY_BOUND_MS / 1000} s, not after the driver's 30 s connect timeout`, async () => {
    const base = urlOf(started[0]!)
    const created = await send(base, 'POST', '/guid', { user: 'before' })
    expect(created.status).toBe(201)
    const { guid } = (await created.json()) as { guid: string }
    expect((await send(base, 'GET', `/guid/${guid}`)).status).toBe(200)

    const cut = proxy.strandMonitorsAndFailOperations()
    expect(cut.stranded).toBeGreaterThanOrEqual(1)
    expect(cut.failing).toBeGreaterThanOrEqual(1)
    const since = Date.now()
    const answers = new Map<number, number>()
    let served = -1
    // Bounded well past the driver's 30 s, so the old behaviour shows as a figure, not a hang.
    while (Date.now() - since < 40_000) {
      // A GUID no instance has cached: the read goes to MongoDB.
      const res = await send(base, 'GET', `/guid/${generateGuid()}`).catch(() => null)
      const status = res?.status ?? 0
      answers.set(status, (answers.get(status) ?? 0) + 1)
      if (status === 404) {
        served = Date.now() - since
        break
      }
      await Bun.sleep(100)
    }
    console.log(
      `stranded monitor: ${cut.stranded} connection(s) stranded, ${cut.failing} failing at their next request; served again after ${served} ms; answers meanwhile: ${[...answers].map(([s, n]) => `${s}: ${n}`).join(', ')}`,
    )
    expect(served).toBeGreaterThanOrEqual(0)
    expect(served).toBeLessThan(RECOVERY_BOUND_MS)
    expect((await send(base, 'GET', '/readyz')).status).toBe(200)
    expect((await send(base, 'PATCH', `/guid/${guid}`, { user: 'after' })).status).toBe(200)
  }, 60_000)
})

describe.if(enabled)('MongoStore, when the driver never ends a heartbeat', () => {
  test('the monitor watch reconnects the client, and the store serves again', async () => {
    const stuck: Array<{ address: string; lateMs: number }> = []
    const store = await MongoStore.open({
      url: storeProxy.url,
      dbName: 'guidd_stranded_store',
      ttlIndex: false,
      // The driver's own bound a minute away, as if its timeout never fired; the watch's is 1 s (+1 s grace).
      clientOptions: { connectTimeoutMS: 60_000, serverSelectionTimeoutMS: 3_000, socketTimeoutMS: 5_000 },
      monitorBoundMs: 1_000,
      onMonitorStuck: (s) => stuck.push(s),
    })
    try {
      expect(await store.get(generateGuid(), Date.now() / 1000)).toBeNull()
      const cut = storeProxy.strandMonitorsAndFailOperations()
      expect(cut.stranded).toBeGreaterThanOrEqual(1)
      const since = Date.now()
      let served = -1
      let failures = 0
      while (Date.now() - since < 40_000) {
        try {
          expect(await store.get(generateGuid(), Date.now() / 1000)).toBeNull()
          served = Date.now() - since
          break
        } catch {
          failures++
        }
      }
      console.log(`store behind a stranded monitor: served again after ${served} ms (${failures} reads failed meanwhile); the watch reported ${JSON.stringify(stuck)}`)
      expect(served).toBeGreaterThanOrEqual(0)
      expect(served).toBeLessThan(RECOVERY_BOUND_MS)
      expect(stuck).toHaveLength(1)
      await store.ping()
    } finally {
      await store.close()
    }
  }, 60_000)
})
