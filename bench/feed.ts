import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { attack, ohaBinary } from './rate'
import { type BenchProcess, startBench } from './service'
import { ensureWrk, luaPost, runWrk, type WrkResult } from './wrk'

/**
 * The change feed's cost on writes, embedded mode, three ways (docs/feed.md):
 *
 * 1. store: the SQLite transaction of a group commit (batches of 100 creates) with and without
 *    the changes' rows, in-process;
 * 2. write: a whole POST /guid in-process (app.handle: validation, actor, group commit, LRU,
 *    answer), the same code with and without the feed (createRuntime's `withoutFeed`), CPU per
 *    write of the whole process (every thread). No socket: the HTTP server's share of a real
 *    write only adds to both sides, so the ratio here is an upper bound on the feed's share;
 * 3. service: POST /guid with no subscriber and with BENCH_SUBSCRIBERS (100) streams following
 *    every event, the service pinned to CPU 0 and the generators to CPU 1: saturated under wrk
 *    -c50 (throughput, CPU per write), then at a steady BENCH_FEED_RATE (3,000/s) through oha,
 *    whose p99 is the write p99 a crowd of subscribers leaves (a saturated p99 is the queue's).
 *
 * Every part interleaves its configurations and reports medians.
 *
 *   npx bun run bench/feed.ts     # BENCH_ROUNDS=3 BENCH_SECONDS=3 BENCH_WRITE_ROUNDS=15
 *   BENCH_ONLY=store|write|service runs one part.
 */

const root = join(import.meta.dir, '..')
const rounds = Number(Bun.env.BENCH_ROUNDS ?? 3)
const seconds = Number(Bun.env.BENCH_SECONDS ?? 3)
const writeRounds = Number(Bun.env.BENCH_WRITE_ROUNDS ?? 15)
const subscribers = Number(Bun.env.BENCH_SUBSCRIBERS ?? 100)
const steadyRate = Number(Bun.env.BENCH_FEED_RATE ?? 3_000)
const only = Bun.env.BENCH_ONLY
const connections = 50
const pin = availableParallelism() >= 2 && spawnSync('taskset', ['-V']).error === undefined
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100

const dir = mkdtempSync(join(tmpdir(), 'guidd-bench-feed-'))

const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * The part of a write the feed adds below HTTP, alone and in-process: the SQLite transaction of a
 * group commit (batches of 100 creates of random GUIDs) with and without the changes' rows, and
 * changesOf itself. Interleaved batches, medians: far steadier than a whole service under wrk on
 * a shared machine.
 */
const storeSection = async (): Promise<void> => {
  const { SqliteStore } = await import('../src/adapters/sqlite/store')
  const { changesOf } = await import('../src/domain/change')
  const { systemClock } = await import('../src/domain/clock')
  const make = (name: string, withFeed: boolean) => {
    const store = new SqliteStore({ path: join(dir, `${name}.sqlite`), synchronous: 'NORMAL', checkpointThread: false })
    if (withFeed) store.openEventLog({ clock: systemClock, retentionSeconds: 86_400 })
    return store
  }
  const plain = make('plain', false)
  const fed = make('fed', true)
  const now = Math.floor(Date.now() / 1000)
  const batch = (withChanges: boolean) =>
    Array.from({ length: 100 }, () => {
      const next = { guid: crypto.randomUUID().replaceAll('-', '').toUpperCase(), user: 'bench', expire: now + 3_600, version: now * 1_000_000 + 1 }
      return withChanges ? { next, prevVersion: 0, changes: changesOf(null, next, now) } : { next, prevVersion: 0 }
    })
  const times = { plain: [] as number[], fed: [] as number[] }
  for (let i = 0; i < 400; i++) {
    for (const [name, store, withChanges] of [
      ['plain', plain, false],
      ['fed', fed, true],
    ] as const) {
      const t0 = performance.now()
      store.applyBatchSync(batch(withChanges))
      times[name].push(((performance.now() - t0) * 1000) / 100)
    }
  }
  const p = median(times.plain.slice(50))
  const f = median(times.fed.slice(50))
  console.log(`\n## The store commit per write (in-process, batches of 100 creates, 350 batches each, interleaved, medians)`)
  console.log(`| | us per write |\n|---|---|\n| without the feed | ${p.toFixed(2)} |\n| with the event row and changesOf | ${f.toFixed(2)} (+${(f - p).toFixed(2)} us) |`)
  await plain.close()
  await fed.close()
}

