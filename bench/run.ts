/**
 * `npm run bench`: loads the service from a second process on 127.0.0.1 with wrk and
 * prints req/s, p50 and p99 for GET of a hot GUID, POST create and PATCH, next to a bare
 * Bun.serve measured in the same run, in the embedded default and in Redis mode (Redis +
 * SQLite store, with a redis-server of its own). On 2+ cores the service is pinned to CPU 0
 * and wrk to CPU 1 (taskset), as figures are otherwise noise; Redis, when used, shares CPU 1.
 *
 * Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_POOL (10000 GUIDs for PATCH), BENCH_PIN (1; 0: no taskset),
 * BENCH_MODES (embedded,redis).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startProcess, waitForHttp } from '../test/support/process'
import { redisAvailable, startRedis } from '../test/support/redis'
import { ensureWrk, luaPatchPool, luaPost, runWrk, type WrkResult } from './wrk'

const seconds = Number(Bun.env.BENCH_SECONDS ?? 10)
const connections = Number(Bun.env.BENCH_CONNECTIONS ?? 50)
const poolSize = Number(Bun.env.BENCH_POOL ?? 10_000)
const modes = (Bun.env.BENCH_MODES ?? 'embedded,redis').split(',')
const pin = Bun.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && spawnSync('taskset', ['-V']).error === undefined
const root = join(import.meta.dir, '..')
const dir = mkdtempSync(join(tmpdir(), 'guidd-bench-'))

ensureWrk()

const serve = async (script: string, env: Record<string, string>) => {
  const cmd = [process.execPath, 'run', join(root, script)]
  const proc = await startProcess({ cmd: pin ? ['taskset', '-c', '0', ...cmd] : cmd, env, cwd: dir, name: script })
  await waitForHttp(`http://127.0.0.1:${proc.port}/healthz`, proc, 200)
  return proc
}

const load = (name: string, url: string, lua?: string): WrkResult => {
  const r = runWrk({ url, lua, connections, seconds, cpu: pin ? '1' : undefined, dir, name })
  console.log(`# ${name}: ${Math.round(r.rps)} req/s, p50 ${r.p50ms} ms, p99 ${r.p99ms} ms${r.errors ? `, ${r.errors} errors` : ''}`)
  return r
}

const metricOf = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)

/** Samples the flusher while a write load runs: sustained rate into the store and the worst lag seen. */
const watchFlusher = (base: string) => {
  let maxAge = 0
  let stop = false
  const first = fetch(`${base}/metrics`).then((r) => r.text())
  const started = performance.now()
  const loop = (async () => {
    while (!stop) {
      const text = await (await fetch(`${base}/metrics`)).text()
      maxAge = Math.max(maxAge, metricOf(text, 'guidd_journal_oldest_age_seconds'))
      await Bun.sleep(250)
    }
  })()
  return async () => {
    stop = true
    await loop
    const before = metricOf(await first, 'guidd_journal_flushed_total')
    const after = metricOf(await (await fetch(`${base}/metrics`)).text(), 'guidd_journal_flushed_total')
    return { rate: (after - before) / ((performance.now() - started) / 1000), maxAgeSeconds: maxAge }
  }
}

type Row = { name: string; r: WrkResult }
const rows: Row[] = []
const notes: string[] = []
let redis: Awaited<ReturnType<typeof startRedis>> | undefined

const benchService = async (mode: string, env: Record<string, string>) => {
  const service = await serve('src/main.ts', { SQLITE_PATH: join(dir, `${mode}.sqlite`), LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env })
  const base = `http://127.0.0.1:${service.port}`
  const post = (body: object) =>
    fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ((await r.json()) as { guid: string }).guid)
  const hot = await post({ user: 'bench-hot' })
  const pool: string[] = []
  for (let i = 0; i < poolSize; i += 100) pool.push(...(await Promise.all(Array.from({ length: Math.min(100, poolSize - i) }, () => post({ user: 'bench-pool' })))))

  rows.push({ name: `${mode}: GET /guid/{guid} (hot, LRU)`, r: load(`${mode}-get-hot`, `${base}/guid/${hot}`) })
  const flusher = mode === 'redis' ? watchFlusher(base) : undefined
  rows.push({ name: `${mode}: POST /guid (create)`, r: load(`${mode}-post`, `${base}/guid`, luaPost('{"user":"bench"}')) })
  rows.push({ name: `${mode}: PATCH /guid/{guid} (${poolSize} GUIDs)`, r: load(`${mode}-patch`, `${base}/guid/${hot}`, luaPatchPool(pool, '{"user":"bench-patched"}')) })
  if (flusher) {
    const f = await flusher()
    notes.push(`${mode}: flusher sustained ${Math.round(f.rate)} mutations/s into SQLite during the POST and PATCH loads; oldest unflushed entry never older than ${f.maxAgeSeconds.toFixed(2)} s`)
  }
  rows.push({ name: `${mode}: PATCH /guid/{guid} (one GUID, contended)`, r: load(`${mode}-patch-one`, `${base}/guid/${hot}`, luaPatchPool([hot], '{"user":"bench-one"}')) })
  await service.stop()

  if (mode === 'redis') {
    // The same GET with the LRU off: every read goes to Redis.
    const cold = await serve('src/main.ts', { SQLITE_PATH: join(dir, `${mode}.sqlite`), LOG_LEVEL: 'warn', HOST: '127.0.0.1', LRU_MAX_ENTRIES: '0', ...env })
    rows.push({ name: `${mode}: GET /guid/{guid} (via Redis, LRU off)`, r: load(`${mode}-get-redis`, `http://127.0.0.1:${cold.port}/guid/${hot}`) })
    await cold.stop()
  }
}

try {
  const bare = await serve('bench/bare.ts', {})
  const baseline = load('bare Bun.serve GET', `http://127.0.0.1:${bare.port}/`)
  await bare.stop()

  if (modes.includes('embedded')) await benchService('embedded', {})
  if (modes.includes('redis')) {
    if (!redisAvailable()) notes.push('redis: skipped (redis-server is not installed)')
    else {
      redis = await startRedis()
      if (pin) spawnSync('taskset', ['-pc', '1', String(redis.pid)])
      await benchService('redis', { REDIS_URL: redis.url, FLUSH_INTERVAL_MS: '20' })
    }
  }

  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a')
  console.log(
    `\nguidd benchmark, ${new Date().toISOString().slice(0, 10)}, ${availableParallelism()} cores, wrk -t1 -c${connections} -d${seconds}s${pin ? ', service on CPU 0, wrk (and Redis) on CPU 1' : ''}, Bun ${Bun.version}\n`,
  )
  console.log('| load | req/s | p50 ms | p99 ms | x bare | errors |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const { name, r } of [{ name: 'bare Bun.serve, fixed JSON', r: baseline }, ...rows]) {
    console.log(`| ${name} | ${Math.round(r.rps)} | ${fmt(r.p50ms)} | ${fmt(r.p99ms)} | ${(r.rps / baseline.rps).toFixed(2)} | ${r.errors} |`)
  }
  for (const note of notes) console.log(`\n${note}`)
} finally {
  await redis?.stop()
  rmSync(dir, { recursive: true, force: true })
}
