import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Started, startProcess, waitForHttp } from '../support/process'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'
import { CHECKER_EXIT, checkerBinary, checkerSuites, runChecker } from './checker'
import { historyJson, monotonicClock } from './history'
import { Pool, perform, randomGuid, requestFor, startLoad } from './workload'

/**
 * Linearizability of the Redis mode under faults: two instances on one Redis, clients
 * sending random creates, upserts, create-onlys, reads, patches and deletes (half of the
 * updates conditional) on a few GUIDs to random instances, while one instance is killed
 * with SIGKILL and restarted on a new port, and Redis itself is killed and restarted on
 * the same port and AOF. Every operation is recorded and the whole history checked with
 * Porcupine (test/linearizability/checker): per GUID, some order of the operations,
 * consistent with real time, must explain every answer.
 *
 * Redis runs with appendfsync always: the service promises that an acknowledged write is
 * durable in Redis with AOF, so a kill -9 of Redis must lose none (with everysec, the
 * last second of writes may be lost, which this check would rightly report).
 *
 * GUIDD_SOAK=1 runs ten times the operations and six fault cycles; GUIDD_LINEARIZABILITY_OUT
 * names the folder for the history and, on failure, the visualisation (default: a temp
 * folder, kept only on failure); GUIDD_LINEARIZABILITY_SERVER_ENV, a JSON object, adds
 * settings to the instances (e.g. '{"LRU_MAX_ENTRIES":"0"}' to take the LRU out).
 */

const root = join(import.meta.dir, '..', '..')
const SERVER_CMD = [process.execPath, 'run', join(root, 'src', 'main.ts')]

const SOAK = process.env.GUIDD_SOAK === '1'
const CLIENTS = 10
const GUIDS = 4
const OPERATIONS = SOAK ? 40_000 : 4_000
const LOAD_DEADLINE_MS = SOAK ? 600_000 : 35_000
/** Each cycle kills an instance (the two in turn), then Redis. */
const FAULT_CYCLES = SOAK ? 6 : 1
/** How long Redis stays down: long enough that requests meet it down. */
const REDIS_DOWN_MS = 600

const enabled = redisSuites('linearizability in Redis mode') && checkerSuites('linearizability in Redis mode')
let redis: TestRedis
let dir: string
const servers: Started[] = []

beforeAll(async () => {
  if (!enabled) return
  // Built (once per version of its sources) before the clock of any test starts.
  await checkerBinary()
  redis = await startRedis({ appendfsync: 'always' })
  dir = mkdtempSync(join(tmpdir(), 'guidd-linearizability-'))
}, 300_000)

