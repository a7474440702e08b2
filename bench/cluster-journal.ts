/**
 * `npm run bench:cluster-journal`: the Redis journal's write path alone, in this process (no
 * HTTP, flusher or feed): turns of BENCH_TURN creates (one event-loop turn's batch, as wrk -c50
 * brings) appended to a RedisJournal on one Redis and on a 3-master, 3-replica cluster, the
 * cluster with one call per partition a turn touches (the journal without `routing`) and with one
 * call per master (`routing`), at 64 and 8 partitions. Per config, interleaved for BENCH_ROUNDS
 * rounds of BENCH_WRITES writes: this process's CPU per write (the client side: encoding, node-redis,
 * answering), the Redis masters' and the replicas' (/proc/<pid>/stat), and writes/s, medians.
 * CPU time moves far less than req/s on a machine other work shares. This process runs on CPU 0
 * and the Redis servers on CPU 1 (taskset), on 2+ cores. BENCH_REPLICAS (1) replicas per master.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { connectCluster, connectRedis } from '../src/adapters/redis/client'
import { RedisJournal } from '../src/adapters/redis/journal'
import { clusterKeys, redisKeys } from '../src/adapters/redis/keys'
import { partitionMasters } from '../src/adapters/redis/partition-masters'
import { startRedis } from '../test/support/redis'
import { startCluster } from '../test/support/redis-cluster'

const rounds = Number(Bun.env.BENCH_ROUNDS ?? 5)
const writes = Number(Bun.env.BENCH_WRITES ?? 5_000)
const turn = Number(Bun.env.BENCH_TURN ?? 25)
const pin = Bun.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && spawnSync('taskset', ['-V']).error === undefined

const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

// The servers start pinned to CPU 1 (they inherit it); then this process moves to CPU 0.
if (pin) spawnSync('taskset', ['-pc', '1', String(process.pid)])
const redis = await startRedis()
const cluster = await startCluster({ masters: 3, replicas: Number(Bun.env.BENCH_REPLICAS ?? 1) })
if (pin) spawnSync('taskset', ['-pc', '0', String(process.pid)])
const { masters, replicas } = await cluster.roles()
const single = await connectRedis({ url: redis.url, onError: () => {} })
const main = await connectCluster({ seeds: cluster.seeds.split(','), onError: () => {} })

const journalOptions = { maxLag: 1_000_000_000, timeoutMs: 10_000, instanceId: 'bench', retainSeconds: 60 }
const configs = [
  { name: 'single Redis', redis: [redis], replicas: [], journal: new RedisJournal({ client: single, keys: redisKeys('bj:'), ...journalOptions }) },
  ...[64, 8].flatMap((partitions) => {
    const perPartition = clusterKeys(`bjp${partitions}:`, partitions)
    const perMaster = clusterKeys(`bjm${partitions}:`, partitions)
    return [
      { name: `cluster ${partitions}, a call per partition`, redis: masters, replicas, journal: new RedisJournal({ client: main, keys: perPartition, sharded: true, ...journalOptions }) },
      {
        name: `cluster ${partitions}, a call per master`,
        redis: masters,
        replicas,
        journal: new RedisJournal({ client: main, keys: perMaster, sharded: true, routing: partitionMasters(main, perMaster), ...journalOptions }),
      },
    ]
  }),
]

const results = new Map<string, Array<{ clientUs: number; mastersUs: number; replicasUs: number; perSecond: number }>>()
const expire = Math.floor(Date.now() / 1000) + 3_600
try {
  for (let r = 0; r < rounds; r++) {
    for (const c of configs) {
      const sum = (nodes: Array<{ pid: number }>) => nodes.reduce((t, n) => t + cpuSeconds(n.pid), 0)
      const before = { client: process.cpuUsage(), masters: sum(c.redis), replicas: sum(c.replicas), at: performance.now() }
      for (let i = 0; i < writes; i += turn) {
        await Promise.all(
          Array.from({ length: turn }, () => {
            const guid = crypto.randomUUID().replaceAll('-', '').toUpperCase()
            return c.journal.append({
              next: { guid, user: 'bench', expire, version: 1 },
              prevVersion: 0,
              changes: [{ type: 'created', guid, version: 1, user: 'bench', record: { guid, user: 'bench', expire, version: 1 } }],
            })
          }),
        )
      }
      const elapsed = (performance.now() - before.at) / 1000
      const client = process.cpuUsage(before.client)
      const list = results.get(c.name) ?? []
      list.push({
        clientUs: (client.user + client.system) / writes,
        mastersUs: ((sum(c.redis) - before.masters) * 1e6) / writes,
        replicasUs: ((sum(c.replicas) - before.replicas) * 1e6) / writes,
        perSecond: writes / elapsed,
      })
      results.set(c.name, list)
    }
  }
  console.log(`# the journal alone: turns of ${turn} creates, ${rounds} interleaved rounds of ${writes} writes, medians${pin ? ', client on CPU 0, Redis on CPU 1' : ''}`)
  console.log(`# machine load (1, 5, 15 min): ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} on ${availableParallelism()} CPUs`)
  console.log('| config | writes/s | client CPU us/write | masters CPU us/write | replicas CPU us/write |')
  console.log('|---|---|---|---|---|')
  for (const [name, list] of results)
    console.log(
      `| ${name} | ${median(list.map((x) => x.perSecond)).toFixed(0)} | ${median(list.map((x) => x.clientUs)).toFixed(1)} | ${median(list.map((x) => x.mastersUs)).toFixed(1)} | ${median(list.map((x) => x.replicasUs)).toFixed(1)} |`,
    )
} finally {
  for (const c of configs) await c.journal.close()
  single.destroy()
  main.destroy()
  await cluster.stop()
  await redis.stop()
}
