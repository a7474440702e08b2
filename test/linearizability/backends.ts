import { join } from 'node:path'
import { startFerretdb } from '../support/ferretdb'
import { startRedis } from '../support/redis'
import { startCluster } from '../support/redis-cluster'

/**
 * What the two instances of a run share, started for that run alone: the settings each
 * instance gets for it, and the fault it can take mid-run.
 *
 * - `redis`: a redis-server with AOF and appendfsync always (the service promises that an
 *   acknowledged write is durable in Redis with AOF, so a kill -9 of Redis must lose none;
 *   with everysec the last second may be lost, which the check would rightly report), each
 *   instance flushing to a SQLite file of its own line. Fault: kill -9 of Redis, restarted on
 *   the same port and AOF after REDIS_DOWN_MS.
 * - `mongodb-only`: a FerretDB (test/support/ferretdb.ts) and a database named afresh for the
 *   run, the journal and the store of both instances. No fault of its own: with a kill -9 of
 *   FerretDB too (restarted after 600 ms), 3 of 3 runs passed but the two runs took 21-63 s,
 *   over the CI budget; the model-based tests kill MongoDB instead.
 * - `redis-cluster`: a Redis Cluster (3 masters, a replica each) with REDIS_WAIT_REPLICAS=1,
 *   each instance flushing to a SQLite file of its own line. Fault: kill -9 of a master; the
 *   cluster fails it over to its replica, and it is started again to rejoin as the replica.
 *
 * With `sharedStore`, the Redis modes' instances flush into one SQLite file that both open,
 * instead of a file each, so that a listing on either instance reads every instance's
 * writes, and clients list GUIDs too. Listings run only on a shared store: with a file per
 * instance, each lists what its own flusher stored (docs/listing-and-idempotency.md). The
 * shared store the service documents for several instances is MongoDB, which cannot run
 * here; FerretDB, which stands in for it, has no atomic compare-and-set, so two flushers
 * writing one GUID at once can leave the older version in it (docs/operations.md, "MongoDB
 * servers"): tried as this run's store, the check failed on exactly that (a listing showing
 * a state deleted before it was sent: histories/stale-listing-ferretdb-two-flushers.json).
 * SQLite serialises the two processes' writes, and each version-guarded upsert is one
 * statement, as MongoDB's is.
 */
export type BackendKind = 'redis' | 'redis-cluster' | 'mongodb-only'

export interface Backend {
  /** Named in the run's summary: "Redis", "MongoDB". */
  name: string
  /** The settings an instance of `line` gets; `dir` is the run's temp folder. */
  env(line: string, dir: string): Record<string, string>
  /** Whether every instance's listing reads one store (one SQLite file, or MongoDB). */
  sharedStore: boolean
  /** kill -9 of the shared server, and a restart on its data once it has been down a while. */
  crash?(): Promise<void>
  stop(): Promise<void>
}

/** How long Redis stays down: long enough that requests meet it down. */
const REDIS_DOWN_MS = 600

/** The SQLite file an instance of `line` flushes into: its own, or, when the store is shared, one for both. */
const storeEnv = (shared: boolean, line: string, dir: string): Record<string, string> => ({ SQLITE_PATH: join(dir, shared ? 'shared.sqlite' : `${line}.sqlite`), MONGODB_URL: '' })

const redisBackend = async (sharedStore: boolean): Promise<Backend> => {
  const redis = await startRedis({ appendfsync: 'always' })
  const prefix = redis.prefix()
  return {
    name: 'Redis',
    sharedStore,
    env: (line, dir) => ({
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      FLUSH_INTERVAL_MS: '20',
      JOURNAL_CLAIM_IDLE_MS: '500',
      // Empty is unset: none of the runner's own settings leak in.
      ...storeEnv(sharedStore, line, dir),
    }),
    crash: async () => {
      await redis.kill9()
      await Bun.sleep(REDIS_DOWN_MS)
      await redis.restart()
    },
    stop: () => redis.stop(),
  }
}

const redisClusterBackend = async (sharedStore: boolean): Promise<Backend> => {
  const cluster = await startCluster({ masters: 3, replicas: 1 })
  const prefix = cluster.prefix()
  return {
    name: 'Redis Cluster master',
    sharedStore,
    env: (line, dir) => ({
      REDIS_CLUSTER_NODES: cluster.seeds,
      REDIS_PREFIX: prefix,
      REDIS_WAIT_REPLICAS: '1',
      FLUSH_INTERVAL_MS: '20',
      JOURNAL_CLAIM_IDLE_MS: '500',
      REDIS_URL: '',
      ...storeEnv(sharedStore, line, dir),
    }),
    crash: async () => {
      const victim = (await cluster.roles()).masters[0]!
      await cluster.kill9(victim)
      await cluster.waitHealthy(30_000, 0)
      await cluster.restart(victim)
      await cluster.waitHealthy(30_000, 1)
    },
    stop: () => cluster.stop(),
  }
}

const mongoOnlyBackend = async (): Promise<Backend> => {
  const ferret = await startFerretdb()
  const db = `guidd_linearizability_${process.pid}_${Date.now().toString(36)}`
  return {
    name: 'MongoDB',
    sharedStore: true,
    env: () => ({ MONGODB_URL: ferret.url, MONGODB_DB: db, REDIS_URL: '' }),
    stop: () => ferret.dispose(),
  }
}

/** `sharedStore` is for the Redis modes; MongoDB-only always has one. */
export const startBackend = (kind: BackendKind, sharedStore: boolean): Promise<Backend> =>
  kind === 'redis' ? redisBackend(sharedStore) : kind === 'redis-cluster' ? redisClusterBackend(sharedStore) : mongoOnlyBackend()
