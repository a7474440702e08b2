import { copyFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites } from '../support/ferretdb'
import { GUIDD_CMD } from '../support/guidd-process'
import { runToExit } from '../support/process'
import { redisSuites, startRedis } from '../support/redis'
import { startCluster } from '../support/redis-cluster'
import { mountSmallDisk, type SmallDisk } from './disk'
import type { Model } from './model'
import { startModelMongo } from './mongo-server'
import { SLACK_MS } from './timing'
import type { Service } from './service'

/**
 * The configurations the model runs against. A mode is a small factory: whether it can run
 * here, and what to start (its backing processes and the service's environment), plus the
 * faults it can inject. Adding a mode is adding one entry to MODES.
 */

/** A fault the model can inject between requests, with what it means for the model. */
export interface Fault {
  name: string
  /** For the replay script: what a human does at this point. */
  howTo: string
  /** Creates sent at once right after it (a full disk bites only when a write needs new space). */
  load?: number
  /** Drawn this many times as often as one kind of request (default 1). */
  weight?: number
  canRun(m: Model): boolean
  run(m: Model, service: Service): Promise<void>
}

/** What a started mode gives the service, and how to put it back to normal. */
export interface Backing {
  env: Record<string, string>
  faults: Fault[]
  /** Lifts every fault before a run (the model starts with none). */
  reset(service: Service): Promise<void>
  stop(): Promise<void>
}

export interface Mode {
  name: string
  /** False: not run here (it printed SKIPPED); throws instead under CI=true when a dependency is missing. */
  available(): boolean
  /** Starts what the service needs, with its data under `dir`. */
  start(dir: string): Promise<Backing>
  /** How long starting may take: a first run builds FerretDB. */
  startTimeoutMs?: number
  /** A shorter CI budget than the others' (no new sequence after this long), for a slow backing server. */
  ciRunMs?: number
  /**
   * Inputs (GUIDD_MODEL_WITHOUT names) that find a failure already reported and not yet
   * fixed, with what they find: left out unless GUIDD_MODEL_KNOWN_ISSUES=1, and named in the
   * output. Remove an entry with the fix.
   */
  knownIssues?: Record<string, string>
}

/** A readiness failure this long after a fault was lifted (the disk freed, MongoDB started) is a failure of the service. */
const RECOVERY_TIMEOUT_MS = 10_000

/**
 * FerretDB takes ~150 writes/s here (fewer with the claims of the MongoDB-only mode), and
 * starting it costs seconds: the MongoDB modes stop starting sequences sooner, so each stays
 * within ~40 s in CI.
 */
const CI_RUN_MS_MONGODB = 24_000

/** "Disk full" and "disk freed", on the disk holding the store, when a small disk could be mounted. */
const diskFaults = (disk: SmallDisk | null, modeName: string): { faults: Fault[]; reset: (service: Service) => Promise<void> } => {
  if (disk === null) {
    console.log(`SKIPPED: the disk-full fault in mode ${modeName} (mounting a tmpfs was refused: it needs root)`)
    return { faults: [], reset: async () => {} }
  }
  let full = false
  const free = async (service: Service) => {
    disk.free()
    full = false
    await service.waitReady(RECOVERY_TIMEOUT_MS)
  }
  return {
    faults: [
      {
        name: 'disk-full',
        howTo: 'fill the disk that holds SQLITE_PATH (e.g. fallocate a file until ENOSPC)',
        load: 40,
        canRun: (m) => !m.diskFull,
        run: async (m) => {
          disk.fill()
          full = true
          m.diskFull = true
        },
      },
      {
        name: 'disk-freed',
        howTo: 'delete the filler file; /readyz must come back to 200',
        canRun: (m) => m.diskFull,
        run: async (m, service) => {
          await free(service)
          m.diskFull = false
          m.storeBackAt = Date.now()
        },
      },
    ],
    reset: async (service) => {
      if (full) await free(service)
    },
  }
}

/**
 * The backup runbook (docs/operations.md): `guidd backup` while it serves, then stop it, put
 * the copy in place of the store, start it. Between requests nothing is in flight, so every
 * write the model holds was acknowledged before the backup began and must all be there after:
 * the model does not change.
 */
