import { describe, expect, test } from 'bun:test'
import { ABSENT_MARKER, redisKeys } from '../../src/adapters/redis/keys'
import { SqliteStore } from '../../src/adapters/sqlite/store'
import { createTestApp, type TestApp } from '../support/app'
import { etagAt, expectProblem, versionAt, versionOf } from '../support/http'
import { startRedis } from '../support/redis'
import { eventually } from '../support/eventually'
import { type RedisApp, realTimeClock, redisAppSuite } from '../support/redis-app'

const redis = redisAppSuite('Redis mode integration')

const drained = (keys: RedisApp['keys']) => eventually('the journal drains', async () => (await redis.client.xLen(keys.journal)) === 0)

const create = async (app: TestApp, body: object) => {
  const res = await app.req('POST', '/guid', body)
  expect(res.status).toBe(201)
  return (await res.json()) as { guid: string; user: string; expire: number }
}

const metric = async (app: TestApp, name: string): Promise<number> => {
  const text = await (await app.req('GET', '/metrics')).text()
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}

describe.skipIf(!redis.enabled)('Redis mode', () => {
  test('a write is journaled in Redis as <version>:<JSON>, kept until expire + TOMBSTONE_TTL_SECONDS, then flushed to the store', async () => {
    const { app, store, keys, clock } = await redis.app()
    const now = clock.now() / 1000
    const expire = now + 3_600
    const record = await create(app, { user: 'journaled', expire })
    // The first version of an incarnation created in second `now`.
    const version = versionAt(1, now)
    const raw = (await redis.client.get(keys.guid(record.guid)))!
    expect(raw.slice(0, raw.indexOf(':'))).toBe(String(version))
    expect(JSON.parse(raw.slice(raw.indexOf(':') + 1))).toEqual({ ...record, version })
    expect(await redis.client.expireTime(keys.guid(record.guid))).toBe(expire + app.config.TOMBSTONE_TTL_SECONDS)
    await drained(keys)
    expect(await store.inner.get(record.guid, clock.now() / 1000)).toEqual({ ...record, version })
    await eventually('the flush is counted', async () => (await metric(app, 'guidd_journal_flushed_total')) === 1)
  })

  test('a read that misses the LRU is served from Redis and fills the LRU', async () => {
    const { app, store } = await redis.app()
    const record = await create(app, { user: 'shared' })
    app.runtime.lru.clear()
    store.down = true
    const res = await app.req('GET', `/guid/${record.guid}`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual(record)
    expect(app.runtime.lru.size).toBe(1)
    store.down = false
  })

  test('a miss everywhere is cached briefly in Redis as absent, and a create clears it', async () => {
    const { app, keys } = await redis.app({ env: { NEGATIVE_CACHE_MS: '60000' } })
    const guid = 'ABCDEF0123456789ABCDEF0123456789'
    await expectProblem(await app.req('GET', `/guid/${guid}`), 404, 'not-found')
    expect(await redis.client.get(keys.guid(guid))).toBe(ABSENT_MARKER)
    const ttl = await redis.client.pTTL(keys.guid(guid))
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(60_000)
    await create(app, { guid, user: 'now it exists' })
    app.runtime.lru.clear()
    expect((await app.req('GET', `/guid/${guid}`)).status).toBe(200)
  })

  test('no tier serves a record the instant its expire passes (Redis still keeps its state)', async () => {
    const { app, clock, keys } = await redis.app()
    const record = await create(app, { user: 'short-lived', expire: clock.now() / 1000 + 10 })
    clock.advance(9_000)
    expect((await app.req('GET', `/guid/${record.guid}`)).status).toBe(200)
    clock.advance(1_000)
    await expectProblem(await app.req('GET', `/guid/${record.guid}`), 404, 'not-found')
    app.runtime.lru.clear()
    await expectProblem(await app.req('GET', `/guid/${record.guid}`), 404, 'not-found')
    // The expired state stays in Redis: it still names the latest version, so a read never
    // falls through to an older one in the store.
    expect(await redis.client.get(keys.guid(record.guid))).toStartWith(`${versionAt(1, clock.now() / 1000 - 10)}:`)
  })

  test('a lost compare-and-set reloads and retries, or answers 412 under If-Match', async () => {
    const { app, keys, clock } = await redis.app()
    const created = await app.req('POST', '/guid', { user: 'mine' })
    expect(created.status).toBe(201)
    const record = (await created.json()) as { guid: string; user: string; expire: number }
    const mine = created.headers.get('etag')
    expect(mine).toBe(etagAt(1, clock.now() / 1000))
    // Another instance wrote the next version (its invalidation is not delivered here): this LRU is stale.
    const theirs = versionOf(mine) + 1
    await redis.client.set(keys.guid(record.guid), `${theirs}:${JSON.stringify({ ...record, user: 'theirs', version: theirs })}`, { EXAT: record.expire })
    await expectProblem(await app.req('PATCH', `/guid/${record.guid}`, { expire: record.expire - 1 }, { 'if-match': mine! }), 412, 'precondition-failed')
    const patched = await app.req('PATCH', `/guid/${record.guid}`, { expire: record.expire - 1 })
    expect(patched.status).toBe(200)
    expect(patched.headers.get('etag')).toBe(`"${theirs + 1}"`)
    expect(await patched.json()).toEqual({ ...record, user: 'theirs', expire: record.expire - 1 })
  })

  test('a store outage grows the lag; past JOURNAL_MAX_LAG writes get 503 and /readyz fails; then it recovers', async () => {
    const { app, store, keys, clock } = await redis.app({ env: { JOURNAL_MAX_LAG: '20' } })
    store.down = true
    for (let i = 0; i < 20; i++) await create(app, { user: `during outage ${i}` })
    expect(await metric(app, 'guidd_journal_length')).toBe(20)
    // The entry's age is the injected clock minus Redis's own time in its stream id, which
    // runs on while the 20 creates are made: a wide margin keeps a loaded machine from failing this.
    clock.advance(10_000)
    expect(await metric(app, 'guidd_journal_oldest_age_seconds')).toBeGreaterThanOrEqual(5)
    const refused = await expectProblem(await app.req('POST', '/guid', { user: 'one too many' }), 503, 'overloaded')
    expect(refused.detail).toContain('journal')
    const ready = await app.req('GET', '/readyz')
    expect(ready.status).toBe(503)
    expect(ready.headers.get('retry-after')).not.toBeNull()
    expect(JSON.stringify(await ready.json())).toContain('journal')
    await eventually('flush failures are counted', async () => (await metric(app, 'guidd_journal_flush_failures_total')) > 0)
    store.down = false
    await drained(keys)
    expect((await app.req('GET', '/readyz')).status).toBe(200)
    await create(app, { user: 'after recovery' })
    await eventually('all 21 are flushed and counted', async () => (await metric(app, 'guidd_journal_flushed_total')) === 21)
  })

  test('an unreadable entry is dead-lettered at once and does not block the others', async () => {
    const { app, store, keys, clock } = await redis.app()
    await redis.client.xAdd(keys.journal, '*', { m: 'not json' })
    const record = await create(app, { user: 'behind the poison' })
    await drained(keys)
    expect(await redis.client.xLen(keys.deadLetters)).toBe(1)
    expect(await store.inner.get(record.guid, clock.now() / 1000)).toMatchObject({ user: 'behind the poison' })
    await eventually('the dead letter is counted', async () => (await metric(app, 'guidd_journal_dead_letters_total')) === 1)
  })

  test('an entry the store keeps rejecting is dead-lettered after JOURNAL_MAX_ATTEMPTS; the others flush', async () => {
    const { app, store, keys, clock } = await redis.app({ env: { JOURNAL_MAX_ATTEMPTS: '3' } })
    const bad = 'BADBADBADBADBADBADBADBADBADBAD00'
    store.reject.add(bad)
    await create(app, { guid: bad, user: 'refused' })
    const good = await create(app, { user: 'fine' })
    await drained(keys)
    const dead = (await redis.client.xRange(keys.deadLetters, '-', '+'))?.[0]
    expect(dead?.message).toMatchObject({ reason: 'refused by the test' })
    expect(JSON.parse(dead!.message.m!)).toMatchObject({ guid: bad })
    expect(await store.inner.get(good.guid, clock.now() / 1000)).not.toBeNull()
    expect(await store.inner.get(bad, clock.now() / 1000)).toBeNull()
  })

  /** One journal entry for `guid` that `consumer` read and has not acknowledged: what an instance leaves behind when it dies mid-flush. */
  const readBy = async (consumer: string, guid: string, user: string) => {
    const prefix = redis.server.prefix()
    const keys = redisKeys(prefix)
    await redis.client.xGroupCreate(keys.journal, keys.group, '0', { MKSTREAM: true })
    await redis.client.xAdd(keys.journal, '*', { m: JSON.stringify({ guid, user, expire: Math.floor(Date.now() / 1000) + 3_600, version: 1 }) })
    await redis.client.xReadGroup(keys.group, consumer, { key: keys.journal, id: '>' }, { COUNT: 10 })
    return { prefix, keys }
  }

  test('entries left pending by a dead consumer are claimed and flushed by a live instance', async () => {
    const guid = 'DEADDEADDEADDEADDEADDEADDEAD0001'
    // A consumer reads it and dies before acknowledging.
    const { prefix, keys } = await readBy('dead-instance', guid, 'orphan')
    expect((await redis.client.xPending(keys.journal, keys.group)).pending).toBe(1)
    const { store, clock } = await redis.app({ env: { JOURNAL_CLAIM_IDLE_MS: '50' }, prefix })
    await drained(keys)
    expect(await store.inner.get(guid, clock.now() / 1000)).toMatchObject({ user: 'orphan', version: 1 })
    expect((await redis.client.xPending(keys.journal, keys.group)).pending).toBe(0)
    // Once silent for ten claim periods with nothing pending, the dead consumer leaves the group.
    await eventually('the dead consumer is removed', async () => !(await redis.client.xInfoConsumers(keys.journal, keys.group)).some((c) => c.name === 'dead-instance'))
  })

  test('entries of an instance that is gone (no liveness key) are claimed at once, not after JOURNAL_CLAIM_IDLE_MS, and its consumer leaves the group', async () => {
    const guid = 'DEADDEADDEADDEADDEADDEADDEAD0002'
    // Read by an instance that then died (kill -9): nothing refreshes its liveness key any more.
    const { prefix, keys } = await readBy('killed-instance', guid, 'orphan')
    // JOURNAL_CLAIM_IDLE_MS stays at its default (30 s): the claim must not wait for it.
    const { app, store, clock } = await redis.app({ prefix })
    expect(app.config.JOURNAL_CLAIM_IDLE_MS).toBe(30_000)
    await drained(keys)
    expect(await store.inner.get(guid, clock.now() / 1000)).toMatchObject({ user: 'orphan', version: 1 })
    await eventually('the dead consumer is removed', async () => !(await redis.client.xInfoConsumers(keys.journal, keys.group)).some((c) => c.name === 'killed-instance'))
  }, 10_000)

  test("a live instance's pending entries are left to it until JOURNAL_CLAIM_IDLE_MS; once its liveness key lapses they are claimed", async () => {
    const guid = 'DEADDEADDEADDEADDEADDEADDEAD0003'
    // An instance that is alive (its flusher keeps its liveness key) and busy storing what it read.
    const { prefix, keys } = await readBy('busy-instance', guid, 'in flight')
    await redis.client.set(keys.alive('busy-instance'), '1', { PX: 60_000 })
    const { app, store, clock } = await redis.app({ prefix })
    // Redis measures idleness by its own clock: two claim passes (one a second) must leave it alone.
    await Bun.sleep(2_200)
    const pending = await redis.client.xPendingRange(keys.journal, keys.group, '-', '+', 10)
    expect(pending.map((p) => p.consumer)).toEqual(['busy-instance'])
    expect(await store.inner.get(guid, clock.now() / 1000)).toBeNull()
    // Its key lapses (a kill -9 stops the refreshing): claimed within seconds.
    await redis.client.pExpire(keys.alive('busy-instance'), 1)
    await drained(keys)
    expect(await store.inner.get(guid, clock.now() / 1000)).toMatchObject({ user: 'in flight', version: 1 })
    // This instance's own key is there while it runs, and gone after a graceful stop.
    const own = await redis.client.keys(`${prefix}alive:*`)
    expect(own).toHaveLength(1)
    expect(await redis.client.pTTL(own[0]!)).toBeGreaterThan(0)
    await app.runtime.close(2_000)
    expect(await redis.client.keys(`${prefix}alive:*`)).toEqual([])
  }, 15_000)
})

describe.skipIf(!redis.enabled)('Redis mode lifecycle', () => {
  test('shutdown flushes what the journal holds before it closes', async () => {
    const { app, store, storePath, keys, clock } = await redis.app()
    store.down = true
    const records = [await create(app, { user: 'queued 1' }), await create(app, { user: 'queued 2' })]
    expect(await redis.client.xLen(keys.journal)).toBe(2)
    store.down = false
    await app.runtime.close(5_000)
    expect(await redis.client.xLen(keys.journal)).toBe(0)
    const reopened = new SqliteStore({ path: storePath, synchronous: 'NORMAL', checkpointThread: false })
    try {
      for (const r of records) expect(await reopened.get(r.guid, clock.now() / 1000)).toMatchObject({ user: r.user })
    } finally {
      await reopened.close()
    }
  })

  test('while the invalidation connection is down the LRU is emptied and bypassed, then used again', async () => {
    const { app } = await redis.app()
    const record = await create(app, { user: 'cached' })
    expect(app.runtime.lru.size).toBe(1)
    // Drop every pub/sub connection on the server: this instance's subscription included.
    await redis.client.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])
    await eventually('the LRU is emptied', async () => app.runtime.lru.size === 0)
    await eventually('the subscription is back and the LRU fills again', async () => {
      expect((await app.req('GET', `/guid/${record.guid}`)).status).toBe(200)
      return app.runtime.lru.size === 1
    })
  })
})

