/**
 * `npm run bench`: every figure of issue 11 in one run, each load beside a bare Bun.serve
 * measured in the same run (before and after the service loads; the ratio is to their mean).
 *
 * Sections (BENCH_ONLY picks some, comma-separated; all by default):
 * - get            the hot GET's ratios, interleaved: the bare server, the contract's floor (the
 *                  router, a record's headers, the request headers a GET reads), that + the
 *                  request log, guidd at info and at warn, all started at once and loaded in
 *                  turn for BENCH_GET_ROUNDS rounds of BENCH_GET_SECONDS each; each ratio is to
 *                  the bare server's load of the same round, and the median over rounds is what
 *                  is reported (this machine's speed moves by a third within seconds)
 * - floors         the stack alone (bench/floor-server.ts): GET through the router, + a record's
 *                  headers, POST with its body, + guidd's group commit, + guidd's Redis journal
 *                  append, + one MongoDB insert (FerretDB; when a MongoDB section runs too); no
 *                  guidd request code (the GET's whole floors are in section get)
 * - components     each component of a request alone, in-process (bench/floors.ts, `npm run
 *                  bench:floors`), on the service's core
 * - embedded       the default config (`npm start`: request log at info, to a file), GET hot, POST, PATCH, PATCH of one GUID
 * - embedded-warn  the same at LOG_LEVEL=warn
 * - redis          Redis mode (a redis-server of its own, AOF everysec, SQLite store), info; the flusher's rate and lag; GET via Redis
 * - redis-warn     the same at warn
 * - mongo          MongoDB-only mode against FerretDB (test/support/ferretdb.ts; built with Go on first use)
 * - redis-mongo    Redis + MongoDB (FerretDB): the flusher's sustained rate and lag under the POST load
 * - million        LRU_MAX_ENTRIES=1000000: creates until a million GUIDs are cached, the write rate
 *                  at the first and the millionth, RSS and heap per cached GUID, the worst latency
 * - start          dist/guidd (built if missing) from exec to the first 200 on /healthz
 * - rate           latency at a constant offered rate (bench/rate.ts, `npm run bench:rate`): oha
 *                  at 25/50/75% of the saturated rate, p50/p99/p99.9/max, beside guidd's floors
 *                  (get-log, post-commit) and the bare server
 * - listing        GET /guid?user= pages of 100 of a user holding 100k of 1M GUIDs, embedded
 *                  (bench/listing.ts, `npm run bench:listing`; 20k of 200k when quick)
 *
 * On 2+ cores the service is pinned to CPU 0 and wrk (with Redis, FerretDB and this process) to
 * CPU 1 (taskset), as figures are otherwise noise.
 *
 * Env: BENCH_QUICK=1 (3 s loads, a 2,000-GUID pool, 200,000 instead of a million, no FerretDB
 * sections unless BENCH_ONLY names them), BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_POOL
 * (10000 GUIDs for PATCH), BENCH_MILLION (1000000), BENCH_PIN (1; 0: no taskset), BENCH_ONLY,
 * BENCH_SERVICE_ROOT (the checkout whose src/main.ts is measured; this one by default),
 * BENCH_GET_ROUNDS (12; 4 quick), BENCH_GET_SECONDS (2), BENCH_RESULTS (the results file,
 * bench/RESULTS.md; `-` writes none).
 *
 * The report is printed and written to the results file with the date, machine and commit
 * (bench/results.ts), so the latest figures never have to be copied by hand.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { redisAvailable, startRedis } from '../test/support/redis'
import { freePort } from '../test/support/children'
import { benchListing, listingTable } from './listing'
import { benchRate, rateMarkdown } from './rate'
import { writeResults } from './results'
import { type BenchProcess, firstHealthy, metricOf, scrape, startBench } from './service'
import { ensureWrk, luaPatchPool, luaPost, runWrk, type WrkResult } from './wrk'

const quick = Bun.env.BENCH_QUICK === '1'
const seconds = Number(Bun.env.BENCH_SECONDS ?? (quick ? 3 : 10))
const connections = Number(Bun.env.BENCH_CONNECTIONS ?? 50)
const poolSize = Number(Bun.env.BENCH_POOL ?? (quick ? 2_000 : 10_000))
const million = Number(Bun.env.BENCH_MILLION ?? (quick ? 200_000 : 1_000_000))
const ALL = ['get', 'floors', 'components', 'embedded', 'embedded-warn', 'redis', 'redis-warn', 'mongo', 'redis-mongo', 'million', 'start', 'rate', 'listing']
const only = (Bun.env.BENCH_ONLY ?? (quick ? ALL.filter((s) => !s.includes('mongo')).join(',') : ALL.join(','))).split(',')
const pin = Bun.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && spawnSync('taskset', ['-V']).error === undefined
const root = join(import.meta.dir, '..')
/** The service under test: this checkout, or another (BENCH_SERVICE_ROOT, e.g. a worktree of an older commit, for an A/B). */
const serviceRoot = Bun.env.BENCH_SERVICE_ROOT ?? root
const dir = mkdtempSync(join(tmpdir(), 'guidd-bench-'))
/** USER_HZ: the unit of /proc/<pid>/stat's CPU times (100 on Linux everywhere this runs). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100

ensureWrk()
// This process only prepares data and samples metrics: it stays off the service's core.
if (pin) spawnSync('taskset', ['-pc', '1', String(process.pid)])

const pinned = (cmd: string[]) => (pin ? ['taskset', '-c', '0', ...cmd] : cmd)
const bun = (script: string, from = root) => pinned([process.execPath, 'run', join(from, script)])
let services = 0
const serve = (cmd: string[], env: Record<string, string>): Promise<BenchProcess> =>
  startBench({ cmd, env: { SQLITE_PATH: join(dir, `s${++services}.sqlite`), ...env }, cwd: dir, output: join(dir, `s${services}.log`) })

type Measured = WrkResult & { cpuUs?: number }

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** CPU seconds the process has used so far, every thread (/proc/<pid>/stat utime + stime). */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/**
 * One wrk load against `proc` (a guidd, a floor or the bare server), with its CPU time per
 * request over the load, every thread: on a machine other work shares, this moves far less
 * than req/s, so it is what an A/B of a lever compares.
 */
