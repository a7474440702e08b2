import { beforeEach, describe, expect, test } from 'bun:test'
import { RedisIdempotency } from '../../src/adapters/redis/idempotency'
import { JOURNAL_WRITE_BATCH, JOURNAL_WRITE_BATCH_SHARDED, Script } from '../../src/adapters/redis/scripts'
import { generateGuid } from '../../src/domain/normalise'
import { type ClusterApp, clusterAppSuite } from '../support/cluster-app'
import { expectProblem } from '../support/http'
import { type IdempotencyTarget, idempotencyContract } from '../support/idempotency-contract'
import { freshUser, type ListingTarget, listingContract, listingWakesBackoff, listPage } from '../support/listing-contract'

/**
 * GET /guid?user= and Idempotency-Key in Redis Cluster mode, in-process: two instances on one
 * 3-master cluster (one key prefix, 64 partitions) and one store, writes to one and listings
 * and retries to the other. The listing's read barrier waits on every partition's stream; a
 * key's claim and answer live in the partition of the key's own hash, and the write's script
 * keeps the answer when its GUID is there too (always for a create without a GUID); a write
 * naming a GUID in another partition keeps a copy of its answer beside the GUID, which a retry
 * finds when the answer never reached the key's record.
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

  test('a listing wakes the flusher backing off after a store failure: once the store is back, it does not wait out the backoff', async () => {
    await listingWakesBackoff((flusherBackoffMs) => suite.app({ env: { LIST_FLUSH_WAIT_MS: '2000' }, flusherBackoffMs }))
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

/** The kept-answer step never happens, as if the instance died right after the write (the write's own script ran). */
const dyingAfterTheWrite = async <T>(run: () => Promise<T>): Promise<T> => {
  const complete = RedisIdempotency.prototype.complete
  RedisIdempotency.prototype.complete = async () => {
    throw new Error('the instance died before keeping the answer')
  }
  try {
    return await run()
  } finally {
    RedisIdempotency.prototype.complete = complete
  }
}

/** An existing GUID, and a fresh key whose record lives in another partition than the GUID's. */
const guidAndForeignKey = async (a: ClusterApp): Promise<{ guid: string; key: string; etag: string }> => {
  const created = await a.app.req('POST', '/guid', { user: 'foreign' })
  expect(created.status).toBe(201)
  const { guid } = (await created.json()) as { guid: string }
  for (;;) {
    const key = `foreign-${crypto.randomUUID()}`
    if (a.keys.idempotencyPartition(`-:${key}`) !== a.keys.partitionOf(guid)) return { guid, key, etag: created.headers.get('etag')! }
  }
}

/** How long a claim holds in these tests (REQUEST_TIMEOUT_MS + 1 s: runtime/modes/idempotency-lease.ts). */
const LEASE_ENV = { REQUEST_TIMEOUT_MS: '2000' }
const LEASE_MS = 3000