afterAll(async () => {
  if (!enabled) return
  for (const s of servers) await s.stop(2_000)
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(!enabled)('Redis mode, two instances, kill -9 of one and of Redis', () => {
  test(
    'every GUID history is linearizable',
    async () => {
      const prefix = redis.prefix()
      const serverEnv = JSON.parse(process.env.GUIDD_LINEARIZABILITY_SERVER_ENV || '{}') as Record<string, string>
      /** Instance lines: each restart after a kill keeps its SQLite file and takes a new port and name (A, A2, A3...). */
      const lines = ['A', 'B'].map((line) => ({ line, generation: 1, name: line, started: undefined as Started | undefined }))
      const pool = new Pool()
      const startInstance = async (l: (typeof lines)[number]): Promise<void> => {
        l.name = l.generation === 1 ? l.line : `${l.line}${l.generation}`
        const s = await startProcess({
          cmd: SERVER_CMD,
          cwd: root,
          name: `guidd ${l.name}`,
          env: {
            REDIS_URL: redis.url,
            REDIS_PREFIX: prefix,
            SQLITE_PATH: join(dir, `${l.line}.sqlite`),
            FLUSH_INTERVAL_MS: '20',
            JOURNAL_CLAIM_IDLE_MS: '500',
            LOG_LEVEL: 'warn',
            HOST: '127.0.0.1',
            // Empty is unset: none of the runner's own settings leak in.
            MONGODB_URL: '',
            API_KEYS: '',
            ...serverEnv,
          },
        })
        servers.push(s)
        await waitForHttp(`http://127.0.0.1:${s.port}/readyz`, s)
        l.started = s
        pool.add(l.name, `http://127.0.0.1:${s.port}`)
      }
      await Promise.all(lines.map(startInstance))

      const clock = monotonicClock()
      const guids = Array.from({ length: GUIDS }, randomGuid)
      const deadline = Date.now() + LOAD_DEADLINE_MS
      const load = startLoad({ clients: CLIENTS, guids, pool, operations: OPERATIONS, deadline, clock, expireBase: Math.floor(Date.now() / 1000) + 10 * 86_400 })
      /** Waits until the clients have recorded `fraction` of the operations (bounded by the load's deadline). */
      const reached = async (fraction: number) => {
        while (load.ops.length < fraction * OPERATIONS && Date.now() < deadline) await Bun.sleep(5)
      }
      const kills = { instance: 0, redis: 0 }
      let redisRestartedAt = 0

      for (let cycle = 0; cycle < FAULT_CYCLES; cycle++) {
        // 1. kill -9 of an instance mid-run, clients sending to it; it comes back (same SQLite
        // file) on a new port, and clients use it again.
        await reached((cycle + 0.25) / FAULT_CYCLES)
        const victim = lines[cycle % lines.length]!
        await victim.started!.kill9()
        kills.instance++
        pool.remove(victim.name)
        victim.generation++
        await startInstance(victim)

        // 2. kill -9 of Redis mid-run; it comes back on the same port from its AOF.
        await reached((cycle + 0.55) / FAULT_CYCLES)
        await redis.kill9()
        kills.redis++
        await Bun.sleep(REDIS_DOWN_MS)
        await redis.restart()
        redisRestartedAt = clock()
      }

      await load.done
      // 3. After the load: every GUID read on every instance, one at a time.
      const finalClient = 1_000_000
      for (const guid of guids) {
        for (const target of pool.all()) load.ops.push((await perform(requestFor('get', guid, {}), target, finalClient, clock)).op)
      }

      const ops = load.ops
      const unknown = ops.filter((op) => op.return === undefined)
      const statuses = new Map<string, number>()
      for (const op of ops) {
        const key = op.output ? String(op.output.status) : 'no answer'
        statuses.set(key, (statuses.get(key) ?? 0) + 1)
      }
      const completedAfterRedis = ops.filter((op) => op.return !== undefined && op.invoke > redisRestartedAt).length

      const out = process.env.GUIDD_LINEARIZABILITY_OUT || mkdtempSync(join(tmpdir(), 'guidd-linearizability-out-'))
      const historyPath = join(out, 'history.json')
      writeFileSync(historyPath, historyJson(ops))
      const started = performance.now()
      const checked = await runChecker(historyPath, out)
      const checkMs = performance.now() - started

      console.log(
        `linearizability (Redis mode${SOAK ? ', soak' : ''}): ${ops.length} operations recorded by ${CLIENTS} clients on ${GUIDS} GUIDs (${guids.length} histories checked, in ${checkMs.toFixed(0)} ms); ` +
          `${unknown.length} indeterminate; kills: ${kills.instance} instance, ${kills.redis} Redis; ${completedAfterRedis} completed after Redis came back; ` +
          `statuses: ${[...statuses].map(([s, n]) => `${s}=${n}`).join(' ')}`,
      )
      console.log(checked.stdout + checked.stderr)
      if (checked.code !== CHECKER_EXIT.linearizable) {
        console.log(`linearizability check FAILED (exit ${checked.code}); history and visualisations in ${out}`)
      } else if (!process.env.GUIDD_LINEARIZABILITY_OUT) {
        rmSync(out, { recursive: true, force: true })
      }
      expect(checked.code).toBe(CHECKER_EXIT.linearizable)
      // The faults happened mid-run and the service recovered from both.
      expect(completedAfterRedis).toBeGreaterThan(CLIENTS)
    },
    SOAK ? 900_000 : 90_000,
  )
})
