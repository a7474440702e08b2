import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Finished, Started } from '../support/process'
import { type BackendKind, startBackend } from './backends'
import { runChecker } from './checker'
import { historyJson, monotonicClock, type RecordedOp } from './history'
import { Pool, type Routing } from './routing'
import { LIST_USERS, perform, requestFor, spreadGuids, startLoad } from './workload'
import { startGuidd } from '../support/guidd-process'

/**
 * One run of the linearizability check: what the instances share, of the run's own
 * (backends.ts: a redis-server, or a FerretDB in MongoDB-only mode), two instances on it,
 * clients sending random operations on a few GUIDs through the run's routing while one
 * instance is killed with SIGKILL and restarted on a new port, and (Redis) the shared server
 * itself is killed and restarted on its data; then, after a pause, every GUID is read on
 * every instance (and, on a shared store, each listing user listed on each), and the history
 * checked with Porcupine.
 */

export interface RunConfig {
  /** Names the run's output folder. */
  id: string
  /** Printed: what the run is. */
  title: string
  /** What the instances share: the mode they run in. */
  backend: BackendKind
  routing: Routing
  /**
   * False: the answers of GETs sent during the load are left out of the check (a read on an
   * instance other than the writer's may trail the write: by the invalidation delay in Redis
   * mode, by LRU_TTL_MS in MongoDB-only mode); every POST, PATCH and DELETE answer, refusals
   * included, is still checked, and so are the final reads, sent after `settleMs`.
   */
  checkReads: boolean
  /**
   * Between the end of the load and the final reads: longer than a read on another instance
   * may trail a write, so every final read is checked. Redis: 500 ms, far above the
   * invalidation delay (max 4-15 ms measured by test/e2e/scale-out.test.ts); MongoDB-only:
   * LRU_TTL_MS (1000 ms) and a margin.
   */
  settleMs: number
  /** Settings added to the instances' environment. */
  serverEnv: Record<string, string>
  /**
   * Redis modes: the instances flush into one MongoDB (FerretDB) rather than a SQLite file
   * each, and clients list GUIDs too (backends.ts). MongoDB-only mode always shares its store.
   */
  sharedStore: boolean
  clients: number
  guids: number
  operations: number
  loadDeadlineMs: number
  /** Each cycle kills an instance (the two in turn), then (Redis) the shared server. */
  faultCycles: number
}

/**
 * The runs every mode's file makes, as its doc comment lists them: GUID-affinity routing with
 * every answer checked; random routing with the reads sent during the load left out; and,
 * when soaking, random routing with the LRU off and every answer checked again.
 */
export const standardRuns = (
  sized: Omit<RunConfig, 'id' | 'title' | 'routing' | 'checkReads' | 'serverEnv' | 'sharedStore'>,
  name: { id: string; title: string },
  soak: boolean,
  /** The runs (1, 2, 3) on a shared store, with listings (Redis modes; MongoDB-only always shares one). */
  sharedStoreRuns: readonly number[] = [1, 2, 3],
): RunConfig[] => {
  const store = (run: number) => (sized.backend === 'mongodb-only' || sharedStoreRuns.includes(run) ? { sharedStore: true, listings: ', listings' } : { sharedStore: false, listings: '' })
  const runs: RunConfig[] = [
    {
      id: `${name.id}affinity-lru`,
      title: `${name.title}run 1 (GUID-affinity routing, LRU on${store(1).listings})`,
      routing: 'affinity',
      checkReads: true,
      serverEnv: {},
      sharedStore: store(1).sharedStore,
      ...sized,
    },
    {
      id: `${name.id}random-lru`,
      title: `${name.title}run 2 (random routing, LRU on, reads during the load left out${store(2).listings})`,
      routing: 'random',
      checkReads: false,
      serverEnv: {},
      sharedStore: store(2).sharedStore,
      ...sized,
    },
  ]
  if (soak)
    runs.push({
      id: `${name.id}random-no-lru`,
      title: `${name.title}run 3 (random routing, LRU off${store(3).listings})`,
      routing: 'random',
      checkReads: true,
      serverEnv: { LRU_MAX_ENTRIES: '0' },
      sharedStore: store(3).sharedStore,
      ...sized,
    })
  return runs
}

export interface RunResult {
  /** The checker's exit code and output. */
  checked: Finished
  /** One paragraph: what ran, what was checked, what happened. */
  summary: string
  /** Operations answered that were sent after the last fault was over (the shared server or the instance back). */
  completedAfterFaults: number
}

const LINES = ['A', 'B'] as const

