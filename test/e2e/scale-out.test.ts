import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Started } from '../support/process'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'
import { isFirstVersion } from '../support/versions'
import { startGuidd } from '../support/guidd-process'

/**
 * SPEC §5 scale-out, over real HTTP: three server processes on one Redis (one key prefix),
 * no load balancer, so every test sends each request to a chosen instance, the worst case
 * for LRUs the hash routing would keep warm.
 *
 * Each instance has a SQLite file of its own as the flusher's store. In production they
 * would share one MongoDB; here each instance's flusher writes the journal entries it
 * happens to read into its own file, so no single file holds everything. That is fine for
 * these tests: every read they make is answered by the LRU or by Redis, which every
 * instance shares and which holds every acknowledged write (its keys expire with the
 * records, days from now), and (d) checks the journal drains, not what the files hold.
 */

/** Rounds of the invalidation-delay measurement (one write, two remote readers each). */
const ROUNDS = 200
/** A sanity bound on the invalidation delay: no timed assertion is finer than this. */
const DELAY_BOUND_MS = 1_000
/** How long a poll for a state that must appear may run. */
const POLL_MS = 2_000
/** Contention: clients per instance, and successful updates each must make. */
const CLIENTS_PER_INSTANCE = 4
const UPDATES_PER_CLIENT = 25

const enabled = redisSuites('scale-out end-to-end')
let redis: TestRedis
let dir: string
const servers: Started[] = []
const bases: string[] = []

beforeAll(async () => {
  if (!enabled) return
  redis = await startRedis()
  dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-scale-'))
  const prefix = redis.prefix()
  const started = await Promise.all(
    ['A', 'B', 'C'].map((name) =>
      startGuidd({
        name: `guidd ${name}`,
        started: servers,
        ready: '/readyz',
        env: {
          REDIS_URL: redis.url,
          REDIS_PREFIX: prefix,
          SQLITE_PATH: join(dir, `${name}.sqlite`),
          FLUSH_INTERVAL_MS: '20',
          LOG_LEVEL: 'warn',
          HOST: '127.0.0.1',
          // Empty is unset: none of the runner's own settings leak in.
          MONGODB_URL: '',
          API_KEYS: '',
        },
      }),
    ),
  )
  bases.push(...started.map((s) => s.base))
}, 30_000)

afterAll(async () => {
  if (!enabled) return
  for (const s of servers) await s.stop(2_000)
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
})

interface Answer {
  status: number
  /** The version the ETag names, or null. */
  version: number | null
  body: { guid?: string; user?: string; expire?: number } | null
  /** performance.now() when the whole answer had arrived. */
  at: number
}

const send = async (instance: number, method: string, path: string, body?: object, headers: Record<string, string> = {}): Promise<Answer> => {
  const init: RequestInit = { method, headers: { ...headers }, signal: AbortSignal.timeout(5_000) }
  if (body !== undefined) {
    init.body = JSON.stringify(body)
    init.headers = { ...headers, 'content-type': 'application/json' }
  }
  let res: Response
  try {
    res = await fetch(bases[instance]! + path, init)
  } catch (error) {
    const s = servers[instance]!
    const state = s.proc.exitCode !== null || s.proc.signalCode !== null ? `exited (${s.proc.exitCode ?? s.proc.signalCode})` : 'running'
    throw new Error(`${method} ${path} on instance ${'ABC'[instance]} (${state}) failed: ${error}\n${s.output()}`)
  }
  const text = await res.text()
  const etag = /^"(\d+)"$/.exec(res.headers.get('etag') ?? '')
  return { status: res.status, version: etag ? Number(etag[1]) : null, body: text === '' ? null : JSON.parse(text), at: performance.now() }
}

/**
 * GETs until `done` holds, bounded by POLL_MS; returns the answer that satisfied it (with
 * how many answers before it did not), or throws with the last one.
 */
