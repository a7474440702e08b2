import { beforeAll, describe, expect, test } from 'bun:test'
import { redisSuites } from '../support/redis'
import { CHECKER_EXIT, checkerBinary, checkerSuites } from './checker'
import { runScenario, standardRuns } from './scenario'

/**
 * Linearizability on a Redis Cluster across a failover (test/linearizability/scenario.ts: two
 * instances, kill -9 of one instance and of a cluster master mid-run, REDIS_WAIT_REPLICAS=1),
 * checked with Porcupine as in Redis mode (redis.test.ts says what each run checks). CI runs
 * the GUID-affinity run only (a failover costs ~10 s); GUIDD_SOAK=1 runs them all, longer.
 * Every run has keyed writes retried under their keys, and lists GUIDs from one SQLite file
 * both instances flush into (test/README.md, "Listings and Idempotency-Key in the histories";
 * the keyed writes found a write answered 503 after its replica's WAIT timed out run again by
 * its retry, closed since).
 */

const SOAK = process.env.GUIDD_SOAK === '1'
const sized = { backend: 'redis-cluster', settleMs: 500, clients: 10, guids: 4, operations: SOAK ? 100_000 : 6_000, loadDeadlineMs: SOAK ? 600_000 : 30_000, faultCycles: SOAK ? 4 : 1 } as const
const RUNS = standardRuns(sized, { id: 'cluster-', title: 'Redis Cluster: ' }, SOAK, [1, 2, 3]).slice(0, SOAK ? undefined : 1)

const enabled = redisSuites('linearizability on a Redis Cluster') && checkerSuites('linearizability on a Redis Cluster')

beforeAll(async () => {
  if (enabled) await checkerBinary()
}, 300_000)

describe.skipIf(!enabled)('Redis Cluster, two instances, kill -9 of one and of a master', () => {
  for (const run of RUNS) {
    test(
      `${run.title}: every GUID history is linearizable`,
      async () => {
        const { checked, summary, completedAfterFaults } = await runScenario(run)
        console.log(`${summary}\n${checked.stdout}${checked.stderr}`)
        expect(checked.code).toBe(CHECKER_EXIT.linearizable)
        expect(completedAfterFaults).toBeGreaterThan(run.clients)
      },
      SOAK ? 900_000 : 120_000,
    )
  }
})
