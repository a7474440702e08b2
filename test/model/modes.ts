import { join } from 'node:path'
import { redisSuites } from '../support/redis'
import { mountSmallDisk, type SmallDisk } from './disk'
import type { Model } from './model'
import { startModelRedis } from './redis-server'
import type { Service } from './service'

/**
 * The configurations the model runs against. A mode is a small factory: whether it can run
 * here, and what to start (its backing processes and the service's environment), plus the
 * faults it can inject. Adding a mode is adding one entry to MODES, e.g. MongoDB:
 * `withRedis('redis-mongodb', { MONGODB_URL: url }, () => url !== undefined)`.
 */

/** A fault the model can inject between requests, with what it means for the model. */
export interface Fault {
  name: string
  /** For the replay script: what a human does at this point. */
  howTo: string
  /** Creates sent at once right after it (a full disk bites only when a write needs new space). */
  load?: number
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
}

/** A readiness failure this long after the disk was freed is a failure of the service. */
const RECOVERY_TIMEOUT_MS = 10_000

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
        },
      },
    ],
    reset: async (service) => {
      if (full) await free(service)
    },
  }
}

const embedded = (name: string, env: Record<string, string> = {}): Mode => ({
  name,
  available: () => true,
  start: async (dir) => {
    const disk = mountSmallDisk(dir)
    const { faults, reset } = diskFaults(disk, name)
    return {
      env: { SQLITE_PATH: join(disk?.dir ?? dir, 'guidd.sqlite'), ...env },
      faults,
      reset,
      stop: async () => disk?.unmount(),
    }
  },
})

/** Redis (its own redis-server, AOF fsynced before every reply) as cache and journal, SQLite (or `env`'s store) behind it. */
const withRedis = (name: string, env: Record<string, string> = {}, enabled: () => boolean = () => true): Mode => ({
  name,
  available: () => enabled() && redisSuites(`model-based tests (${name})`),
  start: async (dir) => {
    const redis = await startModelRedis()
    const disk = mountSmallDisk(dir)
    const { faults, reset } = diskFaults(disk, name)
    const redisCrash: Fault = {
      name: 'redis-kill-9',
      howTo: 'kill -9 redis-server and start it again on the same port and AOF (appendfsync always)',
      canRun: () => true,
      run: async (_m, service) => {
        await redis.crashAndRestart()
        await service.waitReady()
      },
    }
    return {
      env: {
        REDIS_URL: redis.url,
        REDIS_PREFIX: 'model:',
        SQLITE_PATH: join(disk?.dir ?? dir, 'guidd.sqlite'),
        // A restarted instance claims the dead one's unflushed journal entries this soon (default 30 s).
        JOURNAL_CLAIM_IDLE_MS: '200',
        ...env,
      },
      faults: [...faults, redisCrash],
      reset,
      stop: async () => {
        await redis.stop()
        disk?.unmount()
      },
    }
  },
})

/** Names are what GUIDD_MODEL_MODES selects by (comma-separated). */
export const MODES: Mode[] = [embedded('embedded'), embedded('embedded-window50', { COMMIT_WINDOW_MS: '50' }), withRedis('redis-sqlite')]
