import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { eventually } from '../support/eventually'
import { startGuidd, urlOf } from '../support/guidd-process'
import { type Answered, docMismatch, metricValue, readDocs, waitJournalDrained } from '../support/mongo-docs'
import type { Started } from '../support/process'
import { redisMongoSuite } from '../support/redis-mongo'
import { etagVersion } from '../support/requests'

/**
 * Redis + MongoDB mode end to end, against a real MongoDB-wire server (a FerretDB of this
 * run's own) and a redis-server of its own: writes go over HTTP into the Redis journal, the
 * flusher moves them into MongoDB, and the documents are then read back with the driver
 * alone. Also a MongoDB outage under write load: writes keep being acknowledged into the
 * journal, which grows, and drains into MongoDB once it is back, losing nothing.
 */

const DRAIN_TIMEOUT_MS = 60_000

const suite = redisMongoSuite('Redis + MongoDB pipeline')

let dbs = 0
/** guidd in Redis + MongoDB mode on a fresh Redis prefix and database. */
const startServer = async (): Promise<{ server: Started; base: string; dbName: string }> => {
  const dbName = `guidd_e2e_${process.pid}_${Date.now().toString(36)}_${dbs++}`
  const server = await startGuidd({
    name: 'guidd (redis + mongodb)',
    env: {
      REDIS_URL: suite.redis.url,
      REDIS_PREFIX: suite.redis.prefix(),
      MONGODB_URL: suite.ferretdb.url,
      MONGODB_DB: dbName,
      FLUSH_INTERVAL_MS: '20',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      API_KEYS: '',
      // Unused in this mode; kept out of the working directory all the same.
      SQLITE_PATH: join(suite.dir, `${dbName}.sqlite`),
    },
    started: suite.started,
    ready: '/readyz',
  })
  return { server, base: urlOf(server), dbName }
}

const json = (method: string, body: object, headers: Record<string, string> = {}): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
  signal: AbortSignal.timeout(10_000),
})

const guidOf = (n: number) => `E0000000${n.toString(16).padStart(8, '0')}`.padEnd(32, '0').toUpperCase()