describe.skipIf(!redis.enabled)('Redis mode with Redis down', () => {
  test('requests that need Redis get 503 with Retry-After, never a 500; /readyz says why', async () => {
    const own = await startRedis()
    try {
      const clock = realTimeClock()
      const app = await createTestApp({ REDIS_URL: own.url, REDIS_TIMEOUT_MS: '500' }, { clock, flusherBackoffMs: { min: 5, max: 20 } })
      redis.afterThisTest(() => app.close())
      const record = await create(app, { user: 'before the outage' })
      await own.stop()
      // Memory is not trusted either: invalidations cannot arrive, so the LRU is bypassed.
      await eventually('the LRU is bypassed', async () => app.runtime.lru.size === 0)
      for (const res of [
        await app.req('GET', `/guid/${record.guid}`),
        await app.req('POST', '/guid', { user: 'during the outage' }),
        await app.req('PATCH', `/guid/${record.guid}`, { user: 'during the outage' }),
      ]) {
        const problem = await expectProblem(res, 503, 'unavailable')
        expect(res.headers.get('retry-after')).toBe('1')
        expect(JSON.stringify(problem)).not.toContain('ECONNREFUSED')
      }
      const ready = await app.req('GET', '/readyz')
      expect(ready.status).toBe(503)
      expect(Object.keys(((await ready.json()) as { checks: Record<string, string> }).checks)).toContain('redis')
    } finally {
      await own.stop()
    }
  })
})