describe.skipIf(!suite.enabled)("Idempotency-Key on a Redis Cluster: a write naming a GUID outside the key's partition", () => {
  const writes: Array<{ name: string; send: (a: ClusterApp['app']['req'], guid: string, key: string) => Promise<Response>; status: number }> = [
    { name: 'PATCH', send: (req, guid, key) => req('PATCH', `/guid/${guid}`, { user: 'patched' }, { 'idempotency-key': `"${key}"` }), status: 200 },
    { name: 'POST /guid/{guid}', send: (req, guid, key) => req('POST', `/guid/${guid}`, { user: 'upserted' }, { 'idempotency-key': `"${key}"` }), status: 200 },
    { name: 'DELETE', send: (req, guid, key) => req('DELETE', `/guid/${guid}`, undefined, { 'idempotency-key': `"${key}"` }), status: 204 },
  ]
  for (const w of writes) {
    test(`${w.name} whose instance dies between its write and keeping its answer, its claim lost: the retry on the other instance replays it, no second effect`, async () => {
      const a = await suite.app({ env: LEASE_ENV })
      const b = await suite.app({ like: a, env: LEASE_ENV })
      const { guid, key, etag } = await guidAndForeignKey(a)
      const first = await dyingAfterTheWrite(() => w.send(a.app.req, guid, key))
      expect(first.status).toBe(w.status)
      const after = w.status === 204 ? null : first.headers.get('etag')
      // The claim is gone (its lease ran out where it lives by its lease, or its node lost it).
      const record = a.keys.idempotency(`-:${key}`)
      if ((await suite.client.get(record))?.startsWith('F:')) await suite.client.del(record)
      const retry = await w.send(b.app.req, guid, key)
      expect(retry.status).toBe(w.status)
      expect(retry.headers.get('idempotent-replayed')).toBe('true')
      expect(retry.headers.get('etag')).toBe(after)
      // One effect: the GUID is still at the version the first request made (or deleted once).
      const read = await b.app.req('GET', `/guid/${guid}`)
      if (w.status === 204) expect(read.status).toBe(404)
      else expect({ status: read.status, etag: read.headers.get('etag') }).toEqual({ status: 200, etag: after })
      expect(read.headers.get('etag')).not.toBe(etag)
    })
  }

  test('POST /guid naming a new GUID in its body, whose instance dies between its write and keeping its answer: the retry replays it', async () => {
    const a = await suite.app({ env: LEASE_ENV })
    const b = await suite.app({ like: a, env: LEASE_ENV })
    const key = `foreign-create-${crypto.randomUUID()}`
    let guid: string
    do guid = crypto.randomUUID().replaceAll('-', '').toUpperCase()
    while (a.keys.partitionOf(guid) === a.keys.idempotencyPartition(`-:${key}`))
    const create = (req: ClusterApp['app']['req']) => req('POST', '/guid', { guid, user: 'named' }, { 'idempotency-key': `"${key}"` })
    const first = await dyingAfterTheWrite(() => create(a.app.req))
    expect(first.status).toBe(201)
    a.clock.advance(LEASE_MS + 1)
    const retry = await create(b.app.req)
    // Run again, it would be 409 guid-exists.
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.headers.get('etag')).toBe(first.headers.get('etag'))
  })

  test("after the dead instance's lease runs out, the retry is replayed; before, 409; the key on another GUID or with another body is 422", async () => {
    const a = await suite.app({ env: LEASE_ENV })
    const b = await suite.app({ like: a, env: LEASE_ENV })
    const { guid, key } = await guidAndForeignKey(a)
    const patch = (req: ClusterApp['app']['req'], body: unknown, target = guid) => req('PATCH', `/guid/${target}`, body, { 'idempotency-key': `"${key}"` })
    const first = await dyingAfterTheWrite(() => patch(a.app.req, { user: 'once' }))
    expect(first.status).toBe(200)
    await expectProblem(await patch(b.app.req, { user: 'once' }), 409, 'idempotency-key-in-flight')
    a.clock.advance(LEASE_MS + 1)
    const other = ((await (await b.app.req('POST', '/guid', { user: 'other' })).json()) as { guid: string }).guid
    await expectProblem(await patch(b.app.req, { user: 'once' }, other), 422, 'idempotency-key-reused')
    await expectProblem(await patch(b.app.req, { user: 'twice' }), 422, 'idempotency-key-reused')
    const retry = await patch(b.app.req, { user: 'once' })
    expect(retry.status).toBe(200)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.headers.get('etag')).toBe(first.headers.get('etag'))
    // The answer is now at the key's record: replayed again by the first instance too, another GUID still 422.
    const again = await patch(a.app.req, { user: 'once' })
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    await expectProblem(await patch(a.app.req, { user: 'once' }, other), 422, 'idempotency-key-reused')
    expect((await b.app.req('GET', `/guid/${guid}`)).headers.get('etag')).toBe(first.headers.get('etag'))
  })

  test('the same keyed PATCH sent to two instances at once has one effect', async () => {
    const a = await suite.app()
    const b = await suite.app({ like: a })
    for (let round = 0; round < 5; round++) {
      const { guid, key, etag } = await guidAndForeignKey(a)
      const send = (req: ClusterApp['app']['req']) => req('PATCH', `/guid/${guid}`, { user: 'raced' }, { 'idempotency-key': `"${key}"`, 'if-match': etag })
      const answers = await Promise.all([send(a.app.req), send(b.app.req)])
      const statuses = answers.map((r) => r.status).sort()
      // One ran; the other saw it in flight (409) or replayed its answer (200, replayed); never a 412 from running twice.
      expect([
        [200, 200],
        [200, 409],
      ]).toContainEqual(statuses)
      const ran = answers.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null)
      expect(ran).toHaveLength(1)
      expect((await a.app.req('GET', `/guid/${guid}`)).headers.get('etag')).toBe(ran[0]!.headers.get('etag'))
    }
  })
})