const load = async (name: string, url: string, lua: string | undefined, proc: BenchProcess, duration = seconds): Promise<Measured> => {
  const cpuBefore = cpuSeconds(proc.pid)
  const r: Measured = await runWrk({ url, lua, connections, seconds: duration, cpu: pin ? '1' : undefined, dir, name })
  r.cpuUs = ((cpuSeconds(proc.pid) - cpuBefore) * 1e6) / r.requests
  console.log(`# ${name}: ${Math.round(r.rps)} req/s, p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, max ${r.maxMs} ms, ${r.cpuUs.toFixed(1)} CPU us/req${r.errors ? `, ${r.errors} errors` : ''}`)
  return r
}

/** Samples the service's metrics while a load runs: the flusher's rate and worst lag, the event loop's worst lag. */
const watch = (base: string) => {
  let maxJournalAge = 0
  let maxJournalLength = 0
  let loopLagP99 = 0
  let loopLagMax = 0
  let stop = false
  const first = scrape(base)
  const started = performance.now()
  const loop = (async () => {
    await first
    while (!stop) {
      await Bun.sleep(250)
      const text = await scrape(base)
      maxJournalAge = Math.max(maxJournalAge, metricOf(text, 'guidd_journal_oldest_age_seconds') || 0)
      maxJournalLength = Math.max(maxJournalLength, metricOf(text, 'guidd_journal_length') || 0)
      loopLagP99 = Math.max(loopLagP99, metricOf(text, 'guidd_event_loop_lag_seconds\\{quantile="0.99"\\}') || 0)
      loopLagMax = Math.max(loopLagMax, metricOf(text, 'guidd_event_loop_lag_seconds\\{quantile="1"\\}') || 0)
    }
  })()
  return async () => {
    stop = true
    await loop
    const flushed = (text: string) => metricOf(text, 'guidd_journal_flushed_total')
    const INF = '\\+Inf'
    const commits = (text: string, le: string) => metricOf(text, `guidd_store_commit_duration_seconds_bucket\\{le="${le}"\\}`) || 0
    const last = await scrape(base)
    const before = await first
    return {
      commits: commits(last, INF) - commits(before, INF),
      /** Commits that held the request thread over 10 ms (SQLite's WAL restarts, see bench/README.md). */
      slowCommits: commits(last, INF) - commits(last, '0.01') - (commits(before, INF) - commits(before, '0.01')),
      flushRate: (flushed(last) - flushed(await first)) / ((performance.now() - started) / 1000),
      journalLength: metricOf(last, 'guidd_journal_length'),
      maxJournalAge,
      maxJournalLength,
      loopLagP99Ms: loopLagP99 * 1000,
      loopLagMaxMs: loopLagMax * 1000,
    }
  }
}

