/**
 * `npm run bench:cluster`: one guidd instance on a 3-master, 3-replica Redis Cluster
 * (scripts/redis-cluster's layout, test/support/redis-cluster.ts) against the same instance on
 * one Redis (AOF everysec), both with a SQLite store, at LOG_LEVEL=warn; and the cost of
 * REDIS_WAIT_REPLICAS=1 on the cluster, and of the partition count (64 against 8). Loads: POST /guid (creates) and a hot GET, wrk -c50,
 * each config in turn for BENCH_ROUNDS rounds of BENCH_SECONDS (interleaved: this machine's
 * speed moves by a third within seconds); medians per config, and ratios to single Redis.
 * Then memory per GUID in Redis: used_memory before and after BENCH_MEMORY_GUIDS creates.
 * The service is pinned to CPU 0, wrk and the Redis servers to CPU 1 (taskset), on 2+ cores.
 * For each POST load it also prints the CPU time per write of the service, of the Redis
 * masters and of the replicas (/proc/<pid>/stat; on a machine other work shares, these move far
 * less than req/s), and the script calls per write (INFO commandstats). BENCH_BASE_ROOT (a
 * checkout of another commit, its node_modules linked) adds its cluster configs, interleaved.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from 'redis'
import { startRedis } from '../test/support/redis'
import { startCluster } from '../test/support/redis-cluster'
import { type BenchProcess, startBench } from './service'
import { ensureWrk, luaPost, runWrk, type WrkResult } from './wrk'

const seconds = Number(Bun.env.BENCH_SECONDS ?? 5)
const rounds = Number(Bun.env.BENCH_ROUNDS ?? 3)
const memoryGuids = Number(Bun.env.BENCH_MEMORY_GUIDS ?? 20_000)
const pin = Bun.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && spawnSync('taskset', ['-V']).error === undefined
const root = join(import.meta.dir, '..')
const dir = mkdtempSync(join(tmpdir(), 'guidd-bench-cluster-'))

ensureWrk()
if (pin) spawnSync('taskset', ['-pc', '1', String(process.pid)])

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const redis = await startRedis()
const cluster = await startCluster({ masters: 3, replicas: 1 })
// Redis servers off the service's core, as wrk is (they are children of this process, pinned to 1).
let n = 0
const baseRoot = Bun.env.BENCH_BASE_ROOT
const serve = (env: Record<string, string>, from = root): Promise<BenchProcess> =>
  startBench({
    cmd: pin ? ['taskset', '-c', '0', process.execPath, 'run', join(from, 'src/main.ts')] : [process.execPath, 'run', join(from, 'src/main.ts')],
    env: { LOG_LEVEL: 'warn', SQLITE_PATH: join(dir, `s${++n}.sqlite`), MONGODB_URL: '', ...env },
    cwd: dir,
    output: join(dir, `s${n}.log`),
  })

/** CPU seconds a process has used so far, every thread (utime + stime, in USER_HZ = 100). */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
/** Script calls (EVALSHA + EVAL) a Redis has run so far. */
const scriptCalls = async (port: number): Promise<number> => {
  const c = createClient({ url: `redis://127.0.0.1:${port}` })
  await c.connect()
  const stats = await c.info('commandstats')
  await c.quit()
  return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0)
}

const configs: Array<{ name: string; env: Record<string, string>; from?: string }> = [
  { name: 'single Redis', env: { REDIS_URL: redis.url, REDIS_PREFIX: 'bench:' } },
  { name: 'cluster', env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: 'bench:' } },
  // Fewer partitions: a turn's writes fall into fewer script calls (one per partition touched).
  { name: 'cluster, 8 partitions', env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: 'bench8:', JOURNAL_PARTITIONS: '8' } },
  { name: 'cluster, WAIT 1', env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: 'benchwait:', REDIS_WAIT_REPLICAS: '1' } },
]
if (baseRoot !== undefined)
  configs.push(
    { name: 'cluster (base)', env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: 'benchbase:' }, from: baseRoot },
    { name: 'cluster, 8 partitions (base)', env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: 'benchbase8:', JOURNAL_PARTITIONS: '8' }, from: baseRoot },
  )
