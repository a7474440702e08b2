/**
 * `npm run bench:floors`: what each component of a request costs alone, in-process, as CPU
 * time (process.cpuUsage: every thread of the process, the SQLite checkpoint thread too), so
 * that other work on a shared machine blurs it less than wall time. Best of ROUNDS.
 *
 * Components: parse + validate a create body; an actor job; LRU hit and set; the response
 * (record -> Response); the request log line; a durable commit through the group commit (in
 * batches as the benchmark's 50 connections make them, checkpoints included) at a small and a
 * large table; the whole hot GET and POST through app.handle (no socket; the function the
 * server calls for every request), the hot GET also with its Requests built beforehand. The HTTP floors themselves (a bare Bun.serve, and
 * the stack's floors over HTTP) are measured by `npm run bench` with wrk.
 *
 *   npm run --silent bench:floors
 */
import { mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBody, type StoredRecord } from '../src/domain/model'
import { generateGuid } from '../src/domain/normalise'
import { parseJsonBytes } from '../src/http/body'
import { recordResponse } from '../src/http/respond'
import { validate } from '../src/http/validate'
import { LogSink } from '../src/ops/log-sink'
import { createLogger } from '../src/ops/logger'
import { requestLog } from '../src/ops/request-log'
import { loadConfig } from '../src/runtime/config'
import { createRuntime } from '../src/runtime/runtime'
import { createTestApp } from '../test/support/app'

const ROUNDS = Number(Bun.env.BENCH_ROUNDS ?? 5)
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * CPU µs per operation of `run(n)` (which performs n operations), best of ROUNDS. A run that
 * prepares its inputs first times its operations itself and returns that CPU usage.
 */
const cpu = async (n: number, run: (n: number) => unknown): Promise<number> => {
  let best = Infinity
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.cpuUsage()
    const timed = await run(n)
    const used = isCpuUsage(timed) ? timed : process.cpuUsage(before)
    best = Math.min(best, (used.user + used.system) / n)
  }
  return best
}

const isCpuUsage = (value: unknown): value is NodeJS.CpuUsage => typeof value === 'object' && value !== null && 'user' in value && 'system' in value

const rows: Array<[string, number]> = []
const measure = async (name: string, n: number, run: (n: number) => unknown) => {
  const us = await cpu(n, run)
  rows.push([name, us])
  console.error(`# ${name}: ${us.toFixed(2)} us`)
}

const bodyBytes = new TextEncoder().encode('{"user":"bench"}')
await measure('parse + validate a create body', 200_000, (n) => {
  for (let i = 0; i < n; i++) validate(CreateBody, parseJsonBytes(bodyBytes))
})

/** guidd as main.ts builds it (embedded mode, defaults: an LRU of 100k, mailboxes of 1,000, group commits of up to 1,000), in a temp dir; not started. */
const runtimeIn = async (dir: string) => createRuntime(loadConfig({ SQLITE_PATH: join(dir, 'g.sqlite'), LOG_LEVEL: 'silent' }), { logger: createLogger('silent') })
const partsDir = mkdtempSync(join(tmpdir(), 'guidd-floors-'))
const parts = await runtimeIn(partsDir)
const { actors, lru } = parts
await measure('actor: run one job on a fresh GUID (awaited, 50 at a time)', 100_000, async (n) => {
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => actors.run(`k${j}`, () => j)))
})

const now = Math.floor(Date.now() / 1000)
const record = (): StoredRecord => ({ guid: generateGuid(), user: 'bench', expire: now + 2_592_000, version: now * 1_000_000 + 1 })
const warm = Array.from({ length: 100_000 }, record)
for (const r of warm) lru.set(r, now)
await measure('LRU hit (100k entries)', 1_000_000, (n) => {
  for (let i = 0; i < n; i++) lru.get(warm[i % warm.length]!.guid, now)
})
const fresh = Array.from({ length: 200_000 }, record)
await measure('LRU set, evicting (100k entries)', 200_000, (n) => {
  for (let i = 0; i < n; i++) lru.set(fresh[i]!, now)
})

const hot = warm[0]!
await measure('response: record -> Response (5 headers)', 200_000, (n) => {
  for (let i = 0; i < n; i++) recordResponse(200, hot, { requestId: 'abc-1', bytes: 0 }, 'no-cache')
})

const log = requestLog(createLogger('info', new LogSink({ fd: openSync('/dev/null', 'w') })))!
await measure('request log line (its share of the batched write included)', 200_000, async (n) => {
  for (let i = 0; i < n; i += 100) {
    for (let j = 0; j < 100; j++) log('5156df71-9b68-1a2b', 'GET', '/guid/:guid', 200, 0.000123, 74, '127.0.0.1')
    await turn()
  }
})

/** Durable commits of fresh GUIDs, BATCH concurrent appends per I/O turn, as 50 connections give. */
const BATCH = 33
const commits = async (label: string, preload: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'guidd-floors-'))
  const runtime = await runtimeIn(dir)
  const { journal } = runtime
  const append = (n: number) => {
    const all: Promise<void>[] = []
    for (let i = 0; i < n; i++) all.push(journal.append({ next: record(), prevVersion: 0 }))
    return Promise.all(all)
  }
  for (let i = 0; i < preload; i += 10_000) await append(10_000)
  await measure(`store commit: one create in a group commit of ${BATCH}, checkpoints included (${label})`, 20_000, async (n) => {
    for (let i = 0; i < n; i += BATCH) await append(BATCH)
  })
  await runtime.close()
  rmSync(dir, { recursive: true, force: true })
}
await commits('empty table', 0)
await commits('1M rows', Number(Bun.env.BENCH_FLOOR_ROWS ?? 1_000_000))

// The whole request in-process (app.handle: Elysia, observe, the service), no socket.
const app = await createTestApp({ LRU_MAX_ENTRIES: '100000' })
const created = await app.req('POST', '/guid', { user: 'hot' })
const hotUrl = `http://localhost/guid/${((await created.json()) as { guid: string }).guid}`
const handle = app.runtime.app.handle
await measure('whole hot GET, in-process (app.handle)', 100_000, async (n) => {
  for (let i = 0; i < n; i++) await handle(new Request(hotUrl))
})
// What the server runs per hot GET beyond the bare server: handle, given the Request Bun would
// have made (its construction, ~0.6 us, is taken off below).
const requests = (n: number) => Array.from({ length: n }, () => new Request(hotUrl))
await measure('hot GET as the server calls it (handle, no socket)', 100_000, (n) => {
  const all = requests(n)
  const before = process.cpuUsage()
  for (let i = 0; i < n; i++) handle(all[i]!)
  return process.cpuUsage(before)
})
// With Content-Length, as a client sends it (without, the body is read as a stream).
const postInit = { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '16' }, body: '{"user":"bench"}' }
await measure(`whole POST, in-process (app.handle, ${BATCH} at a time)`, 20_000, async (n) => {
  for (let i = 0; i < n; i += BATCH) await Promise.all(Array.from({ length: BATCH }, () => handle(new Request('http://localhost/guid', postInit))))
})
await app.close()
await parts.close()
rmSync(partsDir, { recursive: true, force: true })

console.log(`\ncomponent floors, CPU us per operation (all threads), best of ${ROUNDS}, Bun ${Bun.version}\n`)
console.log('| component | CPU us |\n|---|---:|')
for (const [name, us] of rows) console.log(`| ${name} | ${us.toFixed(2)} |`)
