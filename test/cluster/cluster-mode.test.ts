import { describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig } from '../../src/runtime/config'
import { SqliteStore } from '../../src/adapters/sqlite/store'
import { clusterAppSuite } from '../support/cluster-app'
import { FlakyStore } from '../support/flaky-store'
import { expectProblem } from '../support/http'
import { eventually } from '../support/eventually'

const suite = clusterAppSuite('Redis Cluster mode')

const slotOf = async (key: string): Promise<number> => Number(await suite.client.sendCommand(undefined, true, ['CLUSTER', 'KEYSLOT', key]))

const create = async (app: { req: (m: string, p: string, b?: unknown, h?: Record<string, string>) => Promise<Response> }, body: object) => {
  const res = await app.req('POST', '/guid', body)
  expect(res.status).toBe(201)
  return { ...((await res.json()) as { guid: string; user: string; expire: number }), etag: res.headers.get('etag')! }
}

describe('configuration', () => {
  test('REDIS_URL and REDIS_CLUSTER_NODES together: a clear error naming both', () => {
    let error: unknown
    try {
      loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000' })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).message).toContain('REDIS_URL and REDIS_CLUSTER_NODES are both set')
  })

  test('seed nodes are host:port pairs; the partition count and the replica wait are bounded', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001' })).toMatchObject({ JOURNAL_PARTITIONS: 64, REDIS_WAIT_REPLICAS: 0 })
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000' })).toThrow('REDIS_CLUSTER_NODES')
    expect(() => loadConfig({ JOURNAL_PARTITIONS: '0' })).toThrow('JOURNAL_PARTITIONS')
    expect(() => loadConfig({ REDIS_PREFIX: 'a{b}' })).toThrow('REDIS_PREFIX')
  })
})

