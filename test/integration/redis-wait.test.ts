import { describe, expect, test } from 'bun:test'
import { expectProblem } from '../support/http'
import { redisAppSuite } from '../support/redis-app'

const redis = redisAppSuite('REDIS_WAIT_REPLICAS on one Redis')

describe.skipIf(!redis.enabled)('REDIS_WAIT_REPLICAS on one Redis', () => {
  test('a Redis without the replicas asked for: the write is 503 unavailable with Retry-After, never acknowledged', async () => {
    const { app } = await redis.app({ env: { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '30' } })
    const res = await app.req('POST', '/guid', { user: 'unreplicated' })
    const problem = await expectProblem(res, 503, 'unavailable')
    expect(problem.detail).toContain('Only 0 of 1 Redis replicas confirmed the write in time')
    expect(res.headers.get('retry-after')).not.toBeNull()
  })

  test('a write answered 503 for want of replicas may be in Redis: its instance no longer serves the copy it had before', async () => {
    const b = await redis.app()
    const a = await redis.app({ like: b, env: { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '30' } })
    const created = await b.app.req('POST', '/guid', { user: 'before' })
    const { guid } = (await created.json()) as { guid: string }
    // A holds the GUID in its LRU.
    expect(((await (await a.app.req('GET', `/guid/${guid}`)).json()) as { user: string }).user).toBe('before')
    // A's update runs in Redis, but WAIT is not met: 503, outcome unknown.
    await expectProblem(await a.app.req('PATCH', `/guid/${guid}`, { user: 'after' }), 503, 'unavailable')
    const seenByB = ((await (await b.app.req('GET', `/guid/${guid}`)).json()) as { user: string }).user
    expect(seenByB).toBe('after')
    // Once B has answered the newer state, A must not answer the older one.
    expect(((await (await a.app.req('GET', `/guid/${guid}`)).json()) as { user: string }).user).toBe(seenByB)
  })

  test('0 (the default) sends no WAIT: writes are acknowledged without replicas', async () => {
    const { app } = await redis.app()
    expect((await app.req('POST', '/guid', { user: 'plain' })).status).toBe(201)
  })
})
