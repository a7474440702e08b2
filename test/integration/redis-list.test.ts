import { beforeEach, describe, expect, test } from 'bun:test'
import { expectProblem } from '../support/http'
import { freshUser, type ListingTarget, listingContract, listingWakesBackoff, listPage } from '../support/listing-contract'
import { type RedisApp, redisAppSuite } from '../support/redis-app'

/**
 * GET /guid?user= in Redis mode (+ SQLite), in-process: two instances on one Redis prefix and
 * one store, writes to one and listings to the other; and the read barrier, which makes a
 * listing wait for the flusher to store what was journalled before it arrived.
 */

const redis = redisAppSuite('Redis mode listing')

describe.skipIf(!redis.enabled)('GET /guid?user= in Redis mode, two instances', () => {
  let target: ListingTarget
  beforeEach(async () => {
    const a = await redis.app()
    const b = await redis.app({ like: a })
    target = { writer: a.app.req, reader: b.app.req }
  })
  listingContract(() => target)
})

describe.skipIf(!redis.enabled)('the read barrier', () => {
  const twoInstances = async (env: Record<string, string>): Promise<[RedisApp, RedisApp]> => {
    const a = await redis.app({ env })
    return [a, await redis.app({ like: a, env })]
  }

  test('a listing waits for the flusher to store a write still in the journal, then shows it', async () => {
    const [a, b] = await twoInstances({ LIST_FLUSH_WAIT_MS: '10000' })
    const user = freshUser()
    a.store.writesDown = true
    const created = await a.app.req('POST', '/guid', { user })
    expect(created.status).toBe(201)
    const { guid } = (await created.json()) as { guid: string }
    expect(await redis.client.xLen(a.keys.journal)).toBe(1)
    const listing = listPage(b.app.req, user)
    let answered = false
    void listing.then(() => {
      answered = true
    })
    await Bun.sleep(150)
    // Without the barrier the listing would have answered at once, from a store without the GUID.
    expect(answered).toBe(false)
    a.store.writesDown = false
    expect((await listing).items.map((i) => i.guid)).toEqual([guid])
  })

  test('past LIST_FLUSH_WAIT_MS it is 503 unavailable with Retry-After, never a page missing the write', async () => {
    const [a, b] = await twoInstances({ LIST_FLUSH_WAIT_MS: '100' })
    a.store.writesDown = true
    expect((await a.app.req('POST', '/guid', { user: 'stuck' })).status).toBe(201)
    const res = await b.app.req('GET', '/guid?user=stuck')
    expect(res.headers.get('retry-after')).toBe('1')
    await expectProblem(res, 503, 'unavailable')
    a.store.writesDown = false
    expect((await listPage(b.app.req, 'stuck')).items).toHaveLength(1)
  })

  test('a listing wakes a flusher backing off after a store failure: once the store is back, it does not wait out the backoff', async () => {
    await listingWakesBackoff((flusherBackoffMs) => redis.app({ env: { LIST_FLUSH_WAIT_MS: '2000' }, flusherBackoffMs }))
  })

  test('writes journalled after the listing arrived are not waited for', async () => {
    const [a] = await twoInstances({ LIST_FLUSH_WAIT_MS: '10000' })
    // An empty journal: nothing to wait for, even while the store takes no writes.
    expect(await redis.client.xLen(a.keys.journal)).toBe(0)
    a.store.writesDown = true
    const started = performance.now()
    expect((await listPage(a.app.req, freshUser())).items).toEqual([])
    expect(performance.now() - started).toBeLessThan(5_000)
    a.store.writesDown = false
  })
})
