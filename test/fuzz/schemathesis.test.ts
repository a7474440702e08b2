import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runToExit, type Started } from '../support/process'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'
import { fuzzSuites, schemathesis } from './schemathesis-env'
import { startGuidd } from '../support/guidd-process'

/**
 * Schemathesis fuzzes the running service from the document it serves (/docs/json): examples,
 * boundary cases, random valid and invalid requests, and stateful sequences that follow the
 * Location of a create (create, read, update, delete, read again). Every answer must be
 * documented (status, content type, required headers, body schema), no 5xx but the documented
 * 503s, invalid requests refused, 405 with Allow for methods a path does not list, a deleted
 * GUID gone and a created one there.
 *
 * Bounded for CI (EXAMPLES cases per operation and phase, ~15-40 s a mode on 2 cores);
 * GUIDD_SOAK=1 fuzzes each mode for GUIDD_SOAK_SECONDS (240). GUIDD_FUZZ_SEED replays a run
 * (every run prints its seed).
 */

const SOAK = process.env.GUIDD_SOAK === '1'
const EXAMPLES = SOAK ? 300 : 10
/** A soak run keeps fuzzing each mode this long (Schemathesis repeats its fuzzing and stateful phases until it is spent). */
const SOAK_SECONDS = Number(process.env.GUIDD_SOAK_SECONDS ?? 240)
const RUN_TIMEOUT_MS = SOAK ? (SOAK_SECONDS + 300) * 1000 : 150_000

const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'negative_data_rejection',
  'unsupported_method',
  'allow_header_conformance',
  'ensure_resource_availability',
]

// A 503 is documented on every operation (overloaded, store unavailable, request timeout), with Retry-After.
const CONFIG = `[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "503"]
`

const enabled = fuzzSuites('Schemathesis fuzzing')
let dir: string

beforeAll(async () => {
  if (!enabled) return
  dir = mkdtempSync(join(tmpdir(), 'guidd-fuzz-'))
  writeFileSync(join(dir, 'schemathesis.toml'), CONFIG)
  await schemathesis()
}, 420_000)
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

interface FuzzRun {
  code: number | null
  cases: number
  output: string
}

/** One Schemathesis run against `base`; the process is bounded in time and its output kept for the failure message. */
const fuzz = async (name: string, base: string, extra: { checks?: string[]; args?: string[] } = {}): Promise<FuzzRun> => {
  const seed = process.env.GUIDD_FUZZ_SEED
  const cmd = [
    await schemathesis(),
    '--config-file',
    join(dir, 'schemathesis.toml'),
    'run',
    `${base}/docs/json`,
    '--checks',
    [...CHECKS, ...(extra.checks ?? [])].join(','),
    '--max-examples',
    String(EXAMPLES),
    // One worker: with two, the Python here (3.11.7) fails now and then in ast.parse run by both
    // threads at once ("SystemError: AST constructor recursion depth mismatch"), which Hypothesis
    // does the first time it describes a filter; the query parameters of GET /guid reach that
    // at the start of the coverage phase, beside the path parameter of /guid/{guid} (2 runs in 3
    // under load). A fault of the fuzzer's interpreter: the traceback is all Python.
    '--workers',
    '1',
    '--request-timeout',
    '10',
    '--wait-for-schema',
    '10',
    '--suppress-health-check',
    'all',
    '--generation-database',
    'none',
    '--no-color',
    // GET /events answers a Server-Sent Events stream unless JSON is asked for, and a stream
    // never ends, while Schemathesis reads whole bodies: its requests ask for JSON, so it fuzzes
    // the feed's page form and leaves the stream form to test/http/events.test.ts.
    '--header',
    'Accept: application/json',
    ...(seed === undefined ? [] : ['--seed', seed]),
    ...(SOAK ? ['--max-time', String(SOAK_SECONDS)] : []),
    ...(extra.args ?? []),
  ]
  const result = await runToExit({ cmd, cwd: dir, timeoutMs: RUN_TIMEOUT_MS })
  const output = `${result.stdout}${result.stderr}`
  const cases = Number(/(\d+) generated/.exec(output)?.[1] ?? 0)
  console.log(`schemathesis (${name}): ${cases} cases, ${/Seed: (\d+)/.exec(output)?.[0] ?? 'no seed printed'}, exit ${result.code}`)
  return { code: result.code, cases, output }
}