/**
 * A whole create in-process, the same code with and without the feed: BENCH_WRITE_ROUNDS rounds,
 * each runs PER_ROUND creates on each app in turn (500 at a time, as concurrent clients would, so
 * the group commit batches them) and takes the main thread's CPU time per create.
 */
const PER_ROUND = 5_000
/** On-CPU time of this process's main thread (ns, from the scheduler): the request path, SQLite's calls included, without the checkpoint thread, whose bursts would fall in whichever round they happen to. */
const mainThreadNs = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])

const writeSection = async (): Promise<void> => {
  const { createTestApp } = await import('../test/support/app')
  const apps = { without: await createTestApp({}, { withoutFeed: true }), with: await createTestApp({}) }
  const cpu = { without: [] as number[], with: [] as number[] }
  const body = JSON.stringify({ user: 'bench' })
  const creates = async (app: (typeof apps)['with'], count: number) => {
    for (let done = 0; done < count; done += 500) {
      const answers = await Promise.all(
        Array.from({ length: 500 }, () => app.runtime.app.handle(new Request('http://localhost/guid', { method: 'POST', headers: { 'content-type': 'application/json' }, body }))),
      )
      if (answers.some((r) => r.status !== 201)) throw new Error(`a create answered ${answers.find((r) => r.status !== 201)!.status}`)
    }
  }
  for (const app of Object.values(apps)) await creates(app, 4_000)
  for (let round = 0; round < writeRounds; round++) {
    for (const name of round % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const)) {
      const before = mainThreadNs()
      await creates(apps[name], PER_ROUND)
      cpu[name].push((mainThreadNs() - before) / 1_000 / PER_ROUND)
    }
  }
  const w = median(cpu.without)
  const f = median(cpu.with)
  // Each round's pair ran back to back: the median of their ratios cancels the machine's drift between rounds.
  const paired = cpu.with.map((x, i) => x / cpu.without[i]! - 1).sort((a, b) => a - b)
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`
  console.log(`\n## A whole create in-process (app.handle, 500 concurrent, ${writeRounds} rounds of ${PER_ROUND} each, interleaved, medians of the main thread's CPU us per create)`)
  console.log(`| | CPU us per create | range |\n|---|---|---|`)
  console.log(`| without the feed | ${w.toFixed(1)} | ${Math.min(...cpu.without).toFixed(1)}-${Math.max(...cpu.without).toFixed(1)} |`)
  console.log(`| with the feed, no subscriber | ${f.toFixed(1)} | ${Math.min(...cpu.with).toFixed(1)}-${Math.max(...cpu.with).toFixed(1)} |`)
  console.log(
    `\nThe feed's share: ${pct(f / w - 1)} of the medians; ${pct(median(paired))} the median of the ${writeRounds} rounds' paired ratios (quartiles ${pct(paired[Math.floor(paired.length / 4)]!)} to ${pct(paired[Math.floor((3 * paired.length) / 4)]!)}).`,
  )
  for (const app of Object.values(apps)) await app.close()
}

let n = 0
const serve = (): Promise<BenchProcess> => {
  const cmd = [process.execPath, 'run', join(root, 'src', 'main.ts')]
  return startBench({
    cmd: pin ? ['taskset', '-c', '0', ...cmd] : cmd,
    env: { SQLITE_PATH: join(dir, `s${++n}.sqlite`), LOG_LEVEL: 'warn', MAX_EVENT_STREAMS: String(subscribers + 10) },
    cwd: dir,
    output: join(dir, `s${n}.log`),
  })
}

/** `count` streams reading every event as it comes (what a subscriber costs the service: the stream, its writes to the socket). */
const subscribe = async (base: string, count: number) => {
  const controllers = Array.from({ length: count }, () => new AbortController())
  let bytes = 0
  await Promise.all(
    controllers.map(async (c) => {
      const res = await fetch(`${base}/events`, { signal: c.signal })
      const reader = res.body!.getReader()
      void (async () => {
        try {
          for (;;) {
            const chunk = await reader.read()
            if (chunk.done) return
            bytes += chunk.value.length
          }
        } catch {
          // aborted
        }
      })()
    }),
  )
  return {
    bytes: () => bytes,
    close: () => {
      for (const c of controllers) c.abort()
    },
  }
}