const backupRestore = (sqlitePath: string, dir: string): Fault => {
  let backups = 0
  return {
    name: 'backup-restore',
    howTo: 'guidd backup <file> while it serves; stop it (SIGTERM), replace SQLITE_PATH with the copy (delete its -wal and -shm), start it again',
    canRun: (m) => !m.diskFull,
    run: async (m, service) => {
      const copy = join(dir, `backup-${++backups}.sqlite`)
      const backup = await runToExit({ cmd: [...GUIDD_CMD, 'backup', copy], env: { SQLITE_PATH: sqlitePath }, timeoutMs: 30_000 })
      if (backup.code !== 0) throw new Error(`guidd backup failed (${backup.code}): ${backup.stderr}`)
      await service.stopAndStart(async () => {
        for (const suffix of ['-wal', '-shm']) rmSync(`${sqlitePath}${suffix}`, { force: true })
        copyFileSync(copy, sqlitePath)
        rmSync(copy)
      })
      // Every live record must be back as it was, at once, not only when a later command
      // happens to read it (one that may expire any moment is left to the commands).
      for (const g of m.slots) {
        if (g.live === null || g.live.expire * 1000 <= Date.now() + SLACK_MS) continue
        const res = await fetch(`${service.base}/guid/${g.guid}`, { signal: AbortSignal.timeout(5_000) })
        const body = res.status === 200 ? ((await res.json()) as { user: string; expire: number }) : await res.text()
        const got = { status: res.status, etag: res.headers.get('etag'), body }
        const want = { status: 200, etag: g.live.etag, body: { guid: g.guid, user: g.live.user, expire: g.live.expire } }
        if (!Bun.deepEquals(got, want)) throw new Error(`after backup-restore, GET /guid/${g.guid} answered ${JSON.stringify(got)}; the model holds ${JSON.stringify(want)}`)
      }
    },
  }
}

const embedded = (name: string, env: Record<string, string> = {}): Mode => ({
  name,
  available: () => true,
  start: async (dir) => {
    const store = sqliteStore(name, dir)
    const sqlitePath = store.env.SQLITE_PATH!
    // Only where SQLite is the whole store: in Redis mode a restore takes back flushed writes.
    return { ...store, env: { ...store.env, ...env }, faults: [...store.faults, backupRestore(sqlitePath, dir)] }
  },
})

/** SQLite on a small disk of the suite's own (when it can mount one), with the disk-full fault. */
const sqliteStore = (name: string, dir: string): Backing => {
  const disk = mountSmallDisk(dir)
  const { faults, reset } = diskFaults(disk, name)
  return { env: { SQLITE_PATH: join(disk?.dir ?? dir, 'guidd.sqlite') }, faults, reset, stop: async () => disk?.unmount() }
}

/**
 * A FerretDB of the mode's own (test/support/ferretdb.ts) and a database named afresh for
 * this run, with the faults "MongoDB stopped" (gracefully, or kill -9) and "started again"
 * on the same data. The disk-full fault is SQLite's: it is not run here.
 */
const mongoStore = async (): Promise<Backing> => {
  const mongo = await startModelMongo()
  return {
    env: { MONGODB_URL: mongo.url, MONGODB_DB: mongo.db },
    faults: [
      ...(['graceful', 'kill-9'] as const).map(
        (how): Fault => ({
          name: how === 'graceful' ? 'mongodb-stop' : 'mongodb-kill-9',
          howTo: how === 'graceful' ? 'stop the MongoDB server (SIGTERM; it shuts down by itself); its data stays' : 'kill -9 the MongoDB server; its data stays',
          canRun: (m) => !m.storeDown && !m.diskFull,
          run: async (m) => {
            await mongo.stop(how)
            m.storeDown = true
            m.storeDownOnReadyz = false
          },
        }),
      ),
      {
        name: 'mongodb-start',
        howTo: 'start the MongoDB server again on the same data and port; /readyz must come back to 200',
        // Outages stay short (a few requests, ~3 s each while the driver waits for the server).
        weight: 10,
        canRun: (m) => m.storeDown,
        run: async (m, service) => {
          await mongo.start()
          await service.waitReady(RECOVERY_TIMEOUT_MS)
          m.storeDown = false
          m.storeBackAt = Date.now()
        },
      },
    ],
    reset: async (service) => {
      if (!mongo.running()) {
        await mongo.start()
        await service.waitReady(RECOVERY_TIMEOUT_MS)
      }
    },
    stop: () => mongo.dispose(),
  }
}