type Row = { name: string; r: Measured; note?: string }
const rows: Row[] = []
const notes: string[] = []

const postOne = (base: string, body: object) =>
  fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => {
    if (r.status !== 201) throw new Error(`pool create answered ${r.status}: ${await r.text()}`)
    return ((await r.json()) as { guid: string }).guid
  })
const makePool = async (base: string, size: number): Promise<string[]> => {
  const pool: string[] = []
  for (let i = 0; i < size; i += 100) pool.push(...(await Promise.all(Array.from({ length: Math.min(100, size - i) }, () => postOne(base, { user: 'bench-pool' })))))
  return pool
}

/**
 * Waits (up to 60 s) until the service's journal is flushed (Redis modes), so that a read
 * load measures reads, not reads beside the flusher still committing the pool's creates.
 */
const drained = async (base: string): Promise<void> => {
  const deadline = performance.now() + 60_000
  while (performance.now() < deadline) {
    const length = metricOf(await scrape(base), 'guidd_journal_length')
    if (!(length > 0)) return
    await Bun.sleep(100)
  }
  notes.push(`${base}: the journal was not flushed within 60 s of the pool's creates; the GET ran beside the flusher`)
}

const lagNote = (w: Awaited<ReturnType<ReturnType<typeof watch>>>) =>
  `loop lag p99 ${w.loopLagP99Ms.toFixed(1)} ms, max ${w.loopLagMaxMs.toFixed(1)} ms${w.commits > 0 ? `; ${w.commits} commits, ${w.slowCommits} over 10 ms` : ''}`

/** GET hot, POST, PATCH over a pool (and optionally PATCH of one GUID) against one config. */
const benchConfig = async (label: string, env: Record<string, string>, opts: { pool?: number; contended?: boolean; flusher?: string; viaRedis?: boolean } = {}) => {
  const service = await serve(bun('src/main.ts', serviceRoot), env)
  const { base } = service
  const hot = await postOne(base, { user: 'bench-hot' })
  const size = opts.pool ?? poolSize
  const pool = await makePool(base, size)
  await drained(base)
  rows.push({ name: `${label}: GET /guid/{guid} (hot, LRU)`, r: await load(`${label}-get`, `${base}/guid/${hot}`, undefined, service) })
  let w = watch(base)
  const post = await load(`${label}-post`, `${base}/guid`, luaPost('{"user":"bench"}'), service)
  let seen = await w()
  rows.push({ name: `${label}: POST /guid (create)`, r: post, note: lagNote(seen) })
  if (opts.flusher) {
    notes.push(
      `${label}: under the POST load the flusher moved ${Math.round(seen.flushRate)} mutations/s into ${opts.flusher}; the journal held up to ${seen.maxJournalLength} entries (${seen.journalLength} at the end), its oldest up to ${seen.maxJournalAge.toFixed(2)} s old`,
    )
  }
  w = watch(base)
  const patch = await load(`${label}-patch`, `${base}/guid/${hot}`, luaPatchPool(pool, '{"user":"bench-patched"}'), service)
  seen = await w()
  rows.push({ name: `${label}: PATCH /guid/{guid} (${size} GUIDs)`, r: patch, note: lagNote(seen) })
  if (opts.contended)
    rows.push({
      name: `${label}: PATCH /guid/{guid} (one GUID, contended; not a target)`,
      r: await load(`${label}-patch-one`, `${base}/guid/${hot}`, luaPatchPool([hot], '{"user":"bench-one"}'), service),
    })
  await service.stop()
  if (opts.viaRedis) {
    const cold = await serve(bun('src/main.ts', serviceRoot), { ...env, LRU_MAX_ENTRIES: '0' })
    const guid = await postOne(cold.base, { user: 'bench-cold' })
    await drained(cold.base)
    rows.push({ name: `${label}: GET /guid/{guid} (via Redis, LRU off)`, r: await load(`${label}-get-redis`, `${cold.base}/guid/${guid}`, undefined, cold) })
    await cold.stop()
  }
}

