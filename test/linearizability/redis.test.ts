import { beforeAll, describe, expect, test } from 'bun:test'
import { redisSuites } from '../support/redis'
import { CHECKER_EXIT, checkerBinary, checkerSuites } from './checker'
import { runScenario, standardRuns } from './scenario'

/**
 * Linearizability of the Redis mode under faults (test/linearizability/scenario.ts: two
 * instances on one Redis, kill -9 of one instance and of Redis mid-run), checked with
 * Porcupine (test/linearizability/checker) exactly as far as the service promises it:
 *
 * 1. GUID-affinity routing (each GUID on its home instance, the other only while the home is
 *    down), as nginx's `hash $guid consistent` routes, LRU on: every answer checked, reads
 *    included. The promise: a read never trails a write its own instance acknowledged. A
 *    GUID moves back home once the other instance has answered what it had of it (routing.ts).
 * 2. Random routing, LRU on: every POST, PATCH and DELETE answer checked (201/200/204 and the
 *    refusals 404, 409, 412, which must be decided on the shared state); the answers of GETs
 *    sent during the load are left out, because a read on another instance than the writer's
 *    may trail the write by the invalidation delay (measured by test/e2e/scale-out.test.ts).
 *    The final reads, sent after a pause, are checked.
 * 3. (GUIDD_SOAK=1 only) Random routing, LRU off: every answer checked, reads included.
 *
 * In every run a quarter of the writes carry an Idempotency-Key and are retried under it
 * (after no answer, and sometimes after one): one write each, applied once, every answer the
 * first. Runs 2 and 3 have their instances flush into one SQLite file and list GUIDs too: each
 * page must reflect every write acknowledged before it was sent (test/README.md, "Listings
 * and Idempotency-Key in the histories").
 *
 * CI: 8,000 operations per run, one kill of each, the load cut at 30 s. GUIDD_SOAK=1:
 * 100,000 operations and eight fault cycles per run, and run 3;
 * GUIDD_LINEARIZABILITY_OUT names the folder for each run's history and, on failure,
 * visualisations (default: a temp folder, kept only on failure); GUIDD_LINEARIZABILITY_SERVER_ENV,
 * a JSON object, adds settings to the instances of every run.
 */

const SOAK = process.env.GUIDD_SOAK === '1'
const sized = { backend: 'redis', settleMs: 500, clients: 10, guids: 4, operations: SOAK ? 100_000 : 8_000, loadDeadlineMs: SOAK ? 600_000 : 30_000, faultCycles: SOAK ? 8 : 1 } as const
const RUNS = standardRuns(sized, { id: '', title: '' }, SOAK, [2, 3])

const enabled = redisSuites('linearizability in Redis mode') && checkerSuites('linearizability in Redis mode')

beforeAll(async () => {
  // Built (once per version of its sources) before the clock of any test starts.
  if (enabled) await checkerBinary()
}, 300_000)

describe.skipIf(!enabled)('Redis mode, two instances, kill -9 of one and of Redis', () => {
  for (const run of RUNS) {
    test(
      `${run.title}: every GUID history is linearizable`,
      async () => {
        const { checked, summary, completedAfterFaults } = await runScenario(run)
        console.log(`${summary}\n${checked.stdout}${checked.stderr}`)
        expect(checked.code).toBe(CHECKER_EXIT.linearizable)
        // The faults happened mid-run and the service recovered from both.
        expect(completedAfterFaults).toBeGreaterThan(run.clients)
      },
      SOAK ? 900_000 : 90_000,
    )
  }
})
