import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MongoClient } from 'mongodb'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { startGuidd, urlOf } from '../support/guidd-process'
import type { Started } from '../support/process'
import { etagVersion, send } from '../support/requests'

/**
 * MongoDB-only mode, two instances on one database (one FerretDB), over real HTTP with no
 * load balancer: every request goes to a chosen instance. MongoDB decides every race (an
 * If-Match race through both: exactly one wins), and with no invalidation between them an
 * instance serves another's write within the LRU entry lifetime (measured here).
 */

const DB = 'guidd_mongo_only_scale'

/** The documented bound: LRU_TTL_MS's default in this mode. */
const LRU_TTL_MS = 1_000
/** What a measured delay may add to the bound: the poll interval, a request's round trip, a busy 2-core machine. */
const MARGIN_MS = 500
const ROUNDS = 20
const POLL_MS = 5

const enabled = ferretdbSuites('MongoDB-only mode, two instances')
let ferret: TestFerretdb
const servers: Started[] = []
let A: string
let B: string

beforeAll(async () => {
  if (!enabled) return
  ferret = await startFerretdb()
  const env = { MONGODB_URL: ferret.url, MONGODB_DB: DB, REDIS_URL: '', LRU_TTL_MS: '', API_KEYS: '', LOG_LEVEL: 'warn', HOST: '127.0.0.1' }
  const started = await Promise.all(['A', 'B'].map((name) => startGuidd({ name: `guidd ${name} (mongodb-only)`, env, started: servers, ready: '/readyz' })))
  ;[A, B] = started.map(urlOf) as [string, string]
  // The first run on a machine builds FerretDB (scripts/ferretdb; .ci/run starts that build early).
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)

afterAll(async () => {
  if (!enabled) return
  for (const s of servers) await s.stop(2_000)
  await ferret?.dispose()
})

/** GETs `guid` from `base` until its ETag names `version`; the ms from `since` to that answer. */
const pollUntil = async (base: string, guid: string, version: number, since: number): Promise<number> => {
  const deadline = since + LRU_TTL_MS * 5
  for (;;) {
    const res = await send(base, 'GET', `/guid/${guid}`)
    await res.arrayBuffer()
    if (res.status === 200 && etagVersion(res) === version) return performance.now() - since
    if (performance.now() > deadline) throw new Error(`${base} still answers ${res.status} ${res.headers.get('etag')} ${deadline - since} ms after the write of ${version}`)
    await Bun.sleep(POLL_MS)
  }
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

describe.if(enabled)('MongoDB-only mode, two instances on one database', () => {
  test('an If-Match race through both instances: exactly one wins, the other is 412', async () => {
    const guid = 'C0000000000000000000000000000001'
    const created = await send(A, 'POST', '/guid', { guid, user: 'start' })
    expect(created.status).toBe(201)
    let version = etagVersion(created)
    let winner = 'start'
    for (let round = 0; round < 20; round++) {
      // Both instances must know the current version, or the stale one answers 412 from its
      // own memory without reaching MongoDB: wait until each serves it.
      const now = performance.now()
      await Promise.all([pollUntil(A, guid, version, now), pollUntil(B, guid, version, now)])
      // Three requests per instance, all with the same If-Match.
      const racers = [A, B, A, B, A, B].map((base, i) => ({ base, user: `r${round}-${i}` }))
      const answers = await Promise.all(racers.map(({ base, user }) => send(base, 'PATCH', `/guid/${guid}`, { user }, { 'if-match': `"${version}"` })))
      const statuses = answers.map((r) => r.status)
      const won = answers.flatMap((r, i) => (r.status === 200 ? [i] : []))
      expect({ round, statuses: statuses.toSorted() }).toEqual({ round, statuses: [200, 412, 412, 412, 412, 412] })
      const winning = answers[won[0]!]!
      expect(etagVersion(winning)).toBe(version + 1)
      version = etagVersion(winning)
      winner = racers[won[0]!]!.user
      await Promise.all(answers.map((r) => r.arrayBuffer()))
    }
    // MongoDB holds the last winner's write, and nothing else won.
    const client = new MongoClient(ferret.url)
    try {
      const doc = await client.db(DB).collection<{ _id: string }>('guids').findOne({ _id: guid })
      expect(doc).toMatchObject({ _id: guid, user: winner, version })
    } finally {
      await client.close()
    }
  }, 60_000)

  test('a create race through both instances: exactly one 201, the other 409', async () => {
    for (let round = 0; round < 20; round++) {
      const guid = `C1000000000000000000000000000${round.toString(16).padStart(3, '0')}`.toUpperCase()
      const answers = await Promise.all([A, B].map((base, i) => send(base, 'POST', '/guid', { guid, user: `c${i}` })))
      expect(answers.map((r) => r.status).toSorted()).toEqual([201, 409])
      await Promise.all(answers.map((r) => r.arrayBuffer()))
    }
  }, 30_000)

  test(`an instance serves another's write within the LRU lifetime (${LRU_TTL_MS} ms)`, async () => {
    const guid = 'C0000000000000000000000000000002'
    const created = await send(A, 'POST', '/guid', { guid, user: 'v0' })
    expect(created.status).toBe(201)
    let version = etagVersion(created)
    await pollUntil(B, guid, version, performance.now())
    const delays: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      // B reads (its LRU keeps the GUID for LRU_TTL_MS from when it loaded it), then A writes
      // at a random moment of that lifetime: the worst case is a write just after B's load.
      const read = await send(B, 'GET', `/guid/${guid}`)
      await read.arrayBuffer()
      await Bun.sleep(Math.floor(Math.random() * (LRU_TTL_MS * 0.9)))
      const written = await send(A, 'PATCH', `/guid/${guid}`, { user: `v${round + 1}` }, { 'if-match': `"${version}"` })
      expect(written.status).toBe(200)
      await written.arrayBuffer()
      const acked = performance.now()
      version = etagVersion(written)
      delays.push(await pollUntil(B, guid, version, acked))
    }
    const sorted = delays.toSorted((x, y) => x - y)
    const p50 = percentile(sorted, 50)
    const max = sorted.at(-1)!
    console.log(
      `MongoDB-only staleness across instances over ${ROUNDS} writes: p50 ${p50.toFixed(1)} ms, p90 ${percentile(sorted, 90).toFixed(1)} ms, max ${max.toFixed(1)} ms (bound ${LRU_TTL_MS} ms + ${MARGIN_MS} ms margin)`,
    )
    expect(max).toBeLessThanOrEqual(LRU_TTL_MS + MARGIN_MS)
  }, 90_000)

  test('the LRU does serve within its lifetime (the bound is the LRU, not no cache at all)', async () => {
    const guid = 'C0000000000000000000000000000003'
    const created = await send(A, 'POST', '/guid', { guid, user: 'v0' })
    const v1 = etagVersion(created)
    await pollUntil(B, guid, v1, performance.now())
    const written = await send(A, 'PATCH', `/guid/${guid}`, { user: 'v1' }, { 'if-match': `"${v1}"` })
    expect(written.status).toBe(200)
    // Right after A's write, B still answers from memory the version it loaded just before.
    const stale = await send(B, 'GET', `/guid/${guid}`)
    expect(etagVersion(stale)).toBe(v1)
    await stale.arrayBuffer()
  }, 30_000)
})
