import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MongoStore } from '../../src/adapters/mongo/store'
import { ServiceError } from '../../src/domain/errors'
import { generateGuid } from '../../src/domain/normalise'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { startGuidd, urlOf } from '../support/guidd-process'
import { type MongoProxy, startMongoProxy } from '../support/mongo-proxy'
import type { Started } from '../support/process'

/**
 * A MongoDB connection that never answers and never closes: found by the model-based tests
 * (mongodb-only mode, CI). After FerretDB was killed, a PATCH of a GUID waited on a pooled
 * connection whose close Bun never surfaced, its command written and never answered, and the
 * driver's socketTimeoutMS (a socket timeout, under Bun never firing there) did not end it:
 * the PATCH got 503 timeout, and the DELETE and GET of that GUID, behind it in the GUID's
 * actor, got 503 timeout too, or, once Bun's idle timeout closed their connection before
 * their deadline, no answer at all (a client on a kept-alive connection sent the GET again,
 * and gave up after 15 s).
 *
 * A proxy strands the driver's operation connections (support/mongo-proxy.ts), the driver's
 * own bound set a minute away: the store must end such a connection itself, and a request
 * that outlives everything must still get its 503 timeout rather than a closed connection.
 * The last test kills FerretDB itself, as the model did, and replays its sequence.
 */

const enabled = ferretdbSuites('MongoDB: a connection that never answers')
let ferret: TestFerretdb
let proxy: MongoProxy
const started: Started[] = []

