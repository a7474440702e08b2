import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BenchProcess, startBench } from './service'
import { ensureWrk, luaPost, runWrk, type WrkResult } from './wrk'

/**
 * The change feed's cost on writes (embedded mode, POST /guid under wrk -c50, the service pinned
 * to CPU 0 and wrk to CPU 1): guidd without the feed (the commit before it, BENCH_FEED_BASE,
 * default `main`, unpacked with git archive into a temp dir), guidd with the feed and no
 * subscriber, and with 100 subscribers following every event. Rounds are interleaved (each
 * configuration once per round, BENCH_ROUNDS rounds of BENCH_SECONDS), and the medians compared:
 * CPU us per write (what the 10% budget is about) and the write p99.
 *
 *   npx bun run bench/feed.ts     # BENCH_ROUNDS=3 BENCH_SECONDS=3
 */

const root = join(import.meta.dir, '..')
const rounds = Number(Bun.env.BENCH_ROUNDS ?? 3)
const seconds = Number(Bun.env.BENCH_SECONDS ?? 3)
const subscribers = Number(Bun.env.BENCH_SUBSCRIBERS ?? 100)
const baseRef = Bun.env.BENCH_FEED_BASE ?? 'main'
const connections = 50
const pin = availableParallelism() >= 2 && spawnSync('taskset', ['-V']).error === undefined
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100

ensureWrk()
if (pin) spawnSync('taskset', ['-pc', '1', String(process.pid)])
const dir = mkdtempSync(join(tmpdir(), 'guidd-bench-feed-'))

// The baseline: the tree of `baseRef`, with this checkout's node_modules.
const baseline = join(dir, 'baseline')
spawnSync('mkdir', ['-p', baseline])
const archive = spawnSync('sh', ['-c', `git -C '${root}' archive '${baseRef}' | tar -x -C '${baseline}'`])
if (archive.status !== 0) throw new Error(`git archive ${baseRef}: ${archive.stderr}`)
symlinkSync(realpathSync(join(root, 'node_modules')), join(baseline, 'node_modules'))
if (readFileSync(join(baseline, 'src', 'http', 'app.ts'), 'utf8').includes('eventsRoutes')) throw new Error(`${baseRef} already has the change feed: set BENCH_FEED_BASE to a commit before it`)

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

let n = 0
const serve = (from: string): Promise<BenchProcess> => {
  const cmd = [process.execPath, 'run', join(from, 'src', 'main.ts')]
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

type Row = WrkResult & { cpuUs: number }
const load = async (name: string, proc: BenchProcess): Promise<Row> => {
  const before = cpuSeconds(proc.pid)
  const r = await runWrk({ url: `${proc.base}/guid`, lua: luaPost('{"user":"bench"}'), connections, seconds, cpu: pin ? '1' : undefined, dir, name })
  const cpuUs = ((cpuSeconds(proc.pid) - before) * 1e6) / r.requests
  console.log(`# ${name}: ${Math.round(r.rps)} writes/s, p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, ${cpuUs.toFixed(1)} CPU us/write${r.errors ? `, ${r.errors} errors` : ''}`)
  return { ...r, cpuUs }
}

const configs = ['without the feed', 'feed, no subscriber', `feed, ${subscribers} subscribers`] as const
const results = new Map<string, Row[]>(configs.map((c) => [c, []]))
try {
  if (Bun.env.BENCH_ONLY !== 'service') await storeSection()
  if (Bun.env.BENCH_ONLY === 'store') process.exit(0)
  for (let round = 0; round < rounds; round++) {
    for (const config of configs) {
      const proc = await serve(config === 'without the feed' ? baseline : root)
      const subs = config.endsWith('subscribers') ? await subscribe(proc.base, subscribers) : undefined
      // Warm up (JIT, SQLite cache) before the measured load.
      await runWrk({ url: `${proc.base}/guid`, lua: luaPost('{"user":"warm"}'), connections, seconds: 1, cpu: pin ? '1' : undefined, dir, name: 'warm' })
      results.get(config)!.push(await load(`round ${round + 1}, ${config}`, proc))
      if (subs) console.log(`#   the subscribers read ${(subs.bytes() / 1e6).toFixed(1)} MB`)
      subs?.close()
      await proc.stop()
    }
  }
  const base = median(results.get('without the feed')!.map((r) => r.cpuUs))
  console.log(`\n| ${rounds} rounds of ${seconds} s, medians | writes/s | p50 ms | p99 ms | CPU us/write | CPU vs without |`)
  console.log('|---|---|---|---|---|---|')
  for (const config of configs) {
    const rows = results.get(config)!
    const cpu = median(rows.map((r) => r.cpuUs))
    console.log(
      `| ${config} | ${Math.round(median(rows.map((r) => r.rps)))} | ${median(rows.map((r) => r.p50ms))} | ${median(rows.map((r) => r.p99ms))} (${Math.min(...rows.map((r) => r.p99ms))}-${Math.max(...rows.map((r) => r.p99ms))}) | ${cpu.toFixed(1)} | ${((cpu / base - 1) * 100).toFixed(1)}% |`,
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