const withRedis = async (run: (url: string) => Promise<void>) => {
  if (!redisAvailable()) return void notes.push('redis: skipped (redis-server is not installed)')
  const redis = await startRedis()
  if (pin) spawnSync('taskset', ['-pc', '1', String(redis.pid)])
  try {
    await run(redis.url)
  } finally {
    await redis.stop()
  }
}

const withFerretdb = async (run: (url: string) => Promise<void>) => {
  const { ferretdbSuites, startFerretdb } = await import('../test/support/ferretdb')
  if (!ferretdbSuites('bench: FerretDB')) return void notes.push('mongo: skipped (no FerretDB binary and no Go to build it)')
  const ferret = await startFerretdb()
  // FerretDB is multi-threaded Go: its threads go to wrk's core, the service keeps its own.
  if (pin) spawnSync('taskset', ['-apc', '1', String(ferret.pid())])
  try {
    await run(ferret.url)
  } finally {
    await ferret.dispose()
  }
}

/** How long the million section lets the service rest before it measures memory again. */
const SETTLE_MS = 10_000

/** Creates until `target` GUIDs are cached, in short wrk segments; the rate and memory per segment. */
const benchMillion = async () => {
  const service = await serve(bun('src/main.ts', serviceRoot), { LRU_MAX_ENTRIES: String(million), LOG_LEVEL: 'warn' })
  const { base } = service
  const idle = await scrape(base)
  const rss0 = metricOf(idle, 'process_resident_memory_bytes')
  const heap0 = metricOf(idle, 'guidd_process_heap_used_bytes')
  const segSeconds = 3
  const segments: Array<{ entries: number; rps: number; cpuUs: number; p99: number; max: number; lagMax: number }> = []
  let entries = 0
  let afterFull = 0
  const started = performance.now()
  // A first second of creates warms the JIT up; its rate is not "the rate at the first".
  const warm = await runWrk({ url: `${base}/guid`, lua: luaPost('{"user":"bench"}'), connections, seconds: 1, cpu: pin ? '1' : undefined, dir, name: 'million' })
  while (afterFull < 1 && performance.now() - started < 600_000) {
    const w = watch(base)
    const cpuBefore = cpuSeconds(service.pid)
    const r = await runWrk({ url: `${base}/guid`, lua: luaPost('{"user":"bench"}'), connections, seconds: segSeconds, cpu: pin ? '1' : undefined, dir, name: 'million' })
    const cpuUs = ((cpuSeconds(service.pid) - cpuBefore) * 1e6) / r.requests
    const seen = await w()
    entries = metricOf(await scrape(base), 'guidd_lru_entries')
    segments.push({ entries, rps: r.rps, cpuUs, p99: r.p99ms, max: r.maxMs, lagMax: seen.loopLagMaxMs })
    if (entries >= million) afterFull++
  }
  const full = await scrape(base)
  const rss = metricOf(full, 'process_resident_memory_bytes')
  const heap = metricOf(full, 'guidd_process_heap_used_bytes')
  // The same figures once the load has stopped for a while: what the cached GUIDs hold at
  // rest, without the last seconds' request garbage that the collector has not yet freed.
  await Bun.sleep(SETTLE_MS)
  const settled = await scrape(base)
  const rssSettled = metricOf(settled, 'process_resident_memory_bytes')
  const heapSettled = metricOf(settled, 'guidd_process_heap_used_bytes')
  await service.stop()
  // A single 3 s segment moves by a quarter on this machine: the first three against the last
  // three, by rate and (steadier) by CPU per create, which is what grows with the store.
  const mean = (list: typeof segments, pick: (s: (typeof segments)[number]) => number) => list.reduce((sum, s) => sum + pick(s), 0) / list.length
  const head = segments.slice(0, 3)
  const tail = segments.slice(-3)
  const first = { entries: head.at(-1)!.entries, rps: mean(head, (s) => s.rps), cpuUs: mean(head, (s) => s.cpuUs) }
  const last = { entries: tail[0]!.entries, rps: mean(tail, (s) => s.rps), cpuUs: mean(tail, (s) => s.cpuUs) }
  const perGuid = (rss - rss0) / entries
  console.log(`# million: warm-up 1 s ${Math.round(warm.rps)}/s; ${segments.map((s) => `${Math.round(s.entries / 1000)}k:${Math.round(s.rps)}/s,${s.cpuUs.toFixed(0)}us`).join(' ')}`)
  notes.push(
    [
      `million (LRU_MAX_ENTRIES=${million}, LOG_LEVEL=warn, POST creates in ${segSeconds} s wrk segments): ${entries} GUIDs cached`,
      `  write rate: first three segments (up to ${Math.round(first.entries / 1000)}k cached, after 1 s of warm-up) ${Math.round(first.rps)}/s at ${first.cpuUs.toFixed(1)} CPU us a create; last three (from ${Math.round(last.entries / 1000)}k to ${million} cached) ${Math.round(last.rps)}/s (${((last.rps / first.rps) * 100).toFixed(0)}% of the first) at ${last.cpuUs.toFixed(1)} CPU us (${((first.cpuUs / last.cpuUs) * 100).toFixed(0)}% of the first's rate by CPU)`,
      `  RSS ${(rss0 / 2 ** 20).toFixed(0)} MiB idle -> ${(rss / 2 ** 20).toFixed(0)} MiB: ${Math.round(perGuid)} B per cached GUID (${Math.round(rss / entries)} B counting the whole process); JS heap in use ${Math.round((heap - heap0) / entries)} B per GUID`,
      `  ${SETTLE_MS / 1000} s after the load: RSS ${(rssSettled / 2 ** 20).toFixed(0)} MiB, ${Math.round((rssSettled - rss0) / entries)} B per cached GUID; JS heap in use ${Math.round((heapSettled - heap0) / entries)} B per GUID`,
      `  worst latency ${Math.max(...segments.map((s) => s.max)).toFixed(0)} ms, worst p99 of a segment ${Math.max(...segments.map((s) => s.p99)).toFixed(1)} ms, event-loop lag max ${Math.max(...segments.map((s) => s.lagMax)).toFixed(0)} ms`,
    ].join('\n'),
  )
}