describe.skipIf(!suite.enabled)('Redis + MongoDB (FerretDB)', () => {
  test('every write goes Redis -> journal -> flusher -> MongoDB: records, versions, expiry and tombstones as the API answered', async () => {
    const { server, base, dbName } = await startServer()
    const nowSec = Math.floor(Date.now() / 1000)
    const answered = new Map<string, Answered>()
    const tombstones = new Map<string, number>()

    const record = async (guid: string, res: Response, status: number): Promise<void> => {
      expect(res.status).toBe(status)
      const body = (await res.json()) as { guid: string; user: string; expire: number }
      expect(body.guid).toBe(guid)
      answered.set(guid, { user: body.user, expire: body.expire, version: etagVersion(res) })
    }
    for (let i = 0; i < 60; i++) {
      const guid = guidOf(i)
      await record(guid, await fetch(`${base}/guid`, json('POST', { guid, user: `user ${i}`, expire: nowSec + 3_600 + i })), 201)
      if (i % 3 === 0) {
        const v = answered.get(guid)?.version
        await record(guid, await fetch(`${base}/guid/${guid}`, json('PATCH', { user: `patched ${i}`, expire: nowSec + 7_200 + i }, { 'if-match': `"${v}"` })), 200)
      }
      if (i % 5 === 0) {
        const v = answered.get(guid)?.version ?? Number.NaN
        const res = await fetch(`${base}/guid/${guid}`, { method: 'DELETE', headers: { 'if-match': `"${v}"` } })
        expect(res.status).toBe(204)
        answered.set(guid, null)
        // A delete is a change: its tombstone holds the next version.
        tombstones.set(guid, v + 1)
      }
      if (i % 10 === 0) {
        // Re-created over its tombstone: a new incarnation, a greater version.
        await record(guid, await fetch(`${base}/guid/${guid}`, json('POST', { user: `again ${i}` })), 201)
        expect(answered.get(guid)!.version).toBeGreaterThan(tombstones.get(guid)!)
        tombstones.delete(guid)
      }
    }
    // A generated GUID too.
    const generated = await fetch(`${base}/guid`, json('POST', { user: 'generated' }))
    const generatedGuid = ((await generated.clone().json()) as { guid: string }).guid
    await record(generatedGuid, generated, 201)

    const drainMs = await waitJournalDrained(base, DRAIN_TIMEOUT_MS, () => server.output())
    const guids = [...answered.keys()]
    const docs = await readDocs(suite.ferretdb.url, dbName, guids)
    const wrong = guids.map((g) => docMismatch(g, answered.get(g)!, docs.get(g), tombstones.get(g), nowSec)).filter((m) => m !== null)
    expect(wrong).toEqual([])
    expect([...answered.values()].filter((a) => a === null).length).toBe(6)
    console.log(`pipeline: ${guids.length} GUIDs written over HTTP; the journal drained ${drainMs} ms after the last write; MongoDB holds each exactly`)

    // FerretDB refuses TTL indexes: said once at start, and by the gauge; no entry was dead-lettered.
    expect(server.output()).toContain('no TTL index on expireAt; the sweeper alone deletes expired documents')
    expect(await metricValue(base, 'guidd_store_ttl_index', 'store="mongodb"')).toBe(0)
    expect(await metricValue(base, 'guidd_journal_dead_letters_total')).toBe(0)
    expect(await server.stop(8_000)).toBe(0)
  }, 60_000)

  test('MongoDB stopped under write load: writes keep being acknowledged into the journal, which drains once MongoDB is back; nothing is lost', async () => {
    const { server, base, dbName } = await startServer()
    const nowSec = Math.floor(Date.now() / 1000)
    const WORKERS = 4
    const PER_WORKER = 8
    const guids = Array.from({ length: WORKERS * PER_WORKER }, (_, n) => guidOf(0x1000 + n))
    const acked = new Map<string, Answered>()
    const versions = new Map<string, number>()
    // Created before the outage, so the load needs only Redis (a GUID Redis has never seen is read from MongoDB).
    for (const guid of guids) {
      const res = await fetch(`${base}/guid`, json('POST', { guid, user: 'created', expire: nowSec + 3_600 }))
      expect(res.status).toBe(201)
      acked.set(guid, { user: 'created', expire: nowSec + 3_600, version: etagVersion(res) })
      versions.set(guid, etagVersion(res))
    }
    await waitJournalDrained(base, DRAIN_TIMEOUT_MS, () => server.output())

    const failures: string[] = []
    let acks = 0
    let acksWhileDown = 0
    let down = false
    let stopLoad = false
    const worker = async (w: number): Promise<void> => {
      const mine = guids.slice(w * PER_WORKER, (w + 1) * PER_WORKER)
      for (let seq = 0; !stopLoad; seq++) {
        const guid = mine[seq % mine.length]!
        const state = acked.get(guid)!
        const version = versions.get(guid)!
        let res: Response
        let next: Answered
        if (state === null) {
          // Deleted: created again over its tombstone (which Redis holds).
          res = await fetch(`${base}/guid/${guid}`, json('POST', { user: `w${w}-${seq}`, expire: nowSec + 3_600 + seq }))
          next = { user: `w${w}-${seq}`, expire: nowSec + 3_600 + seq, version: etagVersion(res) }
          if (res.status !== 201) failures.push(`re-create ${guid}: ${res.status} ${await res.text()}`)
        } else if (seq % 7 === 3) {
          res = await fetch(`${base}/guid/${guid}`, { method: 'DELETE', headers: { 'if-match': `"${version}"` }, signal: AbortSignal.timeout(10_000) })
          next = null
          if (res.status !== 204) failures.push(`delete ${guid}: ${res.status} ${await res.text()}`)
        } else {
          res = await fetch(`${base}/guid/${guid}`, json('PATCH', { user: `w${w}-${seq}` }, { 'if-match': `"${version}"` }))
          next = { ...state, user: `w${w}-${seq}`, version: version + 1 }
          if (res.status !== 200) failures.push(`patch ${guid}: ${res.status} ${await res.text()}`)
          else if (etagVersion(res) !== version + 1) failures.push(`patch ${guid}: ETag ${res.headers.get('etag')}, expected "${version + 1}"`)
        }
        await res.arrayBuffer().catch(() => {})
        if (failures.length > 0) {
          stopLoad = true
          return
        }
        acked.set(guid, next)
        versions.set(guid, next === null ? version + 1 : next.version)
        acks++
        if (down) acksWhileDown++
      }
    }
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))
    // A failure says what the service logged last: the flusher's warnings tell where it stood.
    const failed = (what: string) => new Error(`${what} (after ${acks} acknowledged writes): ${failures.join('; ')}\nthe service's last output:\n${server.output().slice(-4_000)}`)
    // Gives up at the first failed request, and either way says what the service logged.
    const until = (done: () => boolean, timeoutMs: number, what: string) =>
      eventually(what, done, { timeoutMs, abort: () => (failures.length > 0 ? failed(what) : undefined) }).catch(() => Promise.reject(failed(what)))
    try {
      await until(() => acks >= 300, 20_000, 'the load did not get going')
      const failuresBefore = await metricValue(base, 'guidd_journal_flush_failures_total')
      // The outage: FerretDB stopped; the data stays on disk.
      await suite.ferretdb.stop()
      down = true
      const lagAtStop = await metricValue(base, 'guidd_journal_length')
      await until(() => acksWhileDown >= 600, 20_000, 'writes were not acknowledged while MongoDB was down')
      // The flusher's writes fail (each once the driver's server selection gives up, 3 s) and are retried with backoff.
      const noticed = Date.now() + 15_000
      while ((await metricValue(base, 'guidd_journal_flush_failures_total')) <= failuresBefore) {
        if (Date.now() > noticed || failures.length > 0) throw failed('no failed flush counted while MongoDB was down')
        await Bun.sleep(50)
      }
      const lagWhileDown = await metricValue(base, 'guidd_journal_length')
      expect(lagWhileDown).toBeGreaterThan(lagAtStop)
      expect(lagWhileDown).toBeGreaterThanOrEqual(600)
      const downFor = Date.now()
      await suite.ferretdb.start()
      down = false
      const acksAtRestart = acks
      await until(() => acks >= acksAtRestart + 300, 20_000, 'the load stalled after MongoDB came back')
      stopLoad = true
      await load
      expect(failures).toEqual([])
      const drainMs = await waitJournalDrained(base, DRAIN_TIMEOUT_MS, () => server.output())
      console.log(
        `MongoDB outage: ${acksWhileDown} writes acknowledged while FerretDB was down (journal ${lagAtStop} -> ${lagWhileDown} entries); ${acks} in all; drained ${drainMs} ms after the load stopped (${Date.now() - downFor} ms after restart)`,
      )
    } finally {
      stopLoad = true
      await load
      if (suite.ferretdb.pid() === null) await suite.ferretdb.start()
    }

    const docs = await readDocs(suite.ferretdb.url, dbName, guids)
    const wrong = guids.map((g) => docMismatch(g, acked.get(g)!, docs.get(g), acked.get(g) === null ? versions.get(g) : undefined, nowSec)).filter((m) => m !== null)
    expect(wrong).toEqual([])
    expect(await metricValue(base, 'guidd_journal_dead_letters_total')).toBe(0)
    expect(await server.stop(8_000)).toBe(0)
  }, 150_000)
})
