import { beforeEach, describe, expect, test } from 'bun:test'
import { RedisIdempotency } from '../../src/adapters/redis/idempotency'
import { clusterAppSuite } from '../support/cluster-app'
import { type IdempotencyTarget, idempotencyContract } from '../support/idempotency-contract'
import { freshUser, type ListingTarget, listingContract, listPage } from '../support/listing-contract'

/**
 * GET /guid?user= and Idempotency-Key in Redis Cluster mode, in-process: two instances on one
 * 3-master cluster (one key prefix, 64 partitions) and one store, writes to one and listings
 * and retries to the other. The listing's read barrier waits on every partition's stream; a
 * key's claim and answer live in the partition of the key's own hash, and the write's script
 * keeps the answer when its GUID is there too (always for a create without a GUID).
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

  test('a create whose instance dies between its write and keeping its answer: the retry on the other instance replays it, no second GUID', async () => {
    const a = await suite.app()
    const b = await suite.app({ like: a })
    const key = `crash-${crypto.randomUUID()}`
    // As if the instance died right after the write: keeping the answer on its own never happens.
    const complete = RedisIdempotency.prototype.complete
    RedisIdempotency.prototype.complete = async () => {
      throw new Error('the instance died before keeping the answer')
    }
    let first: Response
    try {
      first = await a.app.req('POST', '/guid', { user: 'crash' }, { 'idempotency-key': `"${key}"` })
    } finally {
      RedisIdempotency.prototype.complete = complete
    }
    expect(first.status).toBe(201)
    const { guid } = (await first.json()) as { guid: string }
    // The dead instance's claim runs out with its lease; a kept answer stays.
    const record = a.keys.idempotency(`-:${key}`)
    if ((await suite.client.get(record))?.startsWith('F:')) await suite.client.del(record)
    const retry = await b.app.req('POST', '/guid', { user: 'crash' }, { 'idempotency-key': `"${key}"` })
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(((await retry.json()) as { guid: string }).guid).toBe(guid)
    expect(a.keys.partitionOf(guid)).toBe(a.keys.idempotencyPartition(`-:${key}`))
  })
})