/** dist/guidd from exec to the first 200 on /healthz, polled every millisecond; a fresh data dir each time. */
const benchStart = async () => {
  const binary = join(root, 'dist', 'guidd')
  if (!existsSync(binary) || Bun.env.BENCH_BUILD === '1') {
    const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' })
    if (built.status !== 0) throw new Error('npm run build failed')
  }
  const runs = quick ? 5 : 15
  const times: number[] = []
  let rssKiB = 0
  for (let i = 0; i < runs; i++) {
    const port = await freePort()
    const data = mkdtempSync(join(dir, 'start-'))
    const since = performance.now()
    const proc = Bun.spawn(pinned([binary]), {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', SQLITE_PATH: join(data, 'guidd.sqlite') },
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'ignore',
    })
    times.push(await firstHealthy(`http://127.0.0.1:${port}`, proc, since))
    if (i === runs - 1) {
      await Bun.sleep(1_000)
      rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0)
    }
    proc.kill('SIGTERM')
    await proc.exited
  }
  times.sort((a, b) => a - b)
  notes.push(
    `start: dist/guidd (${(statSync(binary).size / 2 ** 20).toFixed(0)} MiB) from exec to the first 200 on /healthz: median ${median(times).toFixed(0)} ms, min ${times[0]!.toFixed(0)}, max ${times.at(-1)!.toFixed(0)} over ${runs} starts${pin ? ' (on CPU 0)' : ''}; RSS idle ${Math.round(rssKiB / 1024)} MiB`,
  )
}

/** One load against bench/floor-server.ts run as `env.FLOOR` (the bare server, or one of the stack's floors). */
const floorRun = async (name: string, env: Record<string, string>, path = '/', lua?: string): Promise<Measured> => {
  const proc = await serve(bun('bench/floor-server.ts'), env)
  const r = await load(name, `${proc.base}${path}`, lua, proc)
  await proc.stop()
  return r
}

const bareRun = (name: string) => floorRun(name, { FLOOR: 'bare' })

/**
 * The stack's floors under the same load (bench/floor-server.ts): what the HTTP server, the
 * request log, the body and the durable commit cost with none of guidd's own code around them.
 */
