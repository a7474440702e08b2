/**
 * `npm run bench:rate` (and section `rate` of `npm run bench`): latency at a constant offered
 * rate, free of coordinated omission. wrk -c50 keeps 50 requests in flight, so its p99 is the
 * queue's; here vegeta (scripts/vegeta, built once from the Go module proxy) sends requests on
 * schedule whether or not earlier ones were answered, so a stall shows in the latencies of every
 * request sent meanwhile instead of in fewer requests sent.
 *
 * 1. The saturated rate of each load: wrk -c50 against guidd for BENCH_RATE_SAT_SECONDS (5) for
 *    GET, and 4x as long for writes: a write burst into a fresh store outruns what the store
 *    sustains once its WAL has to be rewound (a 5 s POST rate could not be kept for 60 s).
 * 2. vegeta at 25%, 50% and 75% of it for BENCH_RATE_SECONDS (10) each: p50, p99, p99.9 and max
 *    of every request, and the durable commits over 10 ms and 50 ms meanwhile (guidd's
 *    guidd_store_commit_duration_seconds), which name a write's floor when one stands in the way.
 * 3. The bare Bun server (bench/floor-server.ts, FLOOR=bare) at the GET rates, each run right after
 *    guidd's at the same rate (both servers up throughout), so both meet the same machine.
 * 4. BENCH_RATE_LONG_SECONDS (60; 0: none) at 50% for GET and POST: the worst single request.
 *
 * guidd runs embedded with the request log on (info, to a file), pinned to CPU 0; vegeta on
 * CPU 1 (taskset), as the rest of the bench. vegeta on one core sends at most ~20-30k req/s:
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
  server: 'guidd' | 'bare'
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
/** vegeta's connections to the server (wrk's -c50 for the saturated rate, the same here). */
const MAX_CONNECTIONS = 50

