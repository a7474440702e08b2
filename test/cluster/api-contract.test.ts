import { afterAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { runToExit } from '../support/process'
import { redisSuites } from '../support/redis'
import { startCluster, type TestCluster } from '../support/redis-cluster'

/**
 * The whole-API suite (test/e2e/api.test.ts: every endpoint over real HTTP, every answer held
 * to the served OpenAPI document) against a service in Redis Cluster mode: run as a `bun test`
 * of its own (a test file is loaded once per run, so it cannot be imported twice), with
 * REDIS_CLUSTER_NODES in its environment, which its server inherits.
 */
const enabled = redisSuites('the API suite on a Redis Cluster')
let cluster: TestCluster | undefined
afterAll(async () => cluster?.stop())

describe.skipIf(!enabled)('the API suite on a Redis Cluster', () => {
  test('test/e2e/api.test.ts passes against a service on a 3-master, 3-replica cluster', async () => {
    cluster = await startCluster({ masters: 3, replicas: 1 })
    const prefix = cluster.prefix()
    const run = await runToExit({
      cmd: [process.execPath, 'test', join(import.meta.dir, '..', 'e2e', 'api.test.ts')],
      cwd: join(import.meta.dir, '..', '..'),
      env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: prefix, REDIS_URL: '', MONGODB_URL: '' },
      timeoutMs: 120_000,
    })
    const output = `${run.stdout}${run.stderr}`
    expect(output).toMatch(/^\s*0 fail$/m)
    expect(output).toMatch(/^\s*[1-9][0-9]* pass$/m)
    expect(run.code).toBe(0)
    // It ran in cluster mode: its service left its partition count in the cluster.
    expect((await cluster.cli(['-c', '-p', String(cluster.nodes[0]!.port), 'get', `${prefix}partitions`])).trim()).toBe('64')
  }, 180_000)
})