const benchFloors = async () => {
  const floor = async (name: string, env: Record<string, string>, lua?: string, path = '/guid') => {
    rows.push({ name: `floor: ${name}`, r: await floorRun(`floor-${env.FLOOR}`, env, path, lua) })
  }
  const post = luaPost('{"user":"bench"}')
  const guidPath = '/guid/9094E4C980C74043A4B586B420E69DDF'
  await floor("GET through Bun's router on /guid/:guid", { FLOOR: 'get-route' }, undefined, guidPath)
  await floor('that, answered with the five headers of a record (ETag, request id made per request)', { FLOOR: 'get-headers' }, undefined, guidPath)
  await floor('POST, body read and parsed, 201 with a new GUID', { FLOOR: 'post' }, post)
  await floor("POST + a durable create through guidd's group commit (SQLite)", { FLOOR: 'post-commit' }, post)
  await withRedis((url) => floor("POST + guidd's Redis journal append (no flusher)", { FLOOR: 'post-redis', REDIS_URL: url }, post))
  if (only.includes('mongo') || only.includes('redis-mongo'))
    await withFerretdb((url) => floor('POST + one insert through the MongoDB driver (FerretDB)', { FLOOR: 'post-mongo', MONGODB_URL: url }, post))
}

/** Tables printed after the main one (the interleaved GET, the in-process components). */
const tables: string[] = []

/**
 * The hot GET beside the bare server, interleaved (section `get`): every server runs at once,
 * idle but for its turn, and each round loads each in turn (the order rotated per round), so
 * each ratio compares loads seconds apart rather than minutes.
 */
const benchGet = async () => {
  const rounds = Number(Bun.env.BENCH_GET_ROUNDS ?? (quick ? 4 : 12))
  const roundSeconds = Number(Bun.env.BENCH_GET_SECONDS ?? 2)
  const guidPath = '/guid/9094E4C980C74043A4B586B420E69DDF'
  const guiddGet = async (env: Record<string, string>) => {
    const proc = await serve(bun('src/main.ts', serviceRoot), env)
    return { proc, url: `${proc.base}/guid/${await postOne(proc.base, { user: 'bench-hot' })}` }
  }
  const floorGet = async (floor: string, path = guidPath) => {
    const proc = await serve(bun('bench/floor-server.ts'), { FLOOR: floor })
    return { proc, url: `${proc.base}${path}` }
  }
  const servers = [
    { name: 'bare Bun.serve, fixed JSON (the base)', ...(await floorGet('bare', '/')) },
    { name: "floor: the contract's GET (router, a record's five headers, X-Request-Id and If-None-Match read)", ...(await floorGet('get-contract')) },
    { name: 'floor: that + client address + request log line (info, to a file)', ...(await floorGet('get-log')) },
    { name: 'guidd GET /guid/{guid} hot, default config (request log at info)', ...(await guiddGet({})) },
    { name: 'guidd GET /guid/{guid} hot, LOG_LEVEL=warn', ...(await guiddGet({ LOG_LEVEL: 'warn' })) },
  ]
  const seen = servers.map(() => [] as Measured[])
  try {
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < servers.length; k++) {
        const i = (k + round) % servers.length
        seen[i]!.push(await load(`get-r${round}-${i}`, servers[i]!.url, undefined, servers[i]!.proc, roundSeconds))
      }
    }
  } finally {
    for (const { proc } of servers) await proc.stop()
  }
  const bare = seen[0]!
  tables.push(
    `\nhot GET, interleaved: ${rounds} rounds of ${roundSeconds} s per load; x bare = this load's req/s over the bare server's in the same round (median, min-max over rounds)\n`,
    '| load | req/s (median) | x bare (median) | x bare (min-max) | CPU us/req (median) | p99 ms (median) |',
    '|---|---:|---:|---:|---:|---:|',
  )
  servers.forEach(({ name }, i) => {
    const runs = seen[i]!
    const ratios = runs.map((r, round) => r.rps / bare[round]!.rps)
    tables.push(
      `| ${name} | ${Math.round(median(runs.map((r) => r.rps)))} | ${median(ratios).toFixed(2)} | ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} | ${median(runs.map((r) => r.cpuUs!)).toFixed(1)} | ${median(runs.map((r) => r.p99ms)).toFixed(2)} |`,
    )
  })
}

