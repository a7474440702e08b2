import { VERSION } from '../../src/runtime/version'
import { describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { SqliteIdempotency } from '../../src/adapters/sqlite/idempotency'
import { KeptAnswers } from '../../src/adapters/sqlite/kept-answers'
import { ActorRegistry } from '../../src/data/actors'
import { createApp } from '../../src/http/app'
import { ManualClock } from '../../src/domain/clock'
import { GuidService } from '../../src/data/guid-service'
import { ListingService } from '../../src/data/listing-service'
import { createLogger } from '../../src/ops/logger'
import { Metrics } from '../../src/ops/metrics'
import { Readiness } from '../../src/ops/readiness'
import { Records } from '../../src/data/records'
import type { Journal } from '../../src/data/journal'
import type { Store } from '../../src/data/store'
import { T0 } from '../support/app'
import { expectProblem, GUID } from '../support/http'

const secret = () => {
  throw new Error('secret driver text at /var/lib/guidd.sqlite')
}

/** A store and a journal that fail every call with a driver-like message. */
const brokenStore: Store = {
  name: 'broken',
  get: async () => secret(),
  listUser: async () => secret(),
  applyBatch: async () => secret(),
  sweepExpired: async () => secret(),
  ping: async () => secret(),
  close: async () => {},
}
const brokenJournal: Journal = { append: async () => secret(), close: async () => {} }

const buildApp = () => {
  const logged: string[] = []
  const logger = createLogger('error', { write: (line: string) => void logged.push(line) })
  const actors = new ActorRegistry({ mailboxMax: 10 })
  const records = new Records({ journal: brokenJournal, store: brokenStore })
  const service = new GuidService({ actors, records, clock: new ManualClock(T0), defaultTtlSeconds: 60, tombstoneTtlSeconds: 60 })
  const metrics = new Metrics({ lruSize: () => 0, lruStats: () => ({ hits: 0, misses: 0 }), actorsInFlight: () => actors.size })
  const listing = new ListingService({ index: brokenStore, clock: new ManualClock(T0) })
  const idempotency = { store: new SqliteIdempotency(new KeptAnswers(new Database(':memory:')), new ManualClock(T0)), ttlSeconds: 60, clock: new ManualClock(T0) }
  const app = createApp({ service, listing, idempotency, metrics, readiness: new Readiness([]), logger, version: VERSION })
  const req = (method: string, path: string, body?: unknown) =>
    app.handle(new Request(`http://localhost${path}`, body === undefined ? { method } : { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }))
  return { req, logged, actors }
}

describe('an unexpected failure', () => {
  test.each([
    ['a failing store read', 'GET', `/guid/${GUID}`, undefined],
    ['a failing journal append', 'POST', '/guid', { user: 'u' }],
    ['a failing store read before an update', 'PATCH', `/guid/${GUID}`, { user: 'u' }],
    ['a failing store read before a delete', 'DELETE', `/guid/${GUID}`, undefined],
    ['a failing listing', 'GET', '/guid?user=u', undefined],
  ])('%s is an opaque 500 that leaks nothing', async (_name, method, path, body) => {
    const { req } = buildApp()
    const res = await req(method, path, body)
    const text = await res.clone().text()
    const problem = await expectProblem(res, 500, 'internal')
    expect(text).not.toContain('secret')
    expect(text).not.toContain('/var/lib')
    expect(text).not.toContain('Error')
    expect(text).not.toMatch(/at .*\.ts/)
    expect(problem.requestId).toBe(res.headers.get('x-request-id')!)
  })

  test('is logged with its request id', async () => {
    const { req, logged } = buildApp()
    const res = await req('GET', `/guid/${GUID}`)
    expect(res.status).toBe(500)
    const requestId = res.headers.get('x-request-id')!
    const line = logged.find((l) => l.includes('secret driver text'))
    expect(line).toBeDefined()
    expect(JSON.parse(line!)).toMatchObject({ requestId })
  })

  test("does not leave the GUID's actor behind", async () => {
    const { req, actors } = buildApp()
    expect((await req('GET', `/guid/${GUID}`)).status).toBe(500)
    expect(actors.size).toBe(0)
  })
})
