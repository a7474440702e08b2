import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { startGuidd, urlOf } from '../support/guidd-process'
import { readDocs, waitJournalDrained } from '../support/mongo-docs'
import type { Started } from '../support/process'
import { redisSuites } from '../support/redis'
import { startCluster, type TestCluster } from '../support/redis-cluster'
import { versionOf } from '../support/versions'

/**
 * Redis Cluster with MongoDB as the durable store, end to end: two guidd processes on a
 * 3-master, 3-replica cluster and one FerretDB; writes through both are flushed from every
 * partition's journal into MongoDB.
 */
const enabled = redisSuites('Redis Cluster + MongoDB') && ferretdbSuites('Redis Cluster + MongoDB')
let cluster: TestCluster | undefined
let ferretdb: TestFerretdb | undefined
const started: Started[] = []

beforeAll(
  async () => {
    if (!enabled) return
    ;[cluster, ferretdb] = await Promise.all([startCluster({ masters: 3, replicas: 1 }), startFerretdb()])
  },
  { timeout: FERRETDB_BUILD_TIMEOUT_MS + 90_000 },
)
afterAll(async () => {
  for (const s of started) await s.stop(2_000)
  await Promise.all([cluster?.stop(), ferretdb?.dispose()])
})

describe.skipIf(!enabled)('Redis Cluster + MongoDB', () => {
  test('writes through two instances reach MongoDB from every partition, each with the version acknowledged', async () => {
    const db = `guidd_cluster_${process.pid}`
    const env = () => ({
      REDIS_CLUSTER_NODES: cluster!.seeds,
      REDIS_PREFIX: 'mongo:',
      MONGODB_URL: ferretdb!.url,
      MONGODB_DB: db,
      REDIS_WAIT_REPLICAS: '1',
      FLUSH_INTERVAL_MS: '20',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      SQLITE_PATH: '',
      REDIS_URL: '',
    })
    const [a, b] = await Promise.all(['A', 'B'].map((name) => startGuidd({ name: `guidd ${name} (cluster + MongoDB)`, env: env(), started, ready: '/readyz' })))
    const bases = [urlOf(a!), urlOf(b!)]
    const written = new Map<string, { user: string; version: number }>()
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const res = await fetch(`${bases[i % 2]}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: `m${i}` }) })
        expect(res.status).toBe(201)
        const body = (await res.json()) as { guid: string; user: string }
        written.set(body.guid, { user: body.user, version: versionOf(res.headers.get('etag')) })
      }),
    )
    for (const base of bases) await waitJournalDrained(base, 20_000, () => `${a!.output()}\n${b!.output()}`)
    const docs = await readDocs(ferretdb!.url, db, [...written.keys()])
    expect(docs.size).toBe(written.size)
    for (const [guid, { user, version }] of written) expect(docs.get(guid)).toMatchObject({ user, version })
  }, 120_000)
})
