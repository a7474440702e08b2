import { describe, expect, test } from 'bun:test'
import { createClient } from 'redis'
import { RedisRateLimit } from '../../src/adapters/redis/rate-limit'
import { RateLimiter } from '../../src/http/rate-limit'
import { ManualClock } from '../../src/domain/clock'
import { expectProblem, GUID } from '../support/http'
import { createTestApp } from '../support/app'
import { startRedis } from '../support/redis'
import { eventually } from '../support/eventually'
import { type RedisApp, realTimeClock, redisAppSuite } from '../support/redis-app'

const redis = redisAppSuite('the rate limit shared through Redis')

/** 1 request per second, a burst of 4: the test's few requests all fall in the burst. */
const LIMIT = { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '4' }

const local = () => new RateLimiter({ perSecond: 2, burst: 3, maxClients: 10, clock: new ManualClock(0) })

describe.skipIf(!redis.enabled)('the rate limit with Redis', () => {
  test('GCRA in Redis decides as the local token bucket: a burst of 3, then the wait for the next token', async () => {
    const prefix = redis.server.prefix()
    const limit = new RedisRateLimit({ client: redis.client, prefix, perSecond: 2, burst: 3, timeoutMs: 2_000, fallback: local() })
    expect([await limit.take('ip:a'), await limit.take('ip:a'), await limit.take('ip:a')]).toEqual([0, 0, 0])
    const wait = await limit.take('ip:a')
    expect(wait).toBeGreaterThan(0)
    expect(wait).toBeLessThanOrEqual(500)
    // Another client has a bucket of its own, under a hash tag of its own (a cluster may place it anywhere).
    expect(await limit.take('ip:b')).toBe(0)
    expect(limit.keyOf('ip:b')).toBe(`${prefix}rl:{ip%3Ab}`)
    // The key goes when the bucket would be full again (at most burst / rate = 1.5 s).
    const ttl = await redis.client.pTTL(limit.keyOf('ip:a'))
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(1_500)
  })

  test('two instances on one Redis give a client one limit, not two', async () => {
    const a = await redis.app({ env: LIMIT })
    const b = await redis.app({ env: LIMIT, like: a })
    const on = [a, b, a, b]
    for (const x of on) expect((await x.app.req('GET', `/guid/${GUID}`)).status).toBe(404)
    // Each instance has seen only 2 of its burst of 4; the client has used its 4.
    for (const x of [a, b] as RedisApp[]) {
      const res = await x.app.req('GET', `/guid/${GUID}`)
      expect(res.headers.get('ratelimit-policy')).toBe('4;w=4')
      await expectProblem(res, 429, 'rate-limited')
    }
  })

  test('a Redis outage falls back to the local buckets: no 500, and the local limit still holds', async () => {
    // A server of this test's own: it is killed, and the suite's client would see it go.
    const own = await startRedis()
    redis.afterThisTest(() => own.stop())
    // No negative caching: each read below goes to Redis (down), not to a remembered 404.
    const app = await createTestApp({ REDIS_URL: own.url, NEGATIVE_CACHE_MS: '0', ...LIMIT }, { clock: realTimeClock(), flusherBackoffMs: { min: 5, max: 20 } })
    redis.afterThisTest(() => app.close())
    expect((await app.req('GET', `/guid/${GUID}`)).status).toBe(404)
    await own.kill9()
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await app.req('GET', `/guid/${GUID}`)).status)
    // The read itself needs Redis (503); the limiter decides locally, with a full bucket of 4.
    expect(statuses).toEqual([503, 503, 503, 503, 429, 429])
    await own.restart()
    // Back: the read answers again, and the bucket that let it through is the one in Redis.
    await eventually('Redis answers the service again', async () => (await app.req('GET', `/guid/${GUID}`)).status === 404, { timeoutMs: 10_000 })
    const client = createClient({ url: own.url })
    await client.connect()
    redis.afterThisTest(() => client.quit().then(() => undefined))
    expect(await client.exists('guidd:rl:{ip%3Aunknown}')).toBe(1)
  })
})