beforeAll(async () => {
  if (!enabled) return
  ferret = await startFerretdb()
  proxy = await startMongoProxy({ host: '127.0.0.1', port: ferret.port })
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)

afterAll(async () => {
  for (const server of started) await server.stop(2_000)
  await proxy?.close()
  await ferret?.dispose()
})

/** The 8-4-4-4-12 form of a canonical GUID. */
const hyphenated = (g: string): string => `${g.slice(0, 8)}-${g.slice(8, 12)}-${g.slice(12, 16)}-${g.slice(16, 20)}-${g.slice(20)}`

/** Reads a GUID no one has, several at once so that the pool holds several connections. */
const readMany = (store: MongoStore, n: number) => Promise.all(Array.from({ length: n }, () => store.get(generateGuid(), Date.now() / 1000)))

/** How long `promise` took to settle, and how (bounded, so a hang shows as a figure). */
const settled = async <T>(promise: Promise<T>, boundMs: number): Promise<{ ms: number; outcome: T | Error | 'no answer' }> => {
  const since = performance.now()
  const outcome = await Promise.race([promise.catch((error: Error) => error), Bun.sleep(boundMs).then(() => 'no answer' as const)])
  return { ms: Math.round(performance.now() - since), outcome }
}

describe.if(enabled)('MongoStore, when a pooled connection never answers', () => {
  test('the store ends the connection past the socket timeout: the read fails 503 unavailable or is served, within seconds', async () => {
    const stuck: unknown[] = []
    const store = await MongoStore.open({
      url: proxy.url,
      dbName: 'guidd_silent_store',
      ttlIndex: false,
      // The driver's own bound a minute away, as if its socket timeout never fired; the watch's is 1 s (+ grace).
      clientOptions: { connectTimeoutMS: 2_000, serverSelectionTimeoutMS: 2_000, socketTimeoutMS: 60_000 },
      checkoutBoundMs: 1_000,
      onCheckoutStuck: (s) => stuck.push(s),
    })
    try {
      await readMany(store, 4)
      expect(proxy.silenceOperations()).toBeGreaterThanOrEqual(1)
      const { ms, outcome } = await settled(store.get(generateGuid(), Date.now() / 1000), 15_000)
      console.log(`a read on a silent connection: settled after ${ms} ms (${outcome instanceof Error ? outcome.message : String(outcome)}); the watch reported ${JSON.stringify(stuck)}`)
      expect(outcome).not.toBe('no answer')
      if (outcome instanceof Error) expect(outcome instanceof ServiceError && outcome.kind).toBe('unavailable')
      else expect(outcome).toBeNull()
      // 1 s bound + grace + the watch's period, then at most a server selection.
      expect(ms).toBeLessThan(6_000)
      expect(stuck).toContainEqual(expect.objectContaining({ ended: true }))
      // The connections made since pass: the store serves again.
      expect(await store.get(generateGuid(), Date.now() / 1000)).toBeNull()
    } finally {
      await store.close()
    }
  }, 30_000)
})

describe.if(enabled)('guidd, a request that outlives its deadline', () => {
  test('is answered 503 timeout at its deadline, not cut by the idle timeout before it', async () => {
    // The driver's socket timeout a minute away (the store's watch follows it), a 4 s deadline, and
    // an idle timeout of 1 s, which Bun applies within 4 s: without a hold, the connection closes first.
    const guidd = await startGuidd({
      name: 'guidd (mongodb-only, behind a proxy, silent connections)',
      env: {
        MONGODB_URL: `${proxy.url}?socketTimeoutMS=60000`,
        MONGODB_DB: 'guidd_silent',
        REDIS_URL: '',
        API_KEYS: '',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        REQUEST_TIMEOUT_MS: '4000',
        IDLE_TIMEOUT_SECONDS: '1',
      },
      started,
      ready: '/readyz',
    })
    const base = urlOf(guidd)
    // Several GUIDs no one has, at once: the pool holds several connections, all to be silenced.
    const warm = await Promise.all(Array.from({ length: 4 }, () => fetch(`${base}/guid/${generateGuid()}`)))
    expect(warm.map((r) => r.status)).toEqual([404, 404, 404, 404])
    expect(proxy.silenceOperations()).toBeGreaterThanOrEqual(1)
    const since = performance.now()
    const answer = await fetch(`${base}/guid/${generateGuid()}`, { signal: AbortSignal.timeout(15_000) }).then(
      async (r) => `${r.status} ${((await r.json()) as { type: string }).type}`,
      (error: Error) => `no answer: ${error.message}`,
    )
    const ms = Math.round(performance.now() - since)
    console.log(`a GET behind a silent connection: ${answer} after ${ms} ms`)
    expect(answer).toBe('503 urn:guidd:problem:timeout')
    await guidd.stop(2_000)
  }, 60_000)
})

describe.if(enabled)('guidd, FerretDB killed with connections in the pool (the model-based sequence)', () => {
  test('PATCH, DELETE and GET of a GUID each answer 503 (or 404) within their deadline, round after round', async () => {
    const guidd = await startGuidd({
      name: 'guidd (mongodb-only, FerretDB killed)',
      env: { MONGODB_URL: ferret.url, MONGODB_DB: 'guidd_killed', REDIS_URL: '', API_KEYS: '', LOG_LEVEL: 'warn', HOST: '127.0.0.1', SWEEP_INTERVAL_MS: '1000' },
      started,
      ready: '/readyz',
      readyTimeoutMs: 20_000,
    })
    const base = urlOf(guidd)
    const answers: string[] = []
    for (let round = 0; round < 3; round++) {
      const guid = generateGuid()
      // Work before the kill fills the pool; the GETs leave the GUID known absent, as in the model's run.
      await Promise.all(Array.from({ length: 3 }, () => fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'u' }) })))
      expect((await fetch(`${base}/guid/${guid}`, { headers: { 'if-none-match': '"0"' } })).status).toBe(404)
      await Bun.sleep(1_000)
      await ferret.stop(0)
      for (const [method, path, init] of [
        ['PATCH', `/guid/${guid}`, { headers: { 'content-type': 'application/json' }, body: '{"user":"x"}' }],
        ['DELETE', `/guid/{${hyphenated(guid.toLowerCase())}}`, {}],
        ['GET', `/guid/${guid.toLowerCase()}`, { headers: { 'if-none-match': 'W/"0"' } }],
      ] as const) {
        const since = performance.now()
        const answer = await fetch(base + path, { method, ...init, signal: AbortSignal.timeout(15_000) }).then(
          (r) => String(r.status),
          (error: Error) => `no answer (${error.message})`,
        )
        const ms = Math.round(performance.now() - since)
        answers.push(`round ${round + 1} ${method} ${answer} ${ms} ms`)
        expect({ method, answer }).toEqual({ method, answer: expect.stringMatching(/^(503|404)$/) })
        // Within the deadline (10 s, its tick up to 1 s late).
        expect(ms).toBeLessThan(11_500)
      }
      await ferret.start()
      for (const until = Date.now() + 20_000; (await fetch(`${base}/readyz`)).status !== 200; await Bun.sleep(50)) expect(Date.now()).toBeLessThan(until)
    }
    console.log(`FerretDB killed three times:\n  ${answers.join('\n  ')}`)
    await guidd.stop(2_000)
  }, 150_000)
})
