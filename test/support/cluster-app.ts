import { afterAll, afterEach, beforeAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCluster } from 'redis'
import { clusterKeys, type RedisKeys } from '../../src/adapters/redis/keys'
import { SqliteStore } from '../../src/adapters/sqlite/store'
import type { ManualClock } from '../../src/domain/clock'
import { createTestApp, type TestApp } from './app'
import { FlakyStore } from './flaky-store'
import { redisSuites } from './redis'
import { realTimeClock } from './redis-app'
import { startCluster, type TestCluster } from './redis-cluster'

/**
 * The fixture of the in-process Redis Cluster suites: a 3-master, 3-replica cluster of the
 * file's own (test/support/redis-cluster.ts), a cluster client on it, and whole services
 * in-process in cluster mode, each closed after its test. Call it at the top of a test file.
 */

export type ClusterClient = ReturnType<typeof createCluster>

export interface ClusterApp {
  app: TestApp
  store: FlakyStore
  /** The SQLite file behind `store`. */
  storePath: string
  clock: ManualClock
  prefix: string
  keys: RedisKeys
}

export interface ClusterAppOptions {
  env?: Record<string, string>
  /** Another instance sharing `like`'s prefix, store and clock. */
  like?: ClusterApp
  /** The flusher's backoff after a store failure (the suites' default: 5 to 20 ms). */
  flusherBackoffMs?: { min: number; max: number }
}

export interface ClusterAppSuite {
  readonly enabled: boolean
  readonly cluster: TestCluster
  readonly client: ClusterClient
  afterThisTest(close: () => Promise<void>): void
  /** A service in cluster mode: its own key prefix and SQLite store, unless `like` names another instance to share them with. */
  app(options?: ClusterAppOptions): Promise<ClusterApp>
}

export const clusterAppSuite = (name: string): ClusterAppSuite => {
  const enabled = redisSuites(name)
  let cluster: TestCluster | undefined
  let client: ClusterClient | undefined
  const opened: Array<() => Promise<void>> = []

  beforeAll(async () => {
    if (!enabled) return
    cluster = await startCluster({ masters: 3, replicas: 1 })
    client = createCluster({ rootNodes: cluster.nodes.map((n) => ({ url: `redis://127.0.0.1:${n.port}` })) })
    client.on('error', () => {})
    await client.connect()
  }, 90_000)
  afterEach(async () => {
    for (let close = opened.pop(); close !== undefined; close = opened.pop()) await close()
  })
  afterAll(async () => {
    await client?.close().catch(() => client?.destroy())
    await cluster?.stop()
  })
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${name}: ${what} is not started`)
    return value
  }
  const afterThisTest = (close: () => Promise<void>) => void opened.push(close)

  const app = async (o: ClusterAppOptions = {}): Promise<ClusterApp> => {
    const c = ready(cluster, 'the cluster')
    let shared: Omit<ClusterApp, 'app'>
    if (o.like !== undefined) shared = o.like
    else {
      const dir = mkdtempSync(join(tmpdir(), 'guidd-cluster-store-'))
      afterThisTest(async () => rmSync(dir, { recursive: true, force: true }))
      const storePath = join(dir, 'store.sqlite')
      const store = new FlakyStore(new SqliteStore({ path: storePath, synchronous: 'NORMAL' }))
      const prefix = c.prefix()
      const partitions = Number(o.env?.JOURNAL_PARTITIONS ?? 64)
      shared = { store, storePath, clock: realTimeClock(), prefix, keys: clusterKeys(prefix, partitions) }
    }
    const testApp = await createTestApp(
      { REDIS_CLUSTER_NODES: c.seeds, REDIS_PREFIX: shared.prefix, FLUSH_INTERVAL_MS: '20', ...o.env },
      { clock: shared.clock, store: shared.store, flusherBackoffMs: o.flusherBackoffMs ?? { min: 5, max: 20 } },
    )
    afterThisTest(() => testApp.close())
    return { ...shared, app: testApp }
  }

  return {
    enabled,
    get cluster() {
      return ready(cluster, 'the cluster')
    },
    get client() {
      return ready(client, 'the cluster client')
    },
    afterThisTest,
    app,
  }
}