const expectClean = (run: FuzzRun) => {
  expect({ exit: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ exit: 0, output: '' })
  expect(run.cases).toBeGreaterThan(100)
}

const serve = async (env: Record<string, string>): Promise<{ server: Started; base: string; data: string }> => {
  const data = mkdtempSync(join(tmpdir(), 'guidd-fuzz-data-'))
  const server = await startGuidd({ env: { SQLITE_PATH: join(data, 'guidd.sqlite'), LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env } })
  return { server, base: server.base, data }
}

describe.skipIf(!enabled)('Schemathesis against the embedded mode', () => {
  let started: Awaited<ReturnType<typeof serve>> | undefined
  afterAll(async () => {
    await started?.server.stop(5_000)
    if (started) rmSync(started.data, { recursive: true, force: true })
  })

  test(
    'default configuration: every answer is documented, no undocumented 5xx, a deleted GUID is gone',
    async () => {
      started = await serve({})
      expectClean(await fuzz('embedded', started.base, { checks: ['use_after_free'] }))
    },
    RUN_TIMEOUT_MS + 30_000,
  )
})

describe.skipIf(!enabled)('Schemathesis against the embedded mode with keys, CORS, a header limit and a rate limit', () => {
  const KEY = 'k-fuzz-0123456789abcdef'
  let started: Awaited<ReturnType<typeof serve>> | undefined
  afterAll(async () => {
    await started?.server.stop(5_000)
    if (started) rmSync(started.data, { recursive: true, force: true })
  })

  test(
    'the document of that configuration holds too; without the key the API answers 401',
    async () => {
      // A limit the fuzzer stays under: the 429 itself is covered by the document tests.
      started = await serve({ API_KEYS: KEY, CORS_ORIGINS: '*', MAX_HEADER_BYTES: '8192', RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '10000' })
      // No use_after_free here: a CORS preflight answers 204 for any path, existing GUID or not.
      expectClean(
        await fuzz('embedded, keys + CORS', started.base, { checks: ['ignored_auth'], args: ['--header', `Authorization: Bearer ${KEY}`, '--max-examples', String(Math.ceil(EXAMPLES / 2))] }),
      )
    },
    RUN_TIMEOUT_MS + 30_000,
  )
})

const redisEnabled = enabled && redisSuites('Schemathesis against Redis mode')

describe.skipIf(!redisEnabled)('Schemathesis against Redis + SQLite mode', () => {
  let redis: TestRedis | undefined
  let started: Awaited<ReturnType<typeof serve>> | undefined
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await started?.server.stop(5_000)
    if (started) rmSync(started.data, { recursive: true, force: true })
    await redis?.stop()
  })

  test(
    'default configuration over a redis-server of its own',
    async () => {
      started = await serve({ REDIS_URL: redis!.url, REDIS_PREFIX: redis!.prefix() })
      expectClean(await fuzz('redis + sqlite', started.base, { checks: ['use_after_free'] }))
    },
    RUN_TIMEOUT_MS + 30_000,
  )
})

const mongoEnabled = enabled && ferretdbSuites('Schemathesis against MongoDB-only mode')

describe.skipIf(!mongoEnabled)('Schemathesis against MongoDB-only mode', () => {
  let ferret: TestFerretdb | undefined
  let started: Awaited<ReturnType<typeof serve>> | undefined
  beforeAll(async () => {
    // The first run on a machine builds FerretDB (.ci/run starts that build early).
    ferret = await startFerretdb()
  }, FERRETDB_BUILD_TIMEOUT_MS + 30_000)
  afterAll(async () => {
    await started?.server.stop(5_000)
    if (started) rmSync(started.data, { recursive: true, force: true })
    await ferret?.dispose()
  })

  test(
    'default configuration over a FerretDB of its own, a fresh database',
    async () => {
      started = await serve({ MONGODB_URL: ferret!.url, MONGODB_DB: `guidd_fuzz_${process.pid}_${Date.now().toString(36)}`, REDIS_URL: '' })
      // FerretDB takes ~150 writes/s here: the same examples as the other modes take 15-20 s.
      expectClean(await fuzz('mongodb-only', started.base, { checks: ['use_after_free'] }))
    },
    RUN_TIMEOUT_MS + 30_000,
  )
})
