import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MongoStore } from '../../src/adapters/mongo/store'
import { ManualClock } from '../../src/domain/clock'
import { createTestApp, type TestApp } from '../support/app'
import { freePort } from '../support/children'
import { expectProblem } from '../support/http'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'

/**
 * Found by the model-based tests (mode redis-mongodb): with MongoDB down, a read that missed
 * the LRU and Redis reached the store and answered 500. A store that cannot be read is a
 * backing service down: 503 unavailable with Retry-After, as a write would be.
 */

const enabled = redisSuites('Redis mode with the store down')
let redis: TestRedis
let app: TestApp

beforeAll(async () => {
  if (!enabled) return
  redis = await startRedis()
  // A MongoDB that is not there: a port that was free a moment ago, short server selection.
  const store = new MongoStore({ url: `mongodb://127.0.0.1:${await freePort()}/`, dbName: 'guidd', clientOptions: { serverSelectionTimeoutMS: 150 } })
  app = await createTestApp({ REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix() }, { clock: new ManualClock(Date.now()), store })
})

afterAll(async () => {
  if (!enabled) return
  await app?.close()
  await redis.stop()
})

describe.if(enabled)('Redis mode, MongoDB unreachable', () => {
  test('a read that reaches the store is 503 unavailable with Retry-After, not 500', async () => {
    const res = await app.req('GET', '/guid/0123456789ABCDEF0123456789ABCDEF')
    expect(res.headers.get('retry-after')).toBe('1')
    await expectProblem(res, 503, 'unavailable')
  })

  test('a write still lands in the journal (the store is written later)', async () => {
    expect((await app.req('POST', '/guid', { user: 'journaled while MongoDB is down' })).status).toBe(201)
  })
})
