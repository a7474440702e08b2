import { beforeEach, describe, expect, test } from 'bun:test'
import { connectRedis } from '../../src/adapters/redis/client'
import { RedisIdempotency } from '../../src/adapters/redis/idempotency'
import { redisKeys } from '../../src/adapters/redis/keys'
import { ManualClock } from '../../src/domain/clock'
import { expectProblem } from '../support/http'
import { expectReplay, freshKey, type IdempotencyTarget, idempotencyContract } from '../support/idempotency-contract'
import { freshUser } from '../support/listing-contract'
import { redisAppSuite } from '../support/redis-app'

/**
 * Idempotency-Key in Redis mode (+ SQLite), in-process: two instances on one Redis prefix,
 * first requests to one and retries to the other; the answer is written by the journal's
 * own script, with the write.
 */

const redis = redisAppSuite('Redis mode Idempotency-Key')

describe.skipIf(!redis.enabled)('Idempotency-Key in Redis mode, two instances', () => {
  let target: IdempotencyTarget
  beforeEach(async () => {
    const a = await redis.app()
    const b = await redis.app({ like: a })
    target = { a: a.app.req, b: b.app.req }
  })
  idempotencyContract(() => target)

  test('the answer is in Redis as soon as the write is: set by the journal script that journals the write', async () => {
    const a = await redis.app()
    const key = freshKey()
    const first = await a.app.req('POST', '/guid', { user: freshUser() }, { 'idempotency-key': key })
    expect(first.status).toBe(201)
    const kept = await redis.client.get(a.keys.idempotency(`-:${JSON.parse(key)}`))
    expect(kept).toStartWith('D:')
    expect(JSON.parse(kept!.slice(67))).toMatchObject({ status: 201, etag: first.headers.get('etag'), location: first.headers.get('location') })
    const ttl = await redis.client.ttl(a.keys.idempotency(`-:${JSON.parse(key)}`))
    expect(ttl).toBeGreaterThan(a.app.config.IDEMPOTENCY_TTL_SECONDS - 5)
    expect(ttl).toBeLessThanOrEqual(a.app.config.IDEMPOTENCY_TTL_SECONDS)
  })

  test('a 503 frees the key: the retry runs afresh once Redis takes writes again', async () => {
    const a = await redis.app({ env: { JOURNAL_MAX_LAG: '1' } })
    a.store.writesDown = true
    // The journal holds one unflushed entry: the next write is refused (503 overloaded).
    expect((await a.app.req('POST', '/guid', { user: 'fills the journal' })).status).toBe(201)
    const key = freshKey()
    const user = freshUser()
    const refused = await a.app.req('POST', '/guid', { user }, { 'idempotency-key': key })
    await expectProblem(refused, 503, 'overloaded')
    a.store.writesDown = false
    let retried: Response | undefined
    for (let i = 0; i < 200; i++) {
      retried = await a.app.req('POST', '/guid', { user }, { 'idempotency-key': key })
      if (retried.status !== 503) break
      await Bun.sleep(10)
    }
    expect(retried!.status).toBe(201)
    expect(retried!.headers.get('idempotent-replayed')).toBeNull()
    await expectReplay(retried!, await a.app.req('POST', '/guid', { user }, { 'idempotency-key': key }))
  })
})

describe.skipIf(!redis.enabled)('Idempotency-Key claims in Redis', () => {
  const LEASE_MS = 5_000
  const fp = (c: string) => c.repeat(64)
  const setup = async () => {
    const clock = new ManualClock(Date.now())
    const keys = redisKeys(`claims-${crypto.randomUUID()}:`)
    // Each its own connection, as two instances have.
    const store = async () => {
      const client = await connectRedis({ url: redis.server.url, onError: () => {} })
      redis.afterThisTest(async () => void client.destroy())
      return new RedisIdempotency({ client, keys, timeoutMs: 2_000, leaseMs: LEASE_MS, ttlSeconds: 86_400, clock })
    }
    return { clock, keys, a: await store(), b: await store() }
  }

  test('a claim of the same request whose lease ended is taken over (once); of another request, or within its lease, it holds', async () => {
    const { clock, a, b } = await setup()
    expect((await a.claim('-:k', fp('a'), undefined)).kind).toBe('claimed')
    expect(await b.claim('-:k', fp('a'), undefined)).toEqual({ kind: 'in-flight', fingerprint: fp('a') })
    clock.advance(LEASE_MS + 1)
    expect(await b.claim('-:k', fp('b'), undefined)).toEqual({ kind: 'in-flight', fingerprint: fp('a') })
    const [x, y] = await Promise.all([a.claim('-:k', fp('a'), undefined), b.claim('-:k', fp('a'), undefined)])
    expect([x.kind, y.kind].sort()).toEqual(['claimed', 'in-flight'])
  })

  test('a claim written before leases were in the value (F:<fp>:<token>) lives by its PX alone: never taken over', async () => {
    const { clock, keys, a } = await setup()
    await redis.client.set(keys.idempotency('-:old'), `F:${fp('c')}:${crypto.randomUUID()}`, { PX: 60_000 })
    clock.advance(LEASE_MS * 10)
    expect(await a.claim('-:old', fp('c'), undefined)).toEqual({ kind: 'in-flight', fingerprint: fp('c') })
  })
})