describe.skipIf(!suite.enabled)('Redis Cluster mode (3 masters, 3 replicas)', () => {
  test("a GUID's key and its partition's journal share one slot, and the partitions spread over every master", async () => {
    const { app, keys } = await suite.app()
    const record = await create(app, { user: 'slotted' })
    const partition = keys.partitionOf(record.guid)
    const journal = keys.partition(partition)
    const slot = await slotOf(keys.guid(record.guid))
    expect(await slotOf(journal.journal)).toBe(slot)
    expect(await slotOf(journal.deadLetters)).toBe(slot)
    expect(await slotOf(journal.invalidations)).toBe(slot)
    expect(await suite.client.xLen(journal.journal)).toBeLessThanOrEqual(1)
    const masters = new Set<number>()
    for (let p = 0; p < keys.partitions; p++) masters.add((await suite.cluster.masterOf(await slotOf(keys.partition(p).journal))).port)
    expect(masters.size).toBe(3)
  })

  test('the API on the cluster: create, read, conditional update, conflicts, delete, and the journal flushed to the store', async () => {
    const { app, store, keys, clock } = await suite.app()
    const records = await Promise.all(Array.from({ length: 40 }, (_, i) => create(app, { user: `u${i}` })))
    expect(new Set(records.map((r) => keys.partitionOf(r.guid))).size).toBeGreaterThan(10)
    const first = records[0]!
    await expectProblem(await app.req('POST', '/guid', { guid: first.guid, user: 'again' }), 409, 'guid-exists')
    const patched = await app.req('PATCH', `/guid/${first.guid}`, { user: 'changed' }, { 'if-match': first.etag })
    expect(patched.status).toBe(200)
    await expectProblem(await app.req('PATCH', `/guid/${first.guid}`, { user: 'stale' }, { 'if-match': first.etag }), 412, 'precondition-failed')
    app.runtime.lru.clear()
    expect(await (await app.req('GET', `/guid/${first.guid}`)).json()).toEqual({ guid: first.guid, user: 'changed', expire: first.expire })
    expect((await app.req('DELETE', `/guid/${records[1]!.guid}`)).status).toBe(204)
    await expectProblem(await app.req('GET', `/guid/${records[1]!.guid}`), 404, 'not-found')
    // Every partition's journal drains into the store.
    await eventually('the journal drains', async () => (await Promise.all(Array.from({ length: keys.partitions }, (_, p) => suite.client.xLen(keys.partition(p).journal)))).every((n) => n === 0), {
      timeoutMs: 10_000,
    })
    const now = clock.now() / 1000
    expect(await store.inner.get(first.guid, now)).toMatchObject({ user: 'changed' })
    expect(await store.inner.get(records[1]!.guid, now)).toMatchObject({ deleted: true })
    for (const r of records.slice(2)) expect(await store.inner.get(r.guid, now)).toMatchObject({ user: r.user })
    expect((await app.req('GET', '/readyz')).status).toBe(200)
  })

  test('two instances: a write on one is not served stale by the other (sharded pub/sub invalidation)', async () => {
    const a = await suite.app()
    const b = await suite.app({ like: a })
    const records = await Promise.all(Array.from({ length: 10 }, (_, i) => create(a.app, { user: `v${i}` })))
    // B caches each one, then A changes each: B must drop its copy.
    for (const r of records) expect((await b.app.req('GET', `/guid/${r.guid}`)).status).toBe(200)
    for (const r of records) expect((await a.app.req('PATCH', `/guid/${r.guid}`, { user: `${r.user}-new` })).status).toBe(200)
    for (const r of records) {
      await eventually(`B sees ${r.guid} changed`, async () => ((await (await b.app.req('GET', `/guid/${r.guid}`)).json()) as { user: string }).user === `${r.user}-new`, { timeoutMs: 2_000 })
    }
    // The version guard decides races across instances: B's update from a stale ETag is refused.
    const r0 = records[0]!
    await expectProblem(await b.app.req('PATCH', `/guid/${r0.guid}`, { user: 'late' }, { 'if-match': r0.etag }), 412, 'precondition-failed')
  })

  test('two instances share one rate limit on the cluster', async () => {
    const env = { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '4' }
    const a = await suite.app({ env })
    const b = await suite.app({ env, like: a })
    const guid = '0123456789ABCDEF0123456789ABCDEF'
    for (const x of [a, b, a, b]) expect((await x.app.req('GET', `/guid/${guid}`)).status).toBe(404)
    await expectProblem(await a.app.req('GET', `/guid/${guid}`), 429, 'rate-limited')
    await expectProblem(await b.app.req('GET', `/guid/${guid}`), 429, 'rate-limited')
  })

  test('entries a dead instance left pending are claimed and flushed by another', async () => {
    const env = { JOURNAL_CLAIM_IDLE_MS: '300' }
    const a = await suite.app({ env })
    // A's flusher reads its entries but cannot store them: they stay pending on A.
    a.store.down = true
    const records = await Promise.all(Array.from({ length: 12 }, (_, i) => create(a.app, { user: `orphan${i}` })))
    await eventually('A has read its entries', async () => a.store.batches === 0 && (await pendingOn(a.keys)) >= records.length, { timeoutMs: 5_000 })
    // A dies without acknowledging them (its close cannot flush: the store is down).
    await a.app.close()
    const store = new FlakyStore(new SqliteStore({ path: a.storePath, synchronous: 'NORMAL' }))
    const b = await suite.app({ env, like: { ...a, store } })
    const now = a.clock.now() / 1000
    await eventually('B claims and flushes every orphaned entry', async () => (await Promise.all(records.map((r) => store.inner.get(r.guid, now)))).every((s) => s !== null), { timeoutMs: 10_000 })
    expect(b.app.runtime.mode).toBe('redis')
  })

  test('entries of an instance that is gone are claimed at once, not after JOURNAL_CLAIM_IDLE_MS', async () => {
    // JOURNAL_CLAIM_IDLE_MS stays at its default (30 s): the claim must not wait for it.
    const a = await suite.app()
    expect(a.app.config.JOURNAL_CLAIM_IDLE_MS).toBe(30_000)
    a.store.down = true
    const records = await Promise.all(Array.from({ length: 12 }, (_, i) => create(a.app, { user: `gone${i}` })))
    await eventually('A has read its entries', async () => (await pendingOn(a.keys)) >= records.length, { timeoutMs: 5_000 })
    // A stops (its store is down: nothing flushed) and takes its liveness key with it.
    await a.app.close()
    // And an instance killed with -9 in the middle of a round: its key is simply not there.
    const orphan = { guid: 'DEADDEADDEADDEADDEADDEADDEAD0004', user: 'killed', expire: Math.floor(Date.now() / 1000) + 3_600, version: 1 }
    const k = a.keys.partition(a.keys.partitionOf(orphan.guid))
    await suite.client.xAdd(k.journal, '*', { m: JSON.stringify(orphan) })
    await suite.client.xReadGroup(k.group, 'killed-instance', { key: k.journal, id: '>' }, { COUNT: 10 })
    const store = new FlakyStore(new SqliteStore({ path: a.storePath, synchronous: 'NORMAL' }))
    await suite.app({ like: { ...a, store } })
    const now = a.clock.now() / 1000
    await eventually(
      'B claims and flushes every entry of the gone instances',
      async () => (await Promise.all([...records, orphan].map((r) => store.inner.get(r.guid, now)))).every((s) => s !== null),
      {
        timeoutMs: 8_000,
      },
    )
    expect(await pendingOn(a.keys)).toBe(0)
  }, 20_000)

  test('an instance with another JOURNAL_PARTITIONS than the data was written with refuses to start', async () => {
    const a = await suite.app()
    let error: unknown
    try {
      await suite.app({ like: a, env: { JOURNAL_PARTITIONS: '32' } })
    } catch (e) {
      error = e
    }
    expect(String(error)).toContain(`JOURNAL_PARTITIONS=32, but this cluster's data (prefix ${a.prefix}) was written with 64 partitions`)
  })

  test('REDIS_WAIT_REPLICAS more than the replicas there are: every write is 503 unavailable, never acknowledged', async () => {
    const { app } = await suite.app({ env: { REDIS_WAIT_REPLICAS: '2', REDIS_WAIT_TIMEOUT_MS: '50' } })
    const res = await app.req('POST', '/guid', { user: 'unreplicated' })
    await expectProblem(res, 503, 'unavailable')
    expect(res.headers.get('retry-after')).not.toBeNull()
  })

  test('REDIS_WAIT_REPLICAS=1 with one replica per master: writes are acknowledged', async () => {
    const { app } = await suite.app({ env: { REDIS_WAIT_REPLICAS: '1' } })
    await Promise.all(Array.from({ length: 20 }, (_, i) => create(app, { user: `replicated${i}` })))
  })
})

/** Entries pending in the consumer group, over every partition. */
const pendingOn = async (keys: import('../../src/adapters/redis/keys').RedisKeys): Promise<number> => {
  let total = 0
  for (let p = 0; p < keys.partitions; p++) {
    const k = keys.partition(p)
    const info = await suite.client.xPending(k.journal, k.group).catch(() => ({ pending: 0 }))
    total += info.pending
  }
  return total
}
