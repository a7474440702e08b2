import { describe, expect, test } from 'bun:test'
import { clusterAppSuite } from '../support/cluster-app'
import { expectAcknowledged, writer } from '../support/cluster-load'
import { waitFor } from '../support/redis-cluster'
import { eventually } from '../support/eventually'

/**
 * A master's kill -9 under write load, REDIS_WAIT_REPLICAS=1: the cluster fails the master
 * over to its replica; guidd answers 503 + Retry-After during the gap, never a 500, and every
 * acknowledged write is there afterwards (the replica had it: WAIT said so before the 2xx).
 */
const suite = clusterAppSuite('Redis Cluster failover')

describe.skipIf(!suite.enabled)('a master killed (-9) under write load, REDIS_WAIT_REPLICAS=1', () => {
  test('503 + Retry-After during the failover, never a 500; no acknowledged write lost', async () => {
    const env = { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500', REDIS_TIMEOUT_MS: '1000', JOURNAL_PARTITIONS: '16' }
    const a = await suite.app({ env })
    const b = await suite.app({ env, like: a })
    const stop = { now: false }
    const statuses = new Map<number, number>()
    const bad: string[] = []
    const writers = [a, b, a, b, a, b].map((x, id) => writer(x, id, 8, stop, statuses, bad))
    await Bun.sleep(1_000)
    const { cluster } = suite
    const victim = (await cluster.roles()).masters[0]!
    const killedAt = Date.now()
    await cluster.kill9(victim)
    // The replica takes over (node timeout 2 s + election); its shard has no replica then, so
    // its writes are 503 (WAIT 1 unmet) until the old master rejoins as its replica.
    await cluster.waitHealthy(30_000, 0)
    const failedOverMs = Date.now() - killedAt
    await cluster.restart(victim)
    await cluster.waitHealthy(30_000, 1)
    const healedMs = Date.now() - killedAt
    // Writes are acknowledged again on every shard.
    const before = statuses.get(200) ?? 0
    await waitFor('writes acknowledged again', 20_000, async () => (statuses.get(200) ?? 0) > before + 50)
    stop.now = true
    const logs = (await Promise.all(writers)).flat()
    console.log(`failover: replica promoted after ${failedOverMs} ms, old master back as replica after ${healedMs} ms; answers ${JSON.stringify(Object.fromEntries(statuses))}`)
    expect(bad).toEqual([])
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0)
    // Every acknowledged write is there: the value read is the last acknowledged one, or a later unacknowledged one.
    await expectAcknowledged(a, logs)
    // Invalidation survived the topology change: B's sharded subscriptions moved to the new
    // masters, so a write on A is not served stale by B, on every partition.
    for (const log of logs) expect((await b.app.req('GET', `/guid/${log.guid}`)).status).toBe(200)
    // (B's LRU is in use again, holding them: not bypassed, which would pass this trivially.)
    expect(b.app.runtime.lru.size).toBe(logs.length)
    for (const log of logs) expect((await a.app.req('POST', `/guid/${log.guid}`, { user: `after-${log.guid}` })).status).toBe(200)
    for (const log of logs) {
      await eventually(`B sees ${log.guid} changed`, async () => ((await (await b.app.req('GET', `/guid/${log.guid}`)).json()) as { user: string }).user === `after-${log.guid}`, { timeoutMs: 2_000 })
    }
  }, 120_000)
})
