import { afterAll, afterEach, beforeAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from 'redis'
import { redisKeys } from '../../src/adapters/redis/keys'
import { SqliteStore } from '../../src/adapters/sqlite/store'
import { ManualClock } from '../../src/domain/clock'
import { createTestApp, type TestApp } from './app'
import { FlakyStore } from './flaky-store'
import { redisSuites, startRedis, type TestRedis } from './redis'

/**
 * The fixture of the in-process Redis-mode integration suites: a redis-server of the file's
 * own with a client on it (to look at what the service wrote), and whole services in-process
 * in Redis mode, each closed after its test. Registers its hooks when called, so call it at
 * the top of a test file; one place, so the suites set Redis mode up the same way.
 */

export type RedisClient = ReturnType<typeof createClient>

/** One service in-process in Redis mode, and what it runs on. */
export interface RedisApp {
  app: TestApp
  /** A real SQLite store behind a switch (`store.down`). */
  store: FlakyStore
  /** The SQLite file behind `store`. */
  storePath: string
  clock: ManualClock
  prefix: string
  keys: ReturnType<typeof redisKeys>
}

export interface RedisAppOptions {
  env?: Record<string, string>
  /** The key prefix; a fresh one unless given. */
  prefix?: string
  /** Another instance sharing `like`'s prefix, store and clock (as two servers behind one Redis and one store). */
  like?: RedisApp
  /** The flusher's backoff after a store failure (the suites' default: 5 to 20 ms). */
  flusherBackoffMs?: { min: number; max: number }
}

export interface RedisAppSuite {
  /** False when redis-server is missing (and CI is not set): describe.skipIf(!enabled). */
  readonly enabled: boolean
  readonly server: TestRedis
  readonly client: RedisClient
  /** Runs `close` after the current test (the last registered first). */
  afterThisTest(close: () => Promise<void>): void
  /** The whole service in-process in Redis mode: by default its own key prefix, and a real SQLite store behind a switch. */
  app(options?: RedisAppOptions): Promise<RedisApp>
}

/** A ManualClock at the current real second: Redis expires keys by its own (real) clock, so the service's starts at real time. */
export const realTimeClock = (): ManualClock => new ManualClock(Math.floor(Date.now() / 1000) * 1000)

export const redisAppSuite = (name: string): RedisAppSuite => {
  const enabled = redisSuites(name)
  let server: TestRedis | undefined
  let client: RedisClient | undefined
  const opened: Array<() => Promise<void>> = []

  beforeAll(async () => {
    if (!enabled) return
    server = await startRedis()
    client = createClient({ url: server.url })
    await client.connect()
  })
  afterEach(async () => {
    for (let close = opened.pop(); close !== undefined; close = opened.pop()) await close()
  })
  afterAll(async () => {
    if (!enabled) return
    await client?.quit()
    await server?.stop()
  })

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${name}: ${what} is not started (used outside a test, or the suite is disabled)`)
    return value
  }
  const afterThisTest = (close: () => Promise<void>) => {
    opened.push(close)
  }

  const app = async (o: RedisAppOptions = {}): Promise<RedisApp> => {
    const redis = ready(server, 'redis-server')
    let shared: Pick<RedisApp, 'store' | 'storePath' | 'clock' | 'prefix'>
    if (o.like !== undefined) shared = o.like
    else {
      const dir = mkdtempSync(join(tmpdir(), 'guidd-redis-store-'))
      afterThisTest(async () => rmSync(dir, { recursive: true, force: true }))
      const storePath = join(dir, 'store.sqlite')
      const store = new FlakyStore(new SqliteStore({ path: storePath, synchronous: 'NORMAL' }))
      shared = { store, storePath, clock: realTimeClock(), prefix: o.prefix ?? redis.prefix() }
    }
    const { store, clock, prefix } = shared
    const testApp = await createTestApp(
      { REDIS_URL: redis.url, REDIS_PREFIX: prefix, FLUSH_INTERVAL_MS: '20', ...o.env },
      { clock, store, flusherBackoffMs: o.flusherBackoffMs ?? { min: 5, max: 20 } },
    )
    afterThisTest(() => testApp.close())
    return { ...shared, app: testApp, keys: redisKeys(prefix) }
  }

  return {
    enabled,
    get server() {
      return ready(server, 'redis-server')
    },
    get client() {
      return ready(client, 'the Redis client')
    },
    afterThisTest,
    app,
  }
}