describe.skipIf(!suite.enabled)('Idempotency-Key on a Redis Cluster: a keyed write answered 503 after its write', () => {
  /**
   * Found by the linearizability suite (test/linearizability/histories/keyed-retry-after-replication-503-cluster.json):
   * a keyed write whose journal script ran but whose caller got a 503 (the replica's WAIT timed
   * out, or the script's reply was lost) had its claim released, and where its answer was to be
   * kept in another partition than its GUID's, a retry under the key ran it again.
   */
  const lostReply = async <T>(run: () => Promise<T>): Promise<T> => {
    const journal = new Set([new Script(JOURNAL_WRITE_BATCH).sha, new Script(JOURNAL_WRITE_BATCH_SHARDED).sha])
    const original = Script.prototype.run
    Script.prototype.run = async function (this: Script, ...args: Parameters<Script['run']>) {
      const reply = await original.apply(this, args)
      if (journal.has(this.sha)) throw new Error('the reply was lost after the script ran')
      return reply
    }
    try {
      return await run()
    } finally {
      Script.prototype.run = original
    }
  }

  for (const [name, method, body] of [
    ['PATCH', 'PATCH', { user: 'patched' }],
    ['POST /guid/{guid}', 'POST', { user: 'upserted' }],
  ] as const) {
    test(`a keyed ${name} of a GUID in another partition than its key, answered 503 after its write: the retry replays its answer, no second version`, async () => {
      const a = await suite.app()
      const b = await suite.app({ like: a })
      const key = `"lost-${crypto.randomUUID()}"`
      let guid = generateGuid()
      while (a.keys.partitionOf(guid) === a.keys.idempotencyPartition(`-:${key}`)) guid = generateGuid()
      const created = await a.app.req('POST', '/guid', { guid, user: 'first' })
      expect(created.status).toBe(201)
      const first = await lostReply(() => a.app.req(method, `/guid/${guid}`, body, { 'idempotency-key': key }))
      expect(first.status).toBe(503)
      const written = await b.app.req('GET', `/guid/${guid}`)
      expect(((await written.json()) as { user: string }).user).toBe(body.user)
      const retry = await b.app.req(method, `/guid/${guid}`, body, { 'idempotency-key': key })
      expect(retry.status).toBe(200)
      expect(retry.headers.get('idempotent-replayed')).toBe('true')
      expect(retry.headers.get('etag')).toBe(written.headers.get('etag'))
      expect((await b.app.req('GET', `/guid/${guid}`)).headers.get('etag')).toBe(written.headers.get('etag'))
    })
  }

  test('a keyed POST /guid naming its GUID in the body, in another partition than its key, answered 503 after its write: the retry replays its 201', async () => {
    const a = await suite.app()
    const b = await suite.app({ like: a })
    const key = `"lost-${crypto.randomUUID()}"`
    let guid = generateGuid()
    while (a.keys.partitionOf(guid) === a.keys.idempotencyPartition(`-:${key}`)) guid = generateGuid()
    const first = await lostReply(() => a.app.req('POST', '/guid', { guid, user: 'made' }, { 'idempotency-key': key }))
    expect(first.status).toBe(503)
    const retry = await b.app.req('POST', '/guid', { guid, user: 'made' }, { 'idempotency-key': key })
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.headers.get('etag')).toBe((await b.app.req('GET', `/guid/${guid}`)).headers.get('etag'))
  })
})
