import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Started, startProcess, waitForHttp } from '../support/process'

/**
 * SPEC §4 "acknowledgement means durable": concurrent clients write, the server is
 * killed with SIGKILL while writes are in flight, and a new server on the same SQLite
 * file must show every acknowledged write, exactly. Each worker owns its GUIDs and sends
 * one request at a time, so the expected state of every GUID follows from the
 * acknowledged responses alone; the one op a worker had in flight at the kill may or may
 * not have landed, so for its GUID either outcome is accepted, and nothing else.
 *
 * The kill is triggered by a count of acknowledgements, and the workers do not stop for
 * it: each keeps writing until a request of its own goes unanswered, so the server dies
 * with its socket full of requests in every stage (read, queued, committing, answered).
 */

const root = join(import.meta.dir, '..', '..')
const SERVER_CMD = [process.execPath, 'run', join(root, 'src', 'main.ts')]

const WORKERS = 32
const GUIDS_PER_WORKER = 8
/** The kill is triggered by this many acknowledged writes, not by a timer. */
const KILL_AFTER_ACKS = 1_500
/** Bounds the load phase should the server stall before reaching the kill count. */
const LOAD_DEADLINE_MS = 30_000

/** A GUID's state as the server must hold it: the record and its version, or absent. */
type State = { user: string; expire: number; version: number } | null

type Kind = 'create' | 'upsert-create' | 'patch' | 'upsert-update' | 'delete'

interface Op {
  kind: Kind
  guid: string
  method: string
  path: string
  body?: object
  headers: Record<string, string>
  /** The state the op leaves behind when it lands. */
  next: State
  /** The version it leaves behind (a delete's tombstone has one too). */
  version: number
  /** The 2xx it must be answered with. */
  status: number
}

