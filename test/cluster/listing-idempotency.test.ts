import { beforeEach, describe, expect, test } from 'bun:test'
import { clusterAppSuite } from '../support/cluster-app'
import { type IdempotencyTarget, idempotencyContract } from '../support/idempotency-contract'
import { freshUser, type ListingTarget, listingContract, listPage } from '../support/listing-contract'

/**
 * GET /guid?user= and Idempotency-Key in Redis Cluster mode, in-process: two instances on one
 * 3-master cluster (one key prefix, 64 partitions) and one store, writes to one and listings
 * and retries to the other. The listing's read barrier waits on every partition's stream; a
 * key's claim and answer live on the key's own slot, the answer kept right after the write.
 */

const suite = clusterAppSuite('listing and Idempotency-Key on a Redis Cluster')

describe.skipIf(!suite.enabled)('listing on a Redis Cluster, two instances', () => {
  let target: ListingTarget
  beforeEach(async () => {
    const a = await suite.app()
    const b = await suite.app({ like: a })
    target = { writer: a.app.req, reader: b.app.req }
  })
  listingContract(() => target, { count: 12 })

  test('the read barrier waits for every partition: writes across partitions, still in their journals, are listed once stored', async () => {
    const a = await suite.app({ env: { LIST_FLUSH_WAIT_MS: '10000' } })
    const b = await suite.app({ like: a, env: { LIST_FLUSH_WAIT_MS: '10000' } })
    const user = freshUser()
    a.store.writesDown = true
    const guids: string[] = []
    for (let i = 0; i < 8; i++) guids.push(((await (await a.app.req('POST', '/guid', { user })).json()) as { guid: string }).guid)
    expect(new Set(guids.map((g) => a.keys.partitionOf(g))).size).toBeGreaterThan(1)
    const listing = listPage(b.app.req, user)
    await Bun.sleep(150)
    a.store.writesDown = false
    expect((await listing).items.map((i) => i.guid)).toEqual([...guids].sort())
  })
})

describe.skipIf(!suite.enabled)('Idempotency-Key on a Redis Cluster, two instances', () => {
  let target: IdempotencyTarget
  beforeEach(async () => {
    const a = await suite.app()
    const b = await suite.app({ like: a })
    target = { a: a.app.req, b: b.app.req }
  })
  idempotencyContract(() => target)
})
