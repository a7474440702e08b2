import { afterAll, beforeAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from './ferretdb'
import type { Started } from './process'
import { redisSuites, startRedis, type TestRedis } from './redis'

/**
 * The fixture of the Redis + MongoDB end-to-end suites: a redis-server and a FerretDB of the
 * file's own (started together, FerretDB built on a machine's first run), a temp dir, and the
 * guidd processes the tests start; all of it stopped by PID after the file. Registers its
 * beforeAll/afterAll when called, so call it at the top of a test file.
 */
export interface RedisMongoSuite {
  /** False when redis-server or FerretDB is missing (and CI is not set): describe.skipIf(!enabled). */
  readonly enabled: boolean
  readonly redis: TestRedis
  readonly ferretdb: TestFerretdb
  readonly dir: string
  /** Pass to startGuidd: every server is stopped after the file. */
  readonly started: Started[]
}

export const redisMongoSuite = (name: string): RedisMongoSuite => {
  const enabled = redisSuites(name) && ferretdbSuites(name)
  let redis: TestRedis | undefined
  let ferretdb: TestFerretdb | undefined
  let dir: string | undefined
  const started: Started[] = []
  beforeAll(
    async () => {
      if (!enabled) return
      dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-redis-mongo-'))
      ;[redis, ferretdb] = await Promise.all([startRedis(), startFerretdb()])
    },
    { timeout: FERRETDB_BUILD_TIMEOUT_MS + 30_000 },
  )
  afterAll(async () => {
    if (!enabled) return
    for (const s of started) await s.stop(2_000)
    await Promise.all([redis?.stop(), ferretdb?.dispose()])
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${name}: ${what} is not started (used outside a test, or the suite is disabled)`)
    return value
  }
  return {
    enabled,
    started,
    get redis() {
      return ready(redis, 'redis-server')
    },
    get ferretdb() {
      return ready(ferretdb, 'FerretDB')
    },
    get dir() {
      return ready(dir, 'the temp dir')
    },
  }
}