/** The vegeta binary, built on first use. */
const vegetaBinary = (): string => {
  const r = spawnSync(join(root, 'scripts', 'vegeta'), ['build'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (r.status !== 0) throw new Error(`scripts/vegeta build failed (exit ${r.status}; it needs Go)`)
  return r.stdout.trim().split('\n').at(-1)!
}

const quantile = (sorted: Float64Array, q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN

interface Target {
  method: string
  url: string
  body?: string
}

const targetLine = (t: Target): string =>
  JSON.stringify({ method: t.method, url: t.url, ...(t.body === undefined ? {} : { body: Buffer.from(t.body).toString('base64'), header: { 'Content-Type': ['application/json'] } }) })

/** One constant-rate run: every request's latency, from vegeta's own record of it. */
const attack = async (vegeta: string, dir: string, name: string, targets: Target[], rate: number, seconds: number, pin: boolean) => {
  const targetsFile = join(dir, `${name}.targets`)
  writeFileSync(targetsFile, `${targets.map(targetLine).join('\n')}\n`)
  const results = join(dir, `${name}.bin`)
  // Connections bounded: by default vegeta opens one more whenever none is free, and on this
  // machine that storm of new connections collapsed it (the bare server at 2,000/s: p50 5.7 s;
  // with 20 connections, p99 0.5 ms). Requests still start on schedule (workers are not
  // bounded), and one waiting for a free connection counts that wait in its latency.
  const cmd = [vegeta, 'attack', '-format=json', `-targets=${targetsFile}`, `-rate=${rate}/s`, `-duration=${seconds}s`, '-timeout=15s', `-max-connections=${MAX_CONNECTIONS}`, `-output=${results}`]
  const proc = Bun.spawn(pin ? ['taskset', '-c', '1', ...cmd] : cmd, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' })
  children.add(proc)
  const timer = setTimeout(() => proc.kill('SIGKILL'), (seconds + 60) * 1000)
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  children.delete(proc)
  if (code !== 0) throw new Error(`vegeta attack failed (${code}): ${err}`)
  const csv = spawnSync(vegeta, ['encode', '-to', 'csv', results], { encoding: 'utf8', maxBuffer: 1 << 30 })
  if (csv.status !== 0) throw new Error(`vegeta encode failed: ${csv.stderr}`)
  rmSync(results)
  const lines = csv.stdout.split('\n').filter((l) => l !== '')
  const latencies = new Float64Array(lines.length)
  let errors = 0
  let first = Number.POSITIVE_INFINITY
  let last = 0
  lines.forEach((line, i) => {
    // timestamp (ns), status, latency (ns), ...: the fields read come before any quoted one.
    const [at, status, latency] = line.split(',', 3)
    latencies[i] = Number(latency) / 1e6
    const code = Number(status)
    if (code < 200 || code >= 300) errors++
    const t = Number(at) / 1e9
    first = Math.min(first, t)
    last = Math.max(last, t)
  })
  latencies.sort()
  return {
    requests: lines.length,
    achieved: lines.length > 1 ? (lines.length - 1) / (last - first) : 0,
    errors,
    p50ms: quantile(latencies, 0.5),
    p99ms: quantile(latencies, 0.99),
    p999ms: quantile(latencies, 0.999),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
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
  const vegeta = vegetaBinary()
  if (pin) spawnSync('taskset', ['-pc', '1', String(process.pid)])
  const dir = mkdtempSync(join(tmpdir(), 'guidd-bench-rate-'))
  const pinned = (cmd: string[]) => (pin ? ['taskset', '-c', '0', ...cmd] : cmd)
  const rows: RateRow[] = []
  let guidd: BenchProcess | undefined
  let bare: BenchProcess | undefined
  try {
    guidd = await startBench({
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
    const kinds: Record<string, { lua?: string; url: string; targets: (url: string) => Target[] }> = {
      get: { url: `${base}/guid/${hot}`, targets: (b) => [{ method: 'GET', url: `${b}/guid/${hot}` }] },
      post: { url: `${base}/guid`, lua: luaPost(body), targets: (b) => [{ method: 'POST', url: `${b}/guid`, body }] },
      patch: { url: `${base}/guid`, lua: luaPatchPool(pool, '{"user":"patched"}'), targets: (b) => pool.map((g) => ({ method: 'PATCH', url: `${b}/guid/${g}`, body: '{"user":"patched"}' })) },
    }
    if (loads.includes('get'))
      bare = await startBench({ cmd: pinned([process.execPath, 'run', join(root, 'bench', 'floor-server.ts')]), env: { FLOOR: 'bare' }, cwd: dir, output: join(dir, 'bare.log') })
    const saturated: Record<string, number> = {}
    for (const load of loads) {
      const k = kinds[load]!
      const s = load === 'get' ? satSeconds : satSeconds * 4
      const r = await runWrk({ url: k.url, lua: k.lua, connections: 50, seconds: s, cpu: pin ? '1' : undefined, dir, name: `sat-${load}` })
      saturated[load] = Math.round(r.rps)
      say(`# rate: ${load} saturated (wrk -c50, ${s} s): ${saturated[load]} req/s, p99 ${r.p99ms} ms`)
    }
    const run = async (server: 'guidd' | 'bare', b: string, load: string, share: number, duration: number) => {
      const offered = Math.round(saturated[load]! * share)
      const load1 = loadavg()[0]!
      const before = server === 'guidd' ? await scrape(b) : ''
      const r = await attack(vegeta, dir, `${server}-${load}-${share}-${duration}`, kinds[load]!.targets(b), offered, duration, pin)
      const after = server === 'guidd' ? await scrape(b) : ''
      const row: RateRow = { load, server, share, offered, seconds: duration, load1, ...r }
      if (server === 'guidd' && load !== 'get') {
        row.commitsOver10ms = slowCommits(before, after, '0.01')
        row.commitsOver50ms = slowCommits(before, after, '0.05')
      }
      rows.push(row)
      say(
        `# rate: ${server} ${load} ${share * 100}% (${offered}/s offered, ${Math.round(r.achieved)}/s sent, ${duration} s): p50 ${r.p50ms.toFixed(2)} p99 ${r.p99ms.toFixed(2)} p99.9 ${r.p999ms.toFixed(2)} max ${r.maxMs.toFixed(2)} ms, ${r.errors} errors`,
      )
    }
    for (const load of loads)
      for (const share of SHARES) {
        await run('guidd', base, load, share, seconds)
        if (load === 'get') await run('bare', bare!.base, 'get', share, seconds)
      }
    if (longSeconds > 0) for (const load of loads.filter((l) => l !== 'patch')) await run('guidd', base, load, 0.5, longSeconds)
    return rows
  } finally {
    await guidd?.stop()
    await bare?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The rows as a markdown table, for the console and the results file. */
export const rateMarkdown = (rows: readonly RateRow[]): string => {
  const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a')
  const lines = [
    'constant offered rate (vegeta, no coordinated omission); guidd embedded, request log at info; share of the saturated rate (wrk -c50)',
    '',
    '| server | load | share | offered/s | sent/s | s | requests | errors | p50 ms | p99 ms | p99.9 ms | max ms | commits > 10 ms / > 50 ms | machine load |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ]
  for (const r of rows) {
    const short = r.achieved < r.offered * 0.95 ? ' (generator-bound)' : ''
    const commits = r.commitsOver10ms === undefined ? '' : `${r.commitsOver10ms} / ${r.commitsOver50ms}`
    lines.push(
      `| ${r.server} | ${r.load.toUpperCase()} | ${r.share * 100}% | ${r.offered} | ${Math.round(r.achieved)}${short} | ${r.seconds} | ${r.requests} | ${r.errors} | ${ms(r.p50ms)} | ${ms(r.p99ms)} | ${ms(r.p999ms)} | ${ms(r.maxMs)} | ${commits} | ${r.load1.toFixed(1)} |`,
    )
  }
  return lines.join('\n')
}

if (import.meta.main) {
  // Interrupted: exit through process.exit, whose handler stops the services and generators started.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130))
  console.log(`\n${rateMarkdown(await benchRate())}\nBun ${Bun.version}`)
}