/** Redis (its own redis-server, AOF fsynced before every reply) as cache and journal, SQLite or MongoDB behind it. */
const withRedis = (name: string, store: 'sqlite' | 'mongodb'): Mode => ({
  name,
  available: () => redisSuites(`model-based tests (${name})`) && (store === 'sqlite' || ferretdbSuites(`model-based tests (${name})`)),
  ...(store === 'mongodb' && {
    startTimeoutMs: FERRETDB_BUILD_TIMEOUT_MS + 60_000,
    ciRunMs: CI_RUN_MS_MONGODB,
  }),
  start: async (dir) => {
    // Durable before every reply (AOF, appendfsync always): a kill -9 of Redis itself loses no
    // acknowledged write, so the model demands every one back after it restarts on its AOF.
    const redis = await startRedis({ appendfsync: 'always' })
    const durable = store === 'sqlite' ? sqliteStore(name, dir) : await mongoStore()
    const redisCrash: Fault = {
      name: 'redis-kill-9',
      howTo: 'kill -9 redis-server and start it again on the same port and AOF (appendfsync always)',
      // Ready again means the store answers too.
      canRun: (m) => !m.storeDown,
      run: async (_m, service) => {
        await redis.kill9()
        // The same port: the service keeps its REDIS_URL and reconnects by itself.
        await redis.restart()
        await service.waitReady()
      },
    }
    return {
      env: {
        REDIS_URL: redis.url,
        REDIS_PREFIX: 'model:',
        ...durable.env,
        // A restarted instance claims the dead one's unflushed journal entries this soon (default 30 s).
        JOURNAL_CLAIM_IDLE_MS: '200',
      },
      faults: [...durable.faults, redisCrash],
      reset: durable.reset,
      stop: async () => {
        await redis.stop()
        await durable.stop()
      },
    }
  },
})

/**
 * A Redis Cluster of the mode's own (3 masters, a replica each) with REDIS_WAIT_REPLICAS=1,
 * SQLite behind it, and the fault "kill -9 of a master": the cluster fails it over to its
 * replica, the old master comes back as that replica, and the model demands every
 * acknowledged write back (WAIT 1 put each on a replica before its 2xx).
 */
const withRedisCluster = (name: string): Mode => ({
  name,
  available: () => redisSuites(`model-based tests (${name})`),
  startTimeoutMs: 90_000,
  // A failover takes ~10 s of the budget (node timeout, election, the old master's rejoin).
  ciRunMs: CI_RUN_MS_MONGODB,
  start: async (dir) => {
    const cluster = await startCluster({ masters: 3, replicas: 1 })
    const durable = sqliteStore(name, dir)
    const masterCrash: Fault = {
      name: 'redis-master-kill-9',
      howTo: 'kill -9 a cluster master; wait for its replica to take over, then start it again (it rejoins as the replica)',
      canRun: () => true,
      run: async (_m, service) => {
        const victim = (await cluster.roles()).masters[0]!
        await cluster.kill9(victim)
        await cluster.waitHealthy(30_000, 0)
        await cluster.restart(victim)
        await cluster.waitHealthy(30_000, 1)
        await service.waitReady(RECOVERY_TIMEOUT_MS)
      },
    }
    return {
      env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: 'model:', REDIS_WAIT_REPLICAS: '1', ...durable.env, JOURNAL_CLAIM_IDLE_MS: '200' },
      faults: [...durable.faults, masterCrash],
      reset: durable.reset,
      stop: async () => {
        await cluster.stop()
        await durable.stop()
      },
    }
  },
})

/**
 * MongoDB alone (MONGODB_URL, no REDIS_URL): each write a compare-and-set written through
 * (FerretDB: with claims). One instance, so the LRU's entry lifetime (LRU_TTL_MS) never
 * shows: an instance's own writes are visible to it at once.
 */
const mongoOnly = (name: string): Mode => ({
  name,
  available: () => ferretdbSuites(`model-based tests (${name})`),
  startTimeoutMs: FERRETDB_BUILD_TIMEOUT_MS + 60_000,
  ciRunMs: CI_RUN_MS_MONGODB,
  start: async () => mongoStore(),
})

/** Names are what GUIDD_MODEL_MODES selects by (comma-separated). */
export const MODES: Mode[] = [
  embedded('embedded'),
  embedded('embedded-window50', { COMMIT_WINDOW_MS: '50' }),
  withRedis('redis-sqlite', 'sqlite'),
  withRedis('redis-mongodb', 'mongodb'),
  withRedisCluster('redis-cluster-sqlite'),
  mongoOnly('mongodb-only'),
]