const pollUntil = async (instance: number, path: string, done: (a: Answer) => boolean): Promise<Answer & { before: number }> => {
  const deadline = performance.now() + POLL_MS
  for (let before = 0; ; before++) {
    const a = await send(instance, 'GET', path)
    if (done(a)) return { ...a, before }
    if (performance.now() > deadline) throw new Error(`instance ${'ABC'[instance]}: ${path} still answers ${a.status} ETag ${a.version} ${JSON.stringify(a.body)} after ${POLL_MS} ms`)
  }
}

const metric = async (instance: number, name: string): Promise<number> => {
  const text = await (await fetch(`${bases[instance]}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}

/** Nearest-rank percentile of sorted samples. */
const percentile = (sorted: number[], p: number): number => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!

const ms = (x: number) => x.toFixed(2)

/** Journal entries written by the tests, for (d): each must be flushed exactly once. */
let mutations = 0

describe.skipIf(!enabled)('three instances on one Redis', () => {
  test('(a) a write on one instance is seen by the others within the invalidation delay', async () => {
    const created = await send(0, 'POST', '/guid', { user: 'round-0' })
    expect(created.status).toBe(201)
    mutations++
    const path = `/guid/${created.body!.guid}`
    let version = created.version!
    const delays: number[] = []
    /** Reads after the writer's 200 that still answered the previous version. */
    let staleReads = 0
    for (let round = 1; round <= ROUNDS; round++) {
      // The writer rotates, so every instance is both writer and reader.
      const writer = round % 3
      const readers = [0, 1, 2].filter((i) => i !== writer)
      // Warm the readers' LRUs (the first read may fill from Redis, the second is served from
      // memory); both must already serve the current version, never an older one.
      for (let k = 0; k < 2; k++) {
        for (const r of await Promise.all(readers.map((i) => send(i, 'GET', path)))) {
          expect(r.status).toBe(200)
          expect(r.version).toBe(version)
        }
      }
      const patched = await send(writer, 'PATCH', path, { user: `round-${round}` }, { 'if-match': `"${version}"` })
      expect(patched.status).toBe(200)
      expect(patched.version).toBe(version + 1)
      mutations++
      version++
      const seen = await Promise.all(readers.map((i) => pollUntil(i, path, (a) => a.version === version)))
      for (const a of seen) {
        expect(a.status).toBe(200)
        expect(a.body).toEqual({ guid: created.body!.guid!, user: `round-${round}`, expire: created.body!.expire! })
        delays.push(a.at - patched.at)
        staleReads += a.before
      }
    }
    const sorted = delays.toSorted((x, y) => x - y)
    const max = sorted[sorted.length - 1]!
    // From the writer's 200 to a reader's first answer carrying the new ETag; it includes the
    // round trip of that polling GET.
    console.log(
      `invalidation delay over ${ROUNDS} writes (${delays.length} remote reads): p50 ${ms(percentile(sorted, 0.5))} ms, p99 ${ms(percentile(sorted, 0.99))} ms, max ${ms(max)} ms; ${staleReads} reads after the 200 still served the previous version`,
    )
    expect(max).toBeLessThan(DELAY_BOUND_MS)
    // The readers' copies were dropped by invalidations from the other instances, not by chance.
    for (const i of [0, 1, 2]) expect(await metric(i, 'guidd_lru_invalidations_total')).toBeGreaterThan(0)
  }, 20_000)

  test('(a2) a read racing a write on another instance leaves no stale copy behind', async () => {
    // Fresh GUIDs, so the readers' LRUs start empty: each read loads from Redis and fills its
    // LRU while the write (and its invalidation) may land in between. Whichever way each race
    // goes, once the writes are acknowledged every instance must serve them within the delay:
    // a fill that loaded the old version must not outlive the invalidation that came before it.
    // The race is won or lost by microseconds, so rounds go on until one leaves a stale copy
    // behind (when the LRU takes such fills, most rounds here leave several) or none did.
    const GUIDS = 50
    const ROUNDS_MAX = 20
    const failures: string[] = []
    for (let round = 0; round < ROUNDS_MAX && failures.length === 0; round++) {
      const created = await Promise.all(Array.from({ length: GUIDS }, () => send(0, 'POST', '/guid', { user: `race-${round}` })))
      for (const c of created) expect(c.status).toBe(201)
      mutations += GUIDS
      const paths = created.map((c) => `/guid/${c.body!.guid}`)
      await Promise.all(
        paths.map(async (path) => {
          // A few reads per reader, so some reach Redis just before the write and some just after.
          const reads = [1, 2].flatMap((i) => Array.from({ length: 3 }, () => send(i, 'GET', path)))
          const [patched] = await Promise.all([send(0, 'PATCH', path, { user: `raced-${round}` }), ...reads])
          expect(patched.status).toBe(200)
          mutations++
        }),
      )
      // Each GUID's PATCH made the version after its create's.
      const settled = await Promise.allSettled(paths.flatMap((path, g) => [1, 2].map((i) => pollUntil(i, path, (a) => a.version === created[g]!.version! + 1))))
      for (const s of settled) if (s.status === 'rejected') failures.push(String((s.reason as Error).message))
    }
    expect(failures).toEqual([])
  }, 20_000)

  test('(b) concurrent If-Match PATCHes to one GUID through different instances never lose an update', async () => {
    const created = await send(0, 'POST', '/guid', { user: 'contended' })
    expect(created.status).toBe(201)
    mutations++
    const guid = created.body!.guid!
    const path = `/guid/${guid}`
    const initial = created.version!

    interface Ack {
      client: number
      version: number
      user: string
    }
    const acks: Ack[] = []
    const failures: string[] = []
    let conflicts = 0
    const deadline = performance.now() + 15_000

    const client = async (c: number): Promise<void> => {
      const instance = c % 3
      for (let n = 0; n < UPDATES_PER_CLIENT; ) {
        if (performance.now() > deadline) return void failures.push(`client ${c}: only ${n} updates before the deadline`)
        const got = await send(instance, 'GET', path)
        if (got.status !== 200 || got.version === null) return void failures.push(`client ${c}: GET answered ${got.status}`)
        const user = `client-${c}-update-${n}`
        const res = await send(instance, 'PATCH', path, { user }, { 'if-match': `"${got.version}"` })
        if (res.status === 412) {
          conflicts++
          continue
        }
        if (res.status !== 200 || res.version === null) return void failures.push(`client ${c}: PATCH answered ${res.status} ${JSON.stringify(res.body)}`)
        if (res.body?.user !== user || res.body.guid !== guid) failures.push(`client ${c}: PATCH answered ${JSON.stringify(res.body)} for user ${user}`)
        // If-Match held, so the update is the very next version after the one the client read.
        if (res.version !== got.version + 1) failures.push(`client ${c}: If-Match "${got.version}" acknowledged as version ${res.version}`)
        acks.push({ client: c, version: res.version, user })
        n++
      }
    }
    const clients = CLIENTS_PER_INSTANCE * 3
    await Promise.all(Array.from({ length: clients }, (_, c) => client(c)))
    expect(failures).toEqual([])
    mutations += acks.length

    // Every acknowledged update has a version of its own, and each client's grow in the order acknowledged.
    expect(new Set(acks.map((a) => a.version)).size).toBe(acks.length)
    for (let c = 0; c < clients; c++) {
      const mine = acks.filter((a) => a.client === c).map((a) => a.version)
      expect(mine).toHaveLength(UPDATES_PER_CLIENT)
      expect(mine).toEqual(mine.toSorted((x, y) => x - y))
    }
    // None lost, none counted twice: the version moved exactly once per acknowledged update.
    const final = await send(0, 'GET', path)
    expect(final.status).toBe(200)
    expect(final.version! - initial).toBe(acks.length)
    const last = acks.reduce((a, b) => (b.version > a.version ? b : a))
    expect(last.version).toBe(final.version!)
    expect(final.body).toEqual({ guid, user: last.user, expire: created.body!.expire! })
    // And every instance converges on it (within the invalidation delay), whatever its LRU held.
    for (const i of [1, 2]) {
      const a = await pollUntil(i, path, (x) => x.version === final.version)
      expect(a.body).toEqual(final.body)
    }
    console.log(`contention: ${acks.length} If-Match updates by ${clients} clients on 3 instances, ${conflicts} answered 412 and retried; none lost`)
  }, 20_000)

  test('(c) a delete is seen by every instance, and a re-create anywhere takes a version above every earlier one', async () => {
    const seconds = () => Math.floor(Date.now() / 1000)
    const sent = seconds()
    const created = await send(0, 'POST', '/guid', { user: 'to be deleted' })
    expect(created.status).toBe(201)
    const v1 = created.version!
    expect(isFirstVersion(v1, 0, sent, seconds())).toBe(true)
    mutations++
    const guid = created.body!.guid!
    const path = `/guid/${guid}`
    for (const i of [1, 2]) {
      for (let k = 0; k < 2; k++) {
        const r = await send(i, 'GET', path)
        expect(r.status).toBe(200)
        expect(r.version).toBe(v1)
      }
    }
    const deleted = await send(1, 'DELETE', path, undefined, { 'if-match': `"${v1}"` })
    expect(deleted.status).toBe(204)
    mutations++
    for (const i of [0, 2]) {
      const gone = await pollUntil(i, path, (a) => a.status !== 200)
      expect(gone.status).toBe(404)
      expect(gone.at - deleted.at).toBeLessThan(DELAY_BOUND_MS)
    }
    // The tombstone holds v1 + 1: a re-create on another instance continues from it, or from
    // its creation second's floor if that is higher (docs/api.md: an ETag a client kept never
    // matches a different record).
    const tombstone = v1 + 1
    const resent = seconds()
    const again = await send(2, 'POST', '/guid', { guid, user: 'created again' })
    expect(again.status).toBe(201)
    expect(isFirstVersion(again.version!, tombstone, resent, seconds())).toBe(true)
    expect(again.version!).toBeGreaterThan(tombstone)
    mutations++
    for (const i of [0, 1]) {
      const back = await pollUntil(i, path, (a) => a.status === 200)
      expect(back.version).toBe(again.version)
      expect(back.body).toMatchObject({ guid, user: 'created again' })
      expect(back.at - again.at).toBeLessThan(DELAY_BOUND_MS)
    }
    // An If-Match from before the delete matches nothing now.
    expect((await send(0, 'PATCH', path, { user: 'stale client' }, { 'if-match': `"${v1}"` })).status).toBe(412)
  }, 10_000)

  test('(d) every instance sees the journal drain: each mutation flushed exactly once, none dead-lettered', async () => {
    const deadline = performance.now() + 10_000
    for (;;) {
      const lengths = await Promise.all([0, 1, 2].map((i) => metric(i, 'guidd_journal_length')))
      if (lengths.every((n) => n === 0)) break
      if (performance.now() > deadline) throw new Error(`the journal did not drain: guidd_journal_length ${lengths.join(', ')}`)
      await Bun.sleep(20)
    }
    // The instances share the journal's consumer group: between them they flushed every entry once.
    const flushed = await Promise.all([0, 1, 2].map((i) => metric(i, 'guidd_journal_flushed_total')))
    expect(flushed.reduce((a, b) => a + b, 0)).toBe(mutations)
    for (const i of [0, 1, 2]) expect(await metric(i, 'guidd_journal_dead_letters_total')).toBe(0)
    // Each stops cleanly, by its PID.
    for (const s of servers) expect(await s.stop(8_000)).toBe(0)
  }, 30_000)
})