/** Per POST load: CPU microseconds per write of the service, the masters, the replicas; script calls per write. */
interface WriteCost {
  serviceUs: number
  mastersUs: number
  replicasUs: number
  calls: number
}
const results = new Map<string, { post: WrkResult[]; get: WrkResult[]; cost: WriteCost[] }>()
const { masters, replicas } = await cluster.roles()
try {
  const services = []
  for (const c of configs) services.push({ ...c, service: await serve(c.env, c.from) })
  // A record to read hot, per service.
  const hot = new Map<string, string>()
  for (const s of services) {
    const res = await fetch(`${s.service.base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"hot"}' })
    hot.set(s.name, ((await res.json()) as { guid: string }).guid)
    results.set(s.name, { post: [], get: [], cost: [] })
  }
  for (let r = 0; r < rounds; r++) {
    for (const s of services) {
      const common = { connections: 50, seconds, cpu: pin ? '1' : undefined, dir }
      const single = s.env.REDIS_URL !== undefined
      const m = single ? [{ pid: redis.pid, port: redis.port }] : masters
      const reps = single ? [] : replicas
      const sum = (pids: number[]) => pids.reduce((t, pid) => t + cpuSeconds(pid), 0)
      const calls0 = (await Promise.all(m.map((x) => scriptCalls(x.port)))).reduce((a, b) => a + b, 0)
      const before = [cpuSeconds(s.service.pid), sum(m.map((x) => x.pid)), sum(reps.map((x) => x.pid))]
      const post = await runWrk({ ...common, url: `${s.service.base}/guid`, lua: luaPost('{"user":"bench"}'), name: `post-${n}` })
      const after = [cpuSeconds(s.service.pid), sum(m.map((x) => x.pid)), sum(reps.map((x) => x.pid))]
      const calls1 = (await Promise.all(m.map((x) => scriptCalls(x.port)))).reduce((a, b) => a + b, 0)
      const us = (i: number) => ((after[i]! - before[i]!) * 1e6) / post.requests
      results.get(s.name)!.post.push(post)
      results.get(s.name)!.cost.push({ serviceUs: us(0), mastersUs: us(1), replicasUs: us(2), calls: (calls1 - calls0) / post.requests })
      results.get(s.name)!.get.push(await runWrk({ ...common, url: `${s.service.base}/guid/${hot.get(s.name)}`, name: `get-${n}` }))
    }
  }
  const base = results.get('single Redis')!
  console.log(`# one guidd instance (LOG_LEVEL=warn, SQLite store), wrk -c50, ${rounds} rounds of ${seconds} s, medians${pin ? ', service on CPU 0' : ''}`)
  console.log(`# machine load (1, 5, 15 min): ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} on ${availableParallelism()} CPUs`)
  console.log('| config | POST req/s | POST p99 ms | vs single | GET req/s | GET p99 ms | vs single | non-2xx | CPU us/write: service | masters | replicas | script calls/write |')
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const [name, { post, get, cost }] of results) {
    const p = median(post.map((x) => x.rps))
    const g = median(get.map((x) => x.rps))
    const errors = [...post, ...get].reduce((sum, x) => sum + x.errors, 0)
    console.log(
      `| ${name} | ${p.toFixed(0)} | ${median(post.map((x) => x.p99ms)).toFixed(1)} | ${(p / median(base.post.map((x) => x.rps))).toFixed(2)}x | ${g.toFixed(0)} | ${median(get.map((x) => x.p99ms)).toFixed(1)} | ${(g / median(base.get.map((x) => x.rps))).toFixed(2)}x | ${errors} | ${median(cost.map((c) => c.serviceUs)).toFixed(0)} | ${median(cost.map((c) => c.mastersUs)).toFixed(0)} | ${median(cost.map((c) => c.replicasUs)).toFixed(0)} | ${median(cost.map((c) => c.calls)).toFixed(3)} |`,
    )
  }
  const cl = median(results.get('cluster')!.post.map((x) => x.rps))
  const wait = median(results.get('cluster, WAIT 1')!.post.map((x) => x.rps))
  console.log(`# WAIT 1 per write: ${(1e6 / wait - 1e6 / cl).toFixed(1)} us more service time per create at saturation (${cl.toFixed(0)} -> ${wait.toFixed(0)} req/s)`)
  for (const s of services) await s.service.stop()

  // Memory per GUID held in Redis: one Redis, flushed journal (only the GUID keys stay).
  const client = createClient({ url: redis.url })
  await client.connect()
  await client.flushAll()
  const before = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1])
  const svc = await serve({ REDIS_URL: redis.url, REDIS_PREFIX: 'mem:', LRU_MAX_ENTRIES: '0' })
  for (let i = 0; i < memoryGuids; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, memoryGuids - i) }, () => fetch(`${svc.base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"Cylance, Inc."}' })),
    )
  }
  // The flusher empties the journal (the entries are deleted once stored).
  for (let t = 0; t < 200 && (await client.xLen('mem:journal')) > 0; t++) await Bun.sleep(50)
  const after = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1])
  console.log(`# Redis memory per GUID (a 14-char user, journal flushed): ${((after - before) / memoryGuids).toFixed(0)} B (${memoryGuids} GUIDs, used_memory ${before} -> ${after})`)
  await svc.stop()
  await client.quit()
} finally {
  await cluster.stop()
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
}
