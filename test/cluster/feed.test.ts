import { describe, expect, test } from 'bun:test'
import { clusterAppSuite } from '../support/cluster-app'
import { feedContract, page } from '../support/feed-contract'
import { expectProblem } from '../support/http'

/**
 * The change feed in Redis Cluster mode, in-process: two instances on one 3-master, 3-replica
 * cluster (one key prefix, 64 partitions) and one store. Each partition's events stream is
 * appended by the journal's script; a position holds one stream id per partition.
 */

const suite = clusterAppSuite('change feed on a Redis Cluster')

describe.skipIf(!suite.enabled)('change feed on a Redis Cluster, two instances', () => {
  feedContract(async () => {
    const a = await suite.app()
    const b = await suite.app({ like: a })
    return { a: a.app, b: b.app }
  })

  test('a page merges every partition; resuming from any event of it on the other instance misses and repeats nothing', async () => {
    const a = await suite.app()
    const b = await suite.app({ like: a })
    const start = await page(a.app)
    const guids: string[] = []
    for (let i = 0; i < 12; i++) guids.push(((await (await (i % 2 ? a : b).app.req('POST', '/guid', { user: 'merged' })).json()) as { guid: string }).guid)
    expect(new Set(guids.map((g) => a.keys.partitionOf(g))).size).toBeGreaterThan(2)
    const all = (await page(a.app, `?after=${start.next}&limit=100`)).items
    expect(all.map((e) => e.guid).sort()).toEqual([...guids].sort())
    for (let i = 0; i < all.length; i++) {
      const rest = (await page(b.app, `?after=${all[i]!.id}&limit=100`)).items
      expect(rest.map((e) => e.guid)).toEqual(all.slice(i + 1).map((e) => e.guid))
    }
  })

  test('410 once a partition has been trimmed past a position; positions at or after every trim stay valid', async () => {
    const writer = await suite.app()
    const start = await page(writer.app)
    for (const user of ['a', 'b', 'c']) await writer.app.req('POST', '/guid', { user, guid: crypto.randomUUID().replaceAll('-', '').toUpperCase() })
    const events = (await page(writer.app, `?after=${start.next}`)).items
    expect(events).toHaveLength(3)
    // An entry id starts with its ms: trim at the newest event's instant.
    const partitions = [...new Set(events.map((e) => writer.keys.partition(writer.keys.partitionOf(e.guid)).events))]
    const newestIds = await Promise.all(partitions.map(async (key) => (await suite.client.xRevRange(key, '+', '-', { COUNT: 1 }))?.[0]?.id ?? '0-0'))
    const newest = Math.max(...newestIds.map((id) => Number(id.split('-')[0])))
    writer.app.clock.set(newest + 1 + writer.app.config.EVENTS_RETENTION_SECONDS * 1000)
    expect(await writer.app.runtime.feed!.hub.log.trim()).toBe(3)
    const { app } = await suite.app({ like: writer })
    await expectProblem(await app.req('GET', `/events?after=${start.next}`, undefined, { accept: 'application/json' }), 410, 'position-gone')
    await expectProblem(await app.req('GET', `/events?after=${events[1]!.id}`), 410, 'position-gone')
    expect((await page(app, `?after=${events[2]!.id}`)).items).toEqual([])
    await app.req('POST', '/guid', { user: 'd' })
    expect((await page(app, `?after=${events[2]!.id}`)).items.map((e) => e.type)).toEqual(['created'])
    expect((await page(app)).items.map((e) => e.record?.user)).toEqual(['d'])
  })

  test('a position of another partition count, or not a position, is refused', async () => {
    const { app } = await suite.app()
    for (const bad of ['0-0', '3_..', `64_${'.'.repeat(62)}x`])
      await expectProblem(await app.req('GET', `/events?after=${encodeURIComponent(bad)}`, undefined, { accept: 'application/json' }), 400, 'validation')
  })
})
