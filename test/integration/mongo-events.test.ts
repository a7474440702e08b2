import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { MongoClient } from 'mongodb'
import { createTestApp, type TestApp } from '../support/app'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { feedContract, page } from '../support/feed-contract'
import { expectProblem } from '../support/http'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'
import { realTimeClock } from '../support/redis-app'

/**
 * The change feed in MongoDB-only mode, two instances in-process on one FerretDB database: each
 * write's changes ride in its document's outbox; every instance's sequencer gives them positions.
 */
const enabled = ferretdbSuites('MongoDB-only change feed')
const redisEnabled = enabled && redisSuites('Redis + MongoDB change feed')
let ferret: TestFerretdb
let redis: TestRedis | undefined
const opened: TestApp[] = []
let n = 0

beforeAll(async () => {
  if (enabled) ferret = await startFerretdb()
  if (redisEnabled) redis = await startRedis()
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)
afterEach(async () => {
  for (let app = opened.pop(); app !== undefined; app = opened.pop()) await app.close()
})
afterAll(async () => {
  await ferret?.dispose()
  await redis?.stop()
})

const instances = async (withRedis = false) => {
  const clock = realTimeClock()
  const env: Record<string, string> = { MONGODB_URL: ferret.url, MONGODB_DB: `feed_${process.pid}_${n++}` }
  if (withRedis) Object.assign(env, { REDIS_URL: redis!.url, REDIS_PREFIX: redis!.prefix(), FLUSH_INTERVAL_MS: '20' })
  const a = await createTestApp(env, { clock })
  opened.push(a)
  const b = await createTestApp(env, { clock })
  opened.push(b)
  return { a, b, db: env.MONGODB_DB }
}

describe.if(redisEnabled)('change feed, Redis + MongoDB mode, two instances', () => {
  feedContract(() => instances(true))
})

describe.if(enabled)('change feed, MongoDB-only mode, two instances', () => {
  feedContract(() => instances())

  test('a write leaves its changes in its document until a sequencer takes them; then the outbox is gone', async () => {
    const { a, db } = await instances()
    await a.runtime.feed!.hub.stop()
    const res = await a.req('POST', '/guid', { user: 'boxed' })
    const { guid } = await res.json()
    const client = new MongoClient(ferret.url)
    try {
      const docs = client.db(db).collection<{ _id: string; out?: unknown[] }>('guids')
      expect((await docs.findOne({ _id: guid }))?.out).toEqual([expect.objectContaining({ t: 'created', u: 'boxed' })])
      expect((await page(a)).items.map((e) => e.guid)).toContain(guid)
      expect((await docs.findOne({ _id: guid }))?.out).toBeUndefined()
    } finally {
      await client.close()
    }
  })

  test('410 once the events before a position are trimmed', async () => {
    const { a, b } = await instances()
    for (const user of ['a', 'b', 'c']) await a.req('POST', '/guid', { user })
    const { items } = await page(b)
    expect(items).toHaveLength(3)
    a.clock.advance(a.config.EVENTS_RETENTION_SECONDS * 1000 + 1)
    expect(await a.runtime.feed!.hub.log.trim()).toBe(3)
    await expectProblem(await a.req('GET', `/events?after=${items[0]!.id}`, undefined, { accept: 'application/json' }), 410, 'position-gone')
    expect((await page(a, `?after=${items[2]!.id}`)).items).toEqual([])
  })
})