type Row = WrkResult & { cpuUs: number; steadyP99ms: number }
/** Saturated (wrk -c50: throughput, CPU per write), then at a steady BENCH_FEED_RATE (oha, no coordinated omission: the write p99 subscribers leave). */
const load = async (name: string, proc: BenchProcess, oha: string): Promise<Row> => {
  const before = cpuSeconds(proc.pid)
  const r = await runWrk({ url: `${proc.base}/guid`, lua: luaPost('{"user":"bench"}'), connections, seconds, cpu: pin ? '1' : undefined, dir, name })
  const cpuUs = ((cpuSeconds(proc.pid) - before) * 1e6) / r.requests
  const steady = await attack(oha, dir, `${name}-steady`.replaceAll(/[^a-z0-9-]/gi, '-'), { method: 'POST', urls: [`${proc.base}/guid`], body: '{"user":"bench"}' }, steadyRate, seconds, pin)
  console.log(
    `# ${name}: ${Math.round(r.rps)} writes/s, p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, ${cpuUs.toFixed(1)} CPU us/write${r.errors ? `, ${r.errors} errors` : ''}; at ${steadyRate}/s: p99 ${steady.p99ms.toFixed(2)} ms, max ${steady.maxMs.toFixed(2)} ms`,
  )
  return { ...r, cpuUs, steadyP99ms: steady.p99ms }
}

const serviceSection = async (): Promise<void> => {
  ensureWrk()
  const oha = ohaBinary()
  if (pin) spawnSync('taskset', ['-pc', '1', String(process.pid)])
  const configs = ['no subscriber', `${subscribers} subscribers`] as const
  const results = new Map<string, Row[]>(configs.map((c) => [c, []]))
  for (let round = 0; round < rounds; round++) {
    for (const config of configs) {
      const proc = await serve()
      const subs = config === 'no subscriber' ? undefined : await subscribe(proc.base, subscribers)
      // Warm up (JIT, SQLite cache) before the measured load.
      await runWrk({ url: `${proc.base}/guid`, lua: luaPost('{"user":"warm"}'), connections, seconds: 1, cpu: pin ? '1' : undefined, dir, name: 'warm' })
      results.get(config)!.push(await load(`round ${round + 1}, ${config}`, proc, oha))
      if (subs) console.log(`#   the subscribers read ${(subs.bytes() / 1e6).toFixed(1)} MB`)
      subs?.close()
      await proc.stop()
    }
  }
  const base = median(results.get('no subscriber')!.map((r) => r.cpuUs))
  console.log(`\n## POST /guid under wrk -c50 (${rounds} rounds of ${seconds} s, medians)`)
  console.log(`| | writes/s | p50 ms | p99 ms (range) | CPU us/write | CPU vs no subscriber | p99 ms at ${steadyRate}/s (range) |`)
  console.log('|---|---|---|---|---|---|---|')
  for (const config of configs) {
    const rows = results.get(config)!
    const cpu = median(rows.map((r) => r.cpuUs))
    console.log(
      `| ${config} | ${Math.round(median(rows.map((r) => r.rps)))} | ${median(rows.map((r) => r.p50ms))} | ${median(rows.map((r) => r.p99ms))} (${Math.min(...rows.map((r) => r.p99ms))}-${Math.max(...rows.map((r) => r.p99ms))}) | ${cpu.toFixed(1)} | ${((cpu / base - 1) * 100).toFixed(1)}% | ${median(rows.map((r) => r.steadyP99ms)).toFixed(2)} (${Math.min(...rows.map((r) => r.steadyP99ms)).toFixed(2)}-${Math.max(...rows.map((r) => r.steadyP99ms)).toFixed(2)}) |`,
    )
  }
}

try {
  if (only === undefined || only === 'store') await storeSection()
  if (only === undefined || only === 'write') await writeSection()
  if (only === undefined || only === 'service') await serviceSection()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
