import { describe, expect, test } from 'bun:test'
import { clusterAppSuite } from '../support/cluster-app'
import { expectAcknowledged, writer } from '../support/cluster-load'
import { eventually } from '../support/eventually'

/**
 * Resharding under write load: the slots of two partitions moved to another master with
 * `redis-cli --cluster reshard` while two instances write. Keys in a slot being migrated are
 * redirected (ASK, MOVED; a script whose keys are split mid-migration gets TRYAGAIN): 503 at
 * worst, never a 500, and nothing acknowledged is lost; the moved journals drain into the store.
 */
const suite = clusterAppSuite('Redis Cluster resharding')

describe.skipIf(!suite.enabled)('resharding under write load', () => {
  test('moving the slots of two partitions to another master: no 500, nothing acknowledged lost, the journal drains', async () => {
    const env = { JOURNAL_PARTITIONS: '16' }
    const a = await suite.app({ env })
    const b = await suite.app({ env, like: a })
    const stop = { now: false }
    const statuses = new Map<number, number>()
    const bad: string[] = []
    const writers = [a, b, a, b].map((x, id) => writer(x, id, 16, stop, statuses, bad))
    await Bun.sleep(500)
    const { cluster } = suite
    const { keys } = a
    const slotOf = async (key: string) => Number(await suite.client.sendCommand(undefined, true, ['CLUSTER', 'KEYSLOT', key]))
    const partitionSlots = await Promise.all(Array.from({ length: keys.partitions }, (_, p) => slotOf(keys.partition(p).journal)))
    const [from, to] = (await cluster.roles()).masters
    // reshard takes the source's lowest slots first: move as many as reach its second-lowest
    // partition, so two partitions' journals move under load, and the run stays short.
    const [range] = await cluster.slotsOf(from!)
    const moved = partitionSlots.filter((s) => s >= range![0] && s <= range![1]).sort((x, y) => x - y)
    expect(moved.length).toBeGreaterThanOrEqual(2)
    const count = moved[1]! - range![0] + 1
    const id = async (port: number) => (await cluster.cli(['-p', String(port), 'cluster', 'myid'])).trim()
    const started = Date.now()
    await cluster.cli(
      ['--cluster', 'reshard', `127.0.0.1:${from!.port}`, '--cluster-from', await id(from!.port), '--cluster-to', await id(to!.port), '--cluster-slots', String(count), '--cluster-yes'],
      120_000,
    )
    const reshardMs = Date.now() - started
    await Bun.sleep(500)
    stop.now = true
    const logs = (await Promise.all(writers)).flat()
    console.log(`reshard: ${count} slots (2 partitions) moved in ${reshardMs} ms under load; answers ${JSON.stringify(Object.fromEntries(statuses))}`)
    expect(bad).toEqual([])
    for (const slot of moved.slice(0, 2)) expect((await cluster.masterOf(slot)).port).toBe(to!.port)
    expect((await cluster.cli(['-p', String(from!.port), 'cluster', 'info'])).includes('cluster_state:ok')).toBe(true)
    await expectAcknowledged(a, logs)
    const { store, clock } = a
    await eventually('the journal drains', async () => (await Promise.all(Array.from({ length: keys.partitions }, (_, p) => suite.client.xLen(keys.partition(p).journal)))).every((n) => n === 0), {
      timeoutMs: 10_000,
    })
    const now = clock.now() / 1000
    for (const log of logs) {
      if (log.acked === undefined) continue
      const stored = await store.inner.get(log.guid, now)
      expect([log.acked, ...log.uncertain]).toContain((stored as { user?: string } | null)?.user ?? 'missing')
    }
    // The moved partitions' channels moved too: B's sharded subscriptions followed them.
    expect(logs.some((log) => moved.slice(0, 2).includes(partitionSlots[keys.partitionOf(log.guid)]!))).toBe(true)
    for (const log of logs) expect((await b.app.req('GET', `/guid/${log.guid}`)).status).toBe(200)
    expect(b.app.runtime.lru.size).toBe(logs.length)
    for (const log of logs) expect((await a.app.req('POST', `/guid/${log.guid}`, { user: `after-${log.guid}` })).status).toBe(200)
    for (const log of logs) {
      await eventually(`B sees ${log.guid} changed`, async () => ((await (await b.app.req('GET', `/guid/${log.guid}`)).json()) as { user: string }).user === `after-${log.guid}`, { timeoutMs: 2_000 })
    }
  }, 180_000)
})
