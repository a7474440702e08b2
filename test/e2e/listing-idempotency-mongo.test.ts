import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { startGuidd, urlOf } from '../support/guidd-process'
import { idempotencyContract } from '../support/idempotency-contract'
import { listingContract, type Send } from '../support/listing-contract'
import type { Started } from '../support/process'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'
import { send } from '../support/requests'

/**
 * GET /guid?user= and Idempotency-Key over real HTTP in the MongoDB modes, two instances each:
 * MongoDB-only (each write written through before its answer; a key claimed in MongoDB before
 * its write) and Redis + MongoDB (the listing waits for the flusher; keys in Redis). Writes go
 * to one instance, listings and retries to the other. One FerretDB, a database per mode.
 */

const enabled = ferretdbSuites('listing and Idempotency-Key in the MongoDB modes') && redisSuites('listing and Idempotency-Key in the MongoDB modes')
let ferret: TestFerretdb
let redis: TestRedis
let dir: string
const started: Started[] = []
const mongoOnly: string[] = []
const redisMongo: string[] = []

const COMMON = { LOG_LEVEL: 'warn', HOST: '127.0.0.1', API_KEYS: '' }

beforeAll(async () => {
  if (!enabled) return
  ;[ferret, redis] = await Promise.all([startFerretdb(), startRedis()])
  dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-listing-'))
  const prefix = redis.prefix()
  const servers = await Promise.all([
    ...['A', 'B'].map((n) => startGuidd({ name: `guidd mongodb-only ${n}`, env: { ...COMMON, MONGODB_URL: ferret.url, MONGODB_DB: 'listing_mongo_only', REDIS_URL: '' }, started, ready: '/readyz' })),
    ...['A', 'B'].map((n) =>
      startGuidd({
        name: `guidd redis+mongodb ${n}`,
        env: { ...COMMON, MONGODB_URL: ferret.url, MONGODB_DB: 'listing_redis_mongo', REDIS_URL: redis.url, REDIS_PREFIX: prefix, FLUSH_INTERVAL_MS: '20', SQLITE_PATH: join(dir, `${n}.sqlite`) },
        started,
        ready: '/readyz',
      }),
    ),
  ])
  mongoOnly.push(...servers.slice(0, 2).map(urlOf))
  redisMongo.push(...servers.slice(2).map(urlOf))
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)

afterAll(async () => {
  if (!enabled) return
  for (const s of started) await s.stop(2_000)
  await Promise.all([ferret?.dispose(), redis?.stop()])
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

/** Requests to one server; a string body is sent as it is (the contracts send exact bytes). */
const to =
  (base: string): Send =>
  (method, path, body, headers) =>
    typeof body === 'string'
      ? fetch(base + path, { method, headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(10_000) })
      : send(base, method, path, body, headers)

describe.if(enabled)('listing, MongoDB-only mode, two instances', () => {
  listingContract(() => ({ writer: to(mongoOnly[0]!), reader: to(mongoOnly[1]!) }), { count: 12 })

  test('the collection has the listing index {user: 1, _id: 1}', async () => {
    const client = new MongoClient(ferret.url)
    try {
      const indexes = await client.db('listing_mongo_only').collection('guids').indexes()
      expect(indexes.map((i) => i.key)).toContainEqual({ user: 1, _id: 1 })
    } finally {
      await client.close()
    }
  })
})

describe.if(enabled)('listing, Redis + MongoDB mode, two instances', () => {
  listingContract(() => ({ writer: to(redisMongo[0]!), reader: to(redisMongo[1]!) }), { count: 12 })
})

describe.if(enabled)('Idempotency-Key, MongoDB-only mode, two instances', () => {
  idempotencyContract(() => ({ a: to(mongoOnly[0]!), b: to(mongoOnly[1]!) }))
})

describe.if(enabled)('Idempotency-Key, Redis + MongoDB mode, two instances', () => {
  idempotencyContract(() => ({ a: to(redisMongo[0]!), b: to(redisMongo[1]!) }))
})