export const runScenario = async (run: RunConfig): Promise<RunResult> => {
  const began = performance.now()
  const backend = await startBackend(run.backend, run.sharedStore)
  const dir = mkdtempSync(join(tmpdir(), 'guidd-linearizability-'))
  const servers: Started[] = []
  try {
    const extraEnv = JSON.parse(process.env.GUIDD_LINEARIZABILITY_SERVER_ENV || '{}') as Record<string, string>
    /** Instance lines: each restart after a kill keeps its settings (its SQLite file) and takes a new port and name (A, A2, A3...). */
    const lines = LINES.map((line) => ({ line, generation: 1, started: undefined as Started | undefined }))
    const pool = new Pool(LINES, run.routing)
    const startInstance = async (l: (typeof lines)[number]): Promise<void> => {
      const name = l.generation === 1 ? l.line : `${l.line}${l.generation}`
      const s = await startGuidd({
        name: `guidd ${name}`,
        started: servers,
        ready: '/readyz',
        env: {
          ...backend.env(l.line, dir),
          LOG_LEVEL: 'warn',
          HOST: '127.0.0.1',
          // Empty is unset: none of the runner's own settings leak in.
          API_KEYS: '',
          // An Idempotency-Key's claim left by a killed instance holds for this + 1 s: short
          // enough that retries under the key get past it (and take it over) within the run.
          REQUEST_TIMEOUT_MS: '3000',
          ...run.serverEnv,
          ...extraEnv,
        },
      })
      l.started = s
      pool.add({ line: l.line, name, base: s.base })
    }
    await Promise.all(lines.map(startInstance))

    const clock = monotonicClock()
    const guids = spreadGuids(run.guids, LINES)
    const deadline = Date.now() + run.loadDeadlineMs
    const load = startLoad({
      clients: run.clients,
      guids,
      pool,
      operations: run.operations,
      deadline,
      clock,
      expireBase: Math.floor(Date.now() / 1000) + 10 * 86_400,
      checkReads: run.checkReads,
      listings: backend.sharedStore,
      keyPrefix: `lin-${process.pid}-${Date.now().toString(36)}`,
    })
    /**
     * Waits until the clients have recorded `fraction` of the operations, or `fraction` of the
     * load's time has passed, whichever comes first: on a slow server (FerretDB stalls) the
     * faults still land early enough for the run to go on after them.
     */
    const loadStart = Date.now()
    const reached = async (fraction: number) => {
      const by = loadStart + fraction * run.loadDeadlineMs
      while (load.ops.length < fraction * run.operations && Date.now() < by) await Bun.sleep(5)
    }
    const kills = { instance: 0, shared: 0 }
    let faultsOverAt = 0

    for (let cycle = 0; cycle < run.faultCycles; cycle++) {
      // 1. kill -9 of an instance mid-run, requests in flight on it; clients find it dead
      // (no answer) until it leaves the pool, as a load balancer would, and its GUIDs go to
      // the other one (under affinity routing, only while it is down); it comes back (same
      // SQLite file) on a new port.
      await reached((cycle + 0.25) / run.faultCycles)
      const victim = lines[cycle % lines.length]!
      await victim.started!.kill9()
      pool.remove(victim.line)
      kills.instance++
      victim.generation++
      await startInstance(victim)
      faultsOverAt = clock()

      // 2. kill -9 of the shared server mid-run (Redis: it comes back on the same port from its AOF).
      if (backend.crash !== undefined) {
        await reached((cycle + 0.55) / run.faultCycles)
        await backend.crash()
        kills.shared++
        faultsOverAt = clock()
      }
    }

    await load.done
    // 3. After the load and a pause: every GUID read on every instance, one at a time, checked.
    // Time itself is the subject: the pause is the bound in time the mode gives for a read on
    // another instance to catch up (LRU_TTL_MS, the invalidation delay), and no event marks it.
    await Bun.sleep(run.settleMs)
    const finalClient = 1_000_000
    for (const guid of guids) {
      for (const target of pool.all()) load.ops.push((await perform(requestFor('get', guid, {}), target, finalClient, clock)).op)
    }
    if (backend.sharedStore) {
      for (const user of LIST_USERS) {
        for (const target of pool.all()) load.ops.push((await perform(requestFor('list', '', { user, limit: 10 }), target, finalClient, clock)).op)
      }
    }

    const ops = load.ops
    const out = outputFolder(run.id)
    const historyPath = join(out.dir, 'history.json')
    writeFileSync(historyPath, historyJson(ops))
    const checkStarted = performance.now()
    const checked = await runChecker(historyPath, out.dir)
    const checkMs = performance.now() - checkStarted
    const failed = checked.code !== 0
    if (!failed && !out.kept) rmSync(out.dir, { recursive: true, force: true })

    const completedAfterFaults = ops.filter((op) => op.return !== undefined && op.invoke > faultsOverAt).length
    const summary = [
      `linearizability, ${run.title}: ${ops.length} operations by ${run.clients} clients on ${guids.length} GUIDs, ${describeChecked(ops, run.backend)}`,
      `  ${ops.filter((op) => op.return === undefined).length} indeterminate; kills: ${kills.instance} instance${backend.crash ? `, ${kills.shared} ${backend.name}` : ''}; ${completedAfterFaults} completed after the last fault; statuses: ${statusCounts(ops)}; by instance: ${instanceCounts(ops)}`,
      `  run ${((performance.now() - began) / 1000).toFixed(1)} s, of which the check ${checkMs.toFixed(0)} ms${failed ? `; FAILED (exit ${checked.code}): history and visualisations in ${out.dir}` : ''}`,
    ].join('\n')
    return { checked, summary, completedAfterFaults }
  } finally {
    // At once: an instance with requests stuck in flight (a GUID held by a dead instance's claim) takes its whole grace.
    await Promise.all(servers.map((s) => s.stop(2_000)))
    await backend.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** What the checker judged: every answer, or all but the reads sent during the load, and why. */
const describeChecked = (ops: RecordedOp[], backend: BackendKind): string => {
  const unchecked = ops.filter((op) => op.unchecked).length
  const pages = ops.filter((op) => op.kind === 'list')
  const reads = ops.filter((op) => op.kind === 'get').length - unchecked
  const writes = ops.filter((op) => op.kind !== 'get' && op.kind !== 'list').length
  const keyed = new Set(ops.flatMap((op) => (op.input.key === undefined ? [] : [op.input.key])))
  const keyedAttempts = ops.filter((op) => op.input.key !== undefined).length
  const replayed = ops.filter((op) => op.output?.replayed).length
  // Keys whose first attempt had no answer (a kill, a 5xx, a 409 while in flight) and a later one had.
  const firstLost = new Set<string>()
  const resolved = new Set<string>()
  for (const op of ops) {
    const key = op.input.key
    if (key === undefined) continue
    if (op.return === undefined && !resolved.has(key)) firstLost.add(key)
    if (op.return !== undefined) resolved.add(key)
  }
  const retriedAfterLoss = [...firstLost].filter((key) => resolved.has(key)).length
  const extra =
    `${pages.length} listing pages (${pages.filter((op) => op.return === undefined).length} unanswered), ` +
    `${keyed.size} keyed writes in ${keyedAttempts} attempts (${replayed} answers replayed; ${retriedAfterLoss} answered only on a retry after an attempt with no answer)`
  if (unchecked === 0) return `all checked (${writes} writes and refusals, ${reads} reads, ${extra})`
  return (
    `${writes + reads + pages.length} checked (${writes} writes and refusals, ${reads} final reads, ${extra}); ` +
    `${unchecked} GET answers during the load left out: sent to any instance, a read may trail another instance's acknowledged write ` +
    (backend === 'redis'
      ? 'by the invalidation delay (the contract; measured by test/e2e/scale-out.test.ts)'
      : 'by LRU_TTL_MS (the contract of MongoDB-only mode; measured by test/e2e/mongo-only-scale.test.ts)')
  )
}

/** Operations per instance (the name before any error in `meta`): under affinity routing, the other line's share is the failover. */
const instanceCounts = (ops: RecordedOp[]): string => {
  const counts = new Map<string, number>()
  for (const op of ops) {
    const name = (op.meta ?? '?').split(':')[0]!
    counts.set(name, (counts.get(name) ?? 0) + 1)
  }
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}=${n}`)
    .join(' ')
}

const statusCounts = (ops: RecordedOp[]): string => {
  const statuses = new Map<string, number>()
  for (const op of ops) {
    const key = op.output ? String(op.output.status) : 'no answer'
    statuses.set(key, (statuses.get(key) ?? 0) + 1)
  }
  return [...statuses].map(([s, n]) => `${s}=${n}`).join(' ')
}

/** $GUIDD_LINEARIZABILITY_OUT/<run> (kept), else a temp folder (kept only on failure). */
const outputFolder = (id: string): { dir: string; kept: boolean } => {
  const base = process.env.GUIDD_LINEARIZABILITY_OUT
  if (!base) return { dir: mkdtempSync(join(tmpdir(), `guidd-linearizability-${id}-`)), kept: false }
  const dir = join(base, id)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return { dir, kept: true }
}
