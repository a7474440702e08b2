/**
 * `npm run bench:rate` (and section `rate` of `npm run bench`): latency at a constant offered
 * rate, free of coordinated omission. wrk -c50 keeps 50 requests in flight, so its p99 is the
 * queue's; here oha (scripts/oha, built once from crates.io) sends requests on schedule whether
 * or not earlier ones were answered and times each from when it was due (--latency-correction),
 * so a stall shows in the latencies of every request due meanwhile instead of in fewer requests.
 *
 * Each load in turn (GET, then POST, then PATCH), so that a load is measured at rates of its
 * own saturation and before the next load's writes:
 * 1. Its saturated rate: wrk -c50 against guidd for BENCH_RATE_SAT_SECONDS (5) for GET, and 4x
 *    as long for writes: a write burst into a fresh store outruns what the store sustains once
 *    its WAL has to be rewound (a 5 s POST rate could not be kept for 60 s).
 * 2. oha at 25%, 50% and 75% of it for BENCH_RATE_SECONDS (10) each: p50, p99, p99.9 and max
 *    of every request, and the durable commits over 10 ms and 50 ms meanwhile (guidd's
 *    guidd_store_commit_duration_seconds), which name a write's floor when one stands in the way.
 *    For GET, the bare Bun server (bench/floor-server.ts, FLOOR=bare) right after guidd at
 *    each rate (both servers up throughout), so both meet the same machine.
 * 3. BENCH_RATE_LONG_SECONDS (60; 0: none) at 50% for GET and POST: the worst single request;
 *    and the bare server's GET over as long, the machine's own worst request at that rate.
 * 4. Once the write loads have run, GET at 50% again (guidd and bare): what a store that has
 *    just taken writes at saturation (its WAL and dirty pages still being written back) costs
 *    a read.
 *
 * guidd runs embedded with the request log on (info, to a file), pinned to CPU 0; oha on
 * CPU 1 (taskset), as the rest of the bench. oha on one core sends at most ~26-30k req/s here:
 * a rate it could not keep is marked in the table (the achieved rate is printed beside it).
 *
 * Env: BENCH_RATE_SECONDS, BENCH_RATE_SAT_SECONDS, BENCH_RATE_LONG_SECONDS, BENCH_RATE_LOADS
 * (get,post,patch), BENCH_PIN (1; 0: no taskset), BENCH_SERVICE_ROOT (the checkout measured).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { children } from '../test/support/children'
import { type BenchProcess, metricOf, scrape, startBench } from './service'
import { ensureWrk, luaPatchPool, luaPost, runWrk } from './wrk'

export interface RateRow {
  load: string
  /** guidd, the bare server, or a floor (bench/floor-server.ts): 'get-log floor', 'post-commit floor'. */
  server: string
  /** Share of the saturated rate offered (0.25, 0.5, 0.75). */
  share: number
  offered: number
  achieved: number
  seconds: number
  requests: number
  errors: number
  p50ms: number
  p99ms: number
  p999ms: number
  maxMs: number
  /** The machine's 1-minute load average at the start of the run (other work shares these cores). */
  load1: number
  /** Durable commits during the run that took over 10 ms / 50 ms. */
  commitsOver10ms?: number
  commitsOver50ms?: number
  /** guidd: times its commits were held for a WAL rewind's catch-up during the run, and the ms held in all. */
  holds?: number
  heldMs?: number
}

export interface RateOptions {
  seconds?: number
  satSeconds?: number
  longSeconds?: number
  loads?: string[]
  pin?: boolean
  serviceRoot?: string
  /** Progress lines (console.log by default). */
  say?: (line: string) => void
}

const root = join(import.meta.dir, '..')
const SHARES = [0.25, 0.5, 0.75]
/** oha's connections to the server (wrk's -c50 for the saturated rate, the same here). */
const CONNECTIONS = 50

