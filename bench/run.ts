/**
 * `npm run bench`: loads the service from a second process on 127.0.0.1 with wrk and
 * prints req/s, p50 and p99 for GET of a hot GUID, POST create and PATCH, next to a bare
 * Bun.serve measured in the same run. On 2+ cores the server is pinned to CPU 0 and wrk
 * to CPU 1 (taskset), as measured figures are otherwise noise.
 *
 * Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_POOL (10000 GUIDs for PATCH).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startProcess, waitForHttp } from '../test/support/process'
import { ensureWrk, luaPatchPool, luaPost, runWrk, type WrkResult } from './wrk'

const seconds = Number(Bun.env.BENCH_SECONDS ?? 10)
const connections = Number(Bun.env.BENCH_CONNECTIONS ?? 50)
const poolSize = Number(Bun.env.BENCH_POOL ?? 10_000)
const pin = availableParallelism() >= 2 && spawnSync('taskset', ['-V']).error === undefined
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

const results: Array<{ name: string; r: WrkResult }> = []
try {
  const bare = await serve('bench/bare.ts', {})
  const baseline = load('bare Bun.serve GET', `http://127.0.0.1:${bare.port}/`)
  await bare.stop()

  const service = await serve('src/main.ts', { SQLITE_PATH: join(dir, 'bench.sqlite'), LOG_LEVEL: 'warn', HOST: '127.0.0.1' })
  const base = `http://127.0.0.1:${service.port}`
  const post = (body: object) => fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ((await r.json()) as { guid: string }).guid)
  const hot = await post({ user: 'bench-hot' })
  const pool: string[] = []
  for (let i = 0; i < poolSize; i += 100) pool.push(...(await Promise.all(Array.from({ length: Math.min(100, poolSize - i) }, () => post({ user: 'bench-pool' })))))

  results.push({ name: 'GET /guid/{guid} (hot, LRU)', r: load('get-hot', `${base}/guid/${hot}`) })
  results.push({ name: 'POST /guid (create)', r: load('post', `${base}/guid`, luaPost('{"user":"bench"}')) })
  results.push({ name: `PATCH /guid/{guid} (${poolSize} GUIDs)`, r: load('patch', `${base}/guid/${hot}`, luaPatchPool(pool, '{"user":"bench-patched"}')) })
  results.push({ name: 'PATCH /guid/{guid} (one GUID, contended)', r: load('patch-one', `${base}/guid/${hot}`, luaPatchPool([hot], '{"user":"bench-one"}')) })
  await service.stop()

  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a')
  console.log(`\nguidd benchmark, ${new Date().toISOString().slice(0, 10)}, ${availableParallelism()} cores, wrk -t1 -c${connections} -d${seconds}s${pin ? ', server on CPU 0, wrk on CPU 1' : ''}, Bun ${Bun.version}\n`)
  console.log('| load | req/s | p50 ms | p99 ms | x bare | errors |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const { name, r } of [{ name: 'bare Bun.serve, fixed JSON', r: baseline }, ...results]) {
    console.log(`| ${name} | ${Math.round(r.rps)} | ${fmt(r.p50ms)} | ${fmt(r.p99ms)} | ${(r.rps / baseline.rps).toFixed(2)} | ${r.errors} |`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