/** mulberry32: a seeded PRNG, so each worker's choice of ops is reproducible. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const guidOf = (worker: number, n: number): string => `D0000000${worker.toString(16).padStart(4, '0')}${n.toString(16).padStart(4, '0')}`.padEnd(32, '0').toUpperCase()

const started: Started[] = []
const dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-durability-'))
const sqlitePath = join(dir, 'guidd.sqlite')

afterAll(async () => {
  for (const s of started) await s.stop(2_000)
  rmSync(dir, { recursive: true, force: true })
})

const startServer = async (): Promise<Started> => {
  const s = await startProcess({ cmd: SERVER_CMD, cwd: root, name: 'guidd', env: { SQLITE_PATH: sqlitePath, LOG_LEVEL: 'warn', HOST: '127.0.0.1' } })
  started.push(s)
  await waitForHttp(`http://127.0.0.1:${s.port}/healthz`, s)
  return s
}

test('every acknowledged write survives kill -9 under concurrent load', async () => {
  const first = await startServer()
  const base = `http://127.0.0.1:${first.port}`
  // Far enough ahead that nothing expires during the test, distinct per op.
  const expireBase = Math.floor(Date.now() / 1000) + 10 * 86_400

  /** Last acknowledged state per GUID (absent until a create is acknowledged). */
  const acked = new Map<string, State>()
  /** Last acknowledged version per GUID: versions continue across a delete (its tombstone keeps one). */
  const versions = new Map<string, number>()
  /** Per GUID, the op sent and never answered (one per worker at the end): landed or not, unknown. */
  const uncertain = new Map<string, Op>()
  const failures: string[] = []
  let acks = 0
  let killed = false
  let stopLoad = false
  let killPromise: Promise<void> | undefined
  /** Workers whose last request went unanswered: all of them, if the kill came under load. */
  let cutOff = 0

  const deadline = setTimeout(() => {
    failures.push(`only ${acks} writes acknowledged within ${LOAD_DEADLINE_MS} ms`)
    stopLoad = true
  }, LOAD_DEADLINE_MS)

  const plan = (worker: number, random: () => number, guid: string, seq: number): Op => {
    const state = acked.get(guid) ?? null
    const user = `w${worker}-op${seq}`
    const expire = expireBase + worker * 100_000 + seq
    const version = (versions.get(guid) ?? 0) + 1
    if (state === null) {
      const next = { user, expire, version }
      return random() < 0.5
        ? { kind: 'create', guid, method: 'POST', path: '/guid', body: { guid, user, expire }, headers: {}, next, version, status: 201 }
        : { kind: 'upsert-create', guid, method: 'POST', path: `/guid/${guid}`, body: { user, expire }, headers: {}, next, version, status: 201 }
    }
    // If-Match on every change: a server whose state drifted from the model answers 412.
    const headers = { 'if-match': `"${state.version}"` }
    const r = random()
    if (r < 0.2) return { kind: 'delete', guid, method: 'DELETE', path: `/guid/${guid}`, headers, next: null, version, status: 204 }
    if (r < 0.4) return { kind: 'upsert-update', guid, method: 'POST', path: `/guid/${guid}`, body: { expire }, headers, next: { ...state, expire, version }, version, status: 200 }
    const body = random() < 0.5 ? { user } : { user, expire }
    return { kind: 'patch', guid, method: 'PATCH', path: `/guid/${guid}`, body, headers, next: { user, expire: 'expire' in body ? expire : state.expire, version }, version, status: 200 }
  }

  const checkAnswer = async (op: Op, res: Response): Promise<string | null> => {
    if (res.status !== op.status) return `${op.kind} ${op.guid}: expected ${op.status}, got ${res.status} ${await res.text()}`
    if (op.next === null) {
      await res.arrayBuffer()
      return null
    }
    const body = await res.json()
    const expected = { guid: op.guid, user: op.next.user, expire: op.next.expire }
    if (!Bun.deepEquals(body, expected)) return `${op.kind} ${op.guid}: answered ${JSON.stringify(body)}, expected ${JSON.stringify(expected)}`
    if (res.headers.get('etag') !== `"${op.next.version}"`) return `${op.kind} ${op.guid}: ETag ${res.headers.get('etag')}, expected "${op.next.version}"`
    return null
  }

  const worker = async (w: number): Promise<void> => {
    const random = prng(w + 1)
    const guids = Array.from({ length: GUIDS_PER_WORKER }, (_, n) => guidOf(w, n))
    for (let seq = 0; !stopLoad; seq++) {
      const guid = guids[Math.floor(random() * guids.length)]!
      const op = plan(w, random, guid, seq)
      uncertain.set(guid, op)
      let res: Response
      try {
        const init: RequestInit = { method: op.method, headers: { ...op.headers }, signal: AbortSignal.timeout(10_000) }
        if (op.body !== undefined) {
          init.body = JSON.stringify(op.body)
          init.headers = { ...op.headers, 'content-type': 'application/json' }
        }
        res = await fetch(base + op.path, init)
      } catch (error) {
        // No answer: only expected once the server is dead; the op stays uncertain.
        if (!killed) failures.push(`${op.kind} ${guid} failed before the kill: ${error}`)
        else cutOff++
        return
      }
      let problem: string | null
      try {
        problem = await checkAnswer(op, res)
      } catch (error) {
        // The answer broke off mid-body: not an acknowledgement.
        if (!killed) failures.push(`${op.kind} ${guid}: reading the answer failed before the kill: ${error}`)
        else cutOff++
        return
      }
      if (problem !== null) {
        failures.push(problem)
        stopLoad = true
        return
      }
      // Acknowledged, even if the answer arrived after the kill signal: it was sent after the commit.
      uncertain.delete(guid)
      acked.set(guid, op.next)
      versions.set(guid, op.version)
      acks++
      if (acks >= KILL_AFTER_ACKS && !killed) {
        killed = true
        killPromise = first.kill9()
      }
    }
  }

  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))
  clearTimeout(deadline)
  await killPromise
  expect(failures).toEqual([])
  expect(killed).toBe(true)
  expect(first.proc.signalCode).toBe('SIGKILL')
  // Every worker was still writing when the server died: the kill came under full load.
  expect(cutOff).toBe(WORKERS)
  expect(uncertain.size).toBe(WORKERS)
  expect(acks).toBeGreaterThanOrEqual(KILL_AFTER_ACKS)

  const second = await startServer()
  const base2 = `http://127.0.0.1:${second.port}`
  const read = async (guid: string): Promise<State | 'error'> => {
    const res = await fetch(`${base2}/guid/${guid}`, { signal: AbortSignal.timeout(5_000) })
    if (res.status === 404) {
      await res.arrayBuffer()
      return null
    }
    if (res.status !== 200) return 'error'
    const body = (await res.json()) as { guid: string; user: string; expire: number }
    const version = Number(/^"(\d+)"$/.exec(res.headers.get('etag') ?? '')?.[1])
    if (body.guid !== guid) return 'error'
    return { user: body.user, expire: body.expire, version }
  }

  const all = Array.from({ length: WORKERS }, (_, w) => Array.from({ length: GUIDS_PER_WORKER }, (_, n) => guidOf(w, n))).flat()
  const mismatches: string[] = []
  for (let i = 0; i < all.length; i += 64) {
    const chunk = all.slice(i, i + 64)
    const states = await Promise.all(chunk.map(read))
    chunk.forEach((guid, j) => {
      const seen = states[j]
      const last = acked.get(guid) ?? null
      const pending = uncertain.get(guid)
      const allowed: State[] = pending === undefined ? [last] : [last, pending.next]
      const k = allowed.findIndex((a) => Bun.deepEquals(a, seen))
      if (k === -1) mismatches.push(`${guid}: read ${JSON.stringify(seen)}; acknowledged ${JSON.stringify(last)}${pending ? `, in flight ${pending.kind} -> ${JSON.stringify(pending.next)}` : ''}`)
    })
  }
  expect(mismatches).toEqual([])

  // The recovered records are live: a conditional write on one continues its version line.
  const survivor = all.find((g) => uncertain.get(g) === undefined && acked.get(g))
  expect(survivor).toBeDefined()
  const state = acked.get(survivor!)!
  const patched = await fetch(`${base2}/guid/${survivor}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', 'if-match': `"${state.version}"` },
    body: JSON.stringify({ user: 'after-restart' }),
    signal: AbortSignal.timeout(5_000),
  })
  expect(patched.status).toBe(200)
  expect(patched.headers.get('etag')).toBe(`"${state.version + 1}"`)
  await patched.arrayBuffer()

  expect(await second.stop(8_000)).toBe(0)
}, 60_000)
