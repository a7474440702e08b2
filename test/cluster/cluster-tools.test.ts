import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { pidExists } from '../support/process'
import { redisSuites } from '../support/redis'
import { startCluster, type TestCluster, waitFor } from '../support/redis-cluster'
import { children } from '../support/children'

const run = redisSuites('Redis Cluster tools')

describe.if(run)('scripts/redis-cluster', () => {
  test('starts 3 masters with a replica each, prints the seeds and stops every node on SIGTERM', async () => {
    const proc = Bun.spawn(['scripts/redis-cluster', '3', '1'], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
    children.add(proc)
    let text = ''
    const reader = (async () => {
      for await (const chunk of proc.stdout) text += new TextDecoder().decode(chunk)
    })()
    await waitFor('the script says ready', 60_000, async () => text.includes('ready ('))
    const seeds = /^REDIS_CLUSTER_NODES=(\S+)$/m.exec(text)?.[1]?.split(',') ?? []
    expect(seeds).toHaveLength(3)
    const nodes = [...text.matchAll(/^node (\d+) (\d+) (master|slave)$/gm)].map((m) => ({ port: Number(m[1]), pid: Number(m[2]), role: m[3] }))
    expect(nodes.filter((n) => n.role === 'master')).toHaveLength(3)
    expect(nodes.filter((n) => n.role === 'slave')).toHaveLength(3)
    for (const n of nodes) expect(pidExists(n.pid)).toBe(true)
    const dir = /data in (\S+);/.exec(text)?.[1] ?? ''
    expect(existsSync(dir)).toBe(true)
    proc.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    children.delete(proc)
    await reader
    for (const n of nodes) await waitFor(`node ${n.pid} gone`, 5_000, async () => !pidExists(n.pid))
    expect(existsSync(dir)).toBe(false)
  }, 90_000)
})

describe.if(run)('the test cluster helper', () => {
  let cluster: TestCluster | undefined
  afterAll(async () => cluster?.stop())

  test('a killed master is failed over to its replica, and rejoins as a replica when restarted', async () => {
    cluster = await startCluster({ masters: 3, replicas: 1 })
    const before = await cluster.roles()
    expect(before.masters).toHaveLength(3)
    expect(before.replicas).toHaveLength(3)
    const victim = await cluster.masterOf(0)
    await cluster.kill9(victim)
    expect(pidExists(victim.pid)).toBe(false)
    // The replica takes over after cluster-node-timeout (2 s): the cluster is whole again, without replicas for that shard.
    await cluster.waitHealthy(20_000, 0)
    const promoted = await cluster.masterOf(0)
    expect(promoted.port).not.toBe(victim.port)
    await cluster.restart(victim)
    await cluster.waitHealthy(20_000, 1)
    expect((await cluster.roles()).replicas.map((n) => n.port)).toContain(victim.port)
    const pids = cluster.nodes.map((n) => n.pid)
    await cluster.stop()
    cluster = undefined
    for (const pid of pids) expect(pidExists(pid)).toBe(false)
  }, 90_000)
})
