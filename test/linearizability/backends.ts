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
 */
export type BackendKind = 'redis' | 'redis-cluster' | 'mongodb-only'

export interface Backend {
  /** Named in the run's summary: "Redis", "MongoDB". */
  name: string
  /** The settings an instance of `line` gets; `dir` is the run's temp folder. */
  env(line: string, dir: string): Record<string, string>
  /** kill -9 of the shared server, and a restart on its data once it has been down a while. */
  crash?(): Promise<void>
  stop(): Promise<void>
}

/** How long Redis stays down: long enough that requests meet it down. */
const REDIS_DOWN_MS = 600

const redisBackend = async (): Promise<Backend> => {
  const redis = await startRedis({ appendfsync: 'always' })
  const prefix = redis.prefix()
  return {
    name: 'Redis',
    env: (line, dir) => ({
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      SQLITE_PATH: join(dir, `${line}.sqlite`),
      FLUSH_INTERVAL_MS: '20',
      JOURNAL_CLAIM_IDLE_MS: '500',
      // Empty is unset: none of the runner's own settings leak in.
      MONGODB_URL: '',
    }),
    crash: async () => {
      await redis.kill9()
      await Bun.sleep(REDIS_DOWN_MS)
      await redis.restart()
    },
    stop: () => redis.stop(),
  }
}

const redisClusterBackend = async (): Promise<Backend> => {
  const cluster = await startCluster({ masters: 3, replicas: 1 })
  const prefix = cluster.prefix()
  return {
    name: 'Redis Cluster master',
    env: (line, dir) => ({
      REDIS_CLUSTER_NODES: cluster.seeds,
      REDIS_PREFIX: prefix,
      REDIS_WAIT_REPLICAS: '1',
      SQLITE_PATH: join(dir, `${line}.sqlite`),
      FLUSH_INTERVAL_MS: '20',
      JOURNAL_CLAIM_IDLE_MS: '500',
      MONGODB_URL: '',
      REDIS_URL: '',
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
    env: () => ({ MONGODB_URL: ferret.url, MONGODB_DB: db, REDIS_URL: '' }),
    stop: () => ferret.dispose(),
  }
}

export const startBackend = (kind: BackendKind): Promise<Backend> => (kind === 'redis' ? redisBackend() : kind === 'redis-cluster' ? redisClusterBackend() : mongoOnlyBackend())