/** The oha binary, built on first use. */
export const ohaBinary = (): string => {
  const r = spawnSync(join(root, 'scripts', 'oha'), ['build'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (r.status !== 0) throw new Error(`scripts/oha build failed (exit ${r.status}; it needs Rust's cargo)`)
  return r.stdout.trim().split('\n').at(-1)!
}

export interface Target {
  method: string
  /** One URL, or several (a pool), which oha picks among for each request. */
  urls: string[]
  body?: string
}

/** What oha's JSON report holds of a run (times in seconds). */
interface OhaReport {
  summary: { requestsPerSec: number; slowest: number | null }
  latencyPercentiles: Record<'p50' | 'p99' | 'p99.9', number | null>
  statusCodeDistribution: Record<string, number>
  errorDistribution: Record<string, number>
}

/** One constant-rate run: the latency of every request, counted from when it was due (--latency-correction). */
export const attack = async (oha: string, dir: string, name: string, target: Target, rate: number, seconds: number, pin: boolean) => {
  const args = ['-q', String(rate), '-z', `${seconds}s`, '-c', String(CONNECTIONS), '--latency-correction', '-w', '-t', '15s', '--no-tui', '--output-format', 'json', '-m', target.method]
  if (target.body !== undefined) args.push('-d', target.body, '-T', 'application/json')
  if (target.urls.length > 1) {
    const urls = join(dir, `${name}.urls`)
    writeFileSync(urls, `${target.urls.join('\n')}\n`)
    args.push('--urls-from-file', urls)
  } else args.push(target.urls[0]!)
  const cmd = [oha, ...args]
  const proc = Bun.spawn(pin ? ['taskset', '-c', '1', ...cmd] : cmd, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  children.add(proc)
  const timer = setTimeout(() => proc.kill('SIGKILL'), (seconds + 60) * 1000)
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  children.delete(proc)
  if (code !== 0) throw new Error(`oha failed (${code}): ${err}`)
  const report = JSON.parse(out) as OhaReport
  const answered = Object.values(report.statusCodeDistribution).reduce((a, b) => a + b, 0)
  const failed = Object.values(report.errorDistribution).reduce((a, b) => a + b, 0)
  const not2xx = Object.entries(report.statusCodeDistribution)
    .filter(([status]) => !status.startsWith('2'))
    .reduce((a, [, n]) => a + n, 0)
  const ms = (s: number | null | undefined) => (s === null || s === undefined ? Number.NaN : s * 1000)
  return {
    requests: answered + failed,
    achieved: report.summary.requestsPerSec,
    errors: not2xx + failed,
    p50ms: ms(report.latencyPercentiles.p50),
    p99ms: ms(report.latencyPercentiles.p99),
    p999ms: ms(report.latencyPercentiles['p99.9']),
    maxMs: ms(report.summary.slowest),
  }
}

const slowCommits = (before: string, after: string, le: string) => {
  const over = (text: string) =>
    (metricOf(text, 'guidd_store_commit_duration_seconds_bucket\\{le="\\+Inf"\\}') || 0) - (metricOf(text, `guidd_store_commit_duration_seconds_bucket\\{le="${le}"\\}`) || 0)
  return over(after) - over(before)
}

/** Runs the whole section; returns the rows (the table: rateMarkdown). */
export const benchRate = async (options: RateOptions = {}): Promise<RateRow[]> => {
  const seconds = options.seconds ?? Number(Bun.env.BENCH_RATE_SECONDS ?? 10)
  const satSeconds = options.satSeconds ?? Number(Bun.env.BENCH_RATE_SAT_SECONDS ?? 5)
  const longSeconds = options.longSeconds ?? Number(Bun.env.BENCH_RATE_LONG_SECONDS ?? 60)
  const loads = options.loads ?? (Bun.env.BENCH_RATE_LOADS ?? 'get,post,patch').split(',')
  const pin = options.pin ?? (Bun.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && spawnSync('taskset', ['-V']).error === undefined)
  const serviceRoot = options.serviceRoot ?? Bun.env.BENCH_SERVICE_ROOT ?? root
  const say = options.say ?? ((line: string) => console.log(line))
  ensureWrk()
  const oha = ohaBinary()
  if (pin) spawnSync('taskset', ['-pc', '1', String(process.pid)])
  const dir = mkdtempSync(join(tmpdir(), 'guidd-bench-rate-'))
  const pinned = (cmd: string[]) => (pin ? ['taskset', '-c', '0', ...cmd] : cmd)
  const rows: RateRow[] = []
  const servers: Record<string, BenchProcess> = {}
  try {
    const guidd = await startBench({
      cmd: pinned([process.execPath, 'run', join(serviceRoot, 'src', 'main.ts')]),
      env: { SQLITE_PATH: join(dir, 'rate.sqlite'), LOG_LEVEL: 'info' },
      cwd: dir,
      output: join(dir, 'guidd.log'),
    })
    const base = guidd.base
    const create = async (user: string): Promise<string> => {
      const r = await fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) })
      if (r.status !== 201) throw new Error(`create answered ${r.status}`)
      return ((await r.json()) as { guid: string }).guid
    }
    const hot = await create('hot')
    const pool: string[] = []
    if (loads.includes('patch')) for (let i = 0; i < 2_000; i += 100) pool.push(...(await Promise.all(Array.from({ length: 100 }, () => create('pool')))))
    const body = '{"user":"bench"}'
    const kinds: Record<string, { lua?: string; url: string; target: (url: string) => Target }> = {
      get: { url: `${base}/guid/${hot}`, target: (b) => ({ method: 'GET', urls: [`${b}/guid/${hot}`] }) },
      post: { url: `${base}/guid`, lua: luaPost(body), target: (b) => ({ method: 'POST', urls: [`${b}/guid`], body }) },
      patch: { url: `${base}/guid`, lua: luaPatchPool(pool, '{"user":"patched"}'), target: (b) => ({ method: 'PATCH', urls: pool.map((g) => `${b}/guid/${g}`), body: '{"user":"patched"}' }) },
    }
    // The floors (bench/floor-server.ts) beside guidd at the same rates: what a GET at info and a
    // durable create cannot avoid, so that the gap between a floor and guidd is guidd's own.
    const floorServer = (floor: string) =>
      startBench({
        cmd: pinned([process.execPath, 'run', join(root, 'bench', 'floor-server.ts')]),
        env: { FLOOR: floor, SQLITE_PATH: join(dir, `${floor}.sqlite`) },
        cwd: dir,
        output: join(dir, `${floor}.log`),
      })
    servers.guidd = guidd
    if (loads.includes('get')) {
      servers.bare = await floorServer('bare')
      servers['get-log floor'] = await floorServer('get-log')
    }
    if (loads.includes('post')) servers['post-commit floor'] = await floorServer('post-commit')
    const saturated: Record<string, number> = {}
    /** A name for a run's files in `dir` ('get-log floor' -> 'get-log-floor'). */
    const fileName = (...parts: (string | number)[]) => parts.join('-').replace(/\W+/g, '-')
    const saturate = async (load: string, server = 'guidd') => {
      const k = kinds[load]!
      const s = load === 'get' ? satSeconds : satSeconds * 4
      const url = k.url.replace(base, servers[server]!.base)
      const r = await runWrk({ url, lua: k.lua, connections: 50, seconds: s, cpu: pin ? '1' : undefined, dir, name: fileName('sat', load, server) })
      if (server !== 'guidd') return say(`# rate: ${server} ${load} for ${s} s (wrk -c50, as guidd's store took): ${Math.round(r.rps)} req/s`)
      saturated[load] = Math.round(r.rps)
      say(`# rate: ${load} saturated (wrk -c50, ${s} s): ${saturated[load]} req/s, p99 ${r.p99ms} ms`)
    }
    const run = async (server: string, load: string, share: number, duration: number, label = load) => {
      const b = servers[server]!.base
      const offered = Math.round(saturated[load]! * share)
      const load1 = loadavg()[0]!
      const before = server === 'guidd' ? await scrape(b) : ''
      const r = await attack(oha, dir, fileName(server, label, share, duration), kinds[load]!.target(b), offered, duration, pin)
      const after = server === 'guidd' ? await scrape(b) : ''
      const row: RateRow = { load: label, server, share, offered, seconds: duration, load1, ...r }
      if (server === 'guidd' && load !== 'get') {
        row.commitsOver10ms = slowCommits(before, after, '0.01')
        row.commitsOver50ms = slowCommits(before, after, '0.05')
        const delta = (name: string) => (metricOf(after, name) || 0) - (metricOf(before, name) || 0)
        row.holds = delta('guidd_sqlite_write_holds_total')
        row.heldMs = delta('guidd_sqlite_write_held_seconds_total') * 1000
      }
      rows.push(row)
      say(
        `# rate: ${server} ${label} ${share * 100}% (${offered}/s offered, ${Math.round(r.achieved)}/s sent, ${duration} s): p50 ${r.p50ms.toFixed(2)} p99 ${r.p99ms.toFixed(2)} p99.9 ${r.p999ms.toFixed(2)} max ${r.maxMs.toFixed(2)} ms, ${r.errors} errors`,
      )
    }
    /** Who runs beside guidd at each share of a load: its floor and, for GET, the bare server. */
    const beside: Record<string, string[]> = { get: ['get-log floor', 'bare'], post: ['post-commit floor'], patch: [] }
    for (const load of loads) {
      await saturate(load)
      if (load === 'post') await saturate(load, 'post-commit floor')
      for (const share of SHARES) for (const server of ['guidd', ...beside[load]!]) await run(server, load, share, seconds)
      if (longSeconds > 0 && load !== 'patch') await run('guidd', load, 0.5, longSeconds)
      // The machine's own worst request over as long (the scheduler, the generator): the floor of "none over 50 ms".
      if (longSeconds > 0 && load === 'get') await run('bare', load, 0.5, longSeconds)
    }
    if (loads.includes('get') && loads.some((l) => l !== 'get')) for (const server of ['guidd', 'bare']) await run(server, 'get', 0.5, seconds, 'get after writes')
    return rows
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The rows as a markdown table, for the console and the results file. */
export const rateMarkdown = (rows: readonly RateRow[]): string => {
  const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a')
  const lines = [
    "constant offered rate (oha --latency-correction, no coordinated omission); guidd embedded, request log at info; share of the saturated rate (wrk -c50); beside guidd at each rate its floor (bench/floor-server.ts: get-log = the contract's GET with the client address and the request log line; post-commit = a parsed POST answered after a durable create through guidd's group commit) and, for GET, the bare server",
    '',
    '| server | load | share | offered/s | sent/s | s | requests | errors | p50 ms | p99 ms | p99.9 ms | max ms | commits > 10 / > 50 ms | writes held (times, ms in all) | machine load |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|',
  ]
  for (const r of rows) {
    const short = r.achieved < r.offered * 0.95 ? ' (generator-bound)' : ''
    const commits = r.commitsOver10ms === undefined ? '' : `${r.commitsOver10ms} / ${r.commitsOver50ms}`
    const held = r.holds === undefined ? '' : `${r.holds}, ${Math.round(r.heldMs ?? 0)}`
    lines.push(
      `| ${r.server} | ${r.load.toUpperCase()} | ${r.share * 100}% | ${r.offered} | ${Math.round(r.achieved)}${short} | ${r.seconds} | ${r.requests} | ${r.errors} | ${ms(r.p50ms)} | ${ms(r.p99ms)} | ${ms(r.p999ms)} | ${ms(r.maxMs)} | ${commits} | ${held} | ${r.load1.toFixed(1)} |`,
    )
  }
  return lines.join('\n')
}

if (import.meta.main) {
  // Interrupted: exit through process.exit, whose handler stops the services and generators started.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130))
  console.log(`\n${rateMarkdown(await benchRate())}\nBun ${Bun.version}`)
}