/** Section `components`: bench/floors.ts on the service's core; its table is printed with the others. */
const benchComponents = () => {
  const [cmd, ...args] = bun('bench/floors.ts')
  const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 600_000 })
  if (r.status !== 0) throw new Error(`bench/floors.ts failed (${r.status}): ${r.stderr}`)
  const table = r.stdout.slice(r.stdout.indexOf('\ncomponent floors'))
  tables.push(table.trimEnd())
}

const load1 = loadavg()[0]!
const startedAt = new Date()
try {
  const bareBefore = await bareRun('bare-before')
  const has = (s: string) => only.includes(s)
  if (has('get')) await benchGet()
  if (has('floors')) await benchFloors()
  if (has('components')) benchComponents()
  if (has('embedded')) await benchConfig('embedded', {}, { contended: true })
  if (has('embedded-warn')) await benchConfig('embedded, warn', { LOG_LEVEL: 'warn' })
  if (has('redis')) await withRedis((url) => benchConfig('redis', { REDIS_URL: url }, { flusher: 'SQLite', viaRedis: true }))
  if (has('redis-warn')) await withRedis((url) => benchConfig('redis, warn', { REDIS_URL: url, LOG_LEVEL: 'warn' }))
  if (has('mongo')) await withFerretdb((url) => benchConfig('mongodb-only (FerretDB)', { MONGODB_URL: url }, { pool: 100 }))
  if (has('redis-mongo')) await withRedis((redisUrl) => withFerretdb((url) => benchConfig('redis+mongodb (FerretDB)', { REDIS_URL: redisUrl, MONGODB_URL: url }, { pool: 1_000, flusher: 'FerretDB' })))
  const bareAfter = await bareRun('bare-after')
  if (has('million')) await benchMillion()
  if (has('start')) await benchStart()
  if (has('rate')) {
    try {
      tables.push(`\n${rateMarkdown(await benchRate({ serviceRoot, ...(quick ? { seconds: 3, satSeconds: 2, longSeconds: 0 } : {}) }))}`)
    } catch (error) {
      // oha is built with cargo on first use: without Rust the other sections still report.
      notes.push(`rate: not run (${(error as Error).message})`)
    }
  }
  if (has('listing')) tables.push(listingTable(await benchListing({ total: quick ? 200_000 : 1_000_000, heavy: quick ? 20_000 : 100_000, requests: quick ? 500 : 2_000, pin })))

  const bareRps = (bareBefore.rps + bareAfter.rps) / 2
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a')
  const report = [
    `guidd benchmark, ${startedAt.toISOString().slice(0, 10)}, ${availableParallelism()} cores, load ${load1.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)}, wrk -t1 -c${connections} -d${seconds}s${pin ? ', service on CPU 0, wrk (and Redis, FerretDB) on CPU 1' : ''}, Bun ${Bun.version}`,
    '',
    '| load | req/s | p50 ms | p99 ms | max ms | x bare | CPU us/req | errors | during the load |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    `| bare Bun.serve, fixed JSON (before / after) | ${Math.round(bareBefore.rps)} / ${Math.round(bareAfter.rps)} | ${fmt(bareBefore.p50ms)} | ${fmt(bareBefore.p99ms)} | ${fmt(bareBefore.maxMs)} | 1.00 | ${bareBefore.cpuUs?.toFixed(1)} / ${bareAfter.cpuUs?.toFixed(1)} | 0 | |`,
    ...rows.map(
      ({ name, r, note }) =>
        `| ${name} | ${Math.round(r.rps)} | ${fmt(r.p50ms)} | ${fmt(r.p99ms)} | ${fmt(r.maxMs)} | ${(r.rps / bareRps).toFixed(2)} | ${r.cpuUs === undefined ? '' : r.cpuUs.toFixed(1)} | ${r.errors} | ${note ?? ''} |`,
    ),
    ...tables,
    ...notes.map((note) => `\n${note}`),
  ]
  console.log(`\n${report.join('\n')}`)
  const resultsPath = Bun.env.BENCH_RESULTS ?? join(root, 'bench', 'RESULTS.md')
  if (resultsPath !== '-') {
    writeResults(resultsPath, { serviceRoot, sections: only, loadBefore: load1, startedAt }, report)
    console.log(`\nwritten to ${resultsPath}`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
