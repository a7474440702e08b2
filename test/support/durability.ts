import { expect } from 'bun:test'
import type { Store } from '../../src/data/store'
import { urlOf } from './guidd-process'
import type { Started } from './process'
import { send } from './requests'
import { isFirstVersion } from './versions'
import { seededRandom } from './prng'

/**
 * The load and the model behind the kill -9 durability tests (every mode):
 * concurrent workers write over real HTTP until the server is killed, and the model of
 * what was acknowledged tells what a restarted server must show.
 *
 * Each worker owns its GUIDs and sends one request at a time, so the expected state of
 * every GUID follows from the acknowledged responses alone; the one op a worker had in
 * flight at the kill may or may not have landed, so for its GUID either outcome is
 * accepted, and nothing else.
 *
 * Every change's version is known in advance (the previous one + 1, and If-Match pins it);
 * a create's is the server's to choose (the first version of a new incarnation, from its
 * clock), so the model checks it against the rule (isFirstVersion) and learns it from the
 * ETag, and an unanswered create is checked against the rule on read-back.
 *
 * The kill is triggered by a count of acknowledgements, and the workers do not stop for
 * it: each keeps writing until a request of its own goes unanswered, so the server dies
 * with its socket full of requests in every stage (read, queued, committing, answered).
 */

/** A GUID's state as the server must hold it: the record and its version, or absent. */
export type State = { user: string; expire: number; version: number } | null

export type Kind = 'create' | 'upsert-create' | 'patch' | 'upsert-update' | 'delete'

export interface Op {
  kind: Kind
  guid: string
  method: string
  path: string
  body?: object
  headers: Record<string, string>
  /** The state the op leaves behind when it lands (a create's version: once answered). */
  next: State
  /** The version it leaves behind (a delete's tombstone has one too); a create's, once answered. */
  version: number
  /** A create: the server picks its version by isFirstVersion(version, after, sentSec, answer second). */
  first?: { after: number; sentSec: number }
  /** The 2xx it must be answered with. */
  status: number
}

export interface KillLoadOptions {
  /** The server under load, e.g. `http://127.0.0.1:1234`. */
  base: string
  /** Kills the server (SIGKILL); called once, when `killAfterAcks` writes were acknowledged. */
  kill: () => Promise<void>
  workers: number
  guidsPerWorker: number
  /** The kill is triggered by this many acknowledged writes, not by a timer. */
  killAfterAcks: number
  /** Bounds the load phase should the server stall before reaching the kill count. */
  loadDeadlineMs: number
}

export interface KillLoad {
  /** Every GUID the workers may have written. */
  guids: string[]
  /** Last acknowledged state per GUID (absent until a create is acknowledged). */
  acked: Map<string, State>
  /** Last acknowledged version per GUID: versions continue across a delete (its tombstone keeps one). */
  versions: Map<string, number>
  /** Per GUID, the op sent and never answered (one per worker at the end): landed or not, unknown. */
  uncertain: Map<string, Op>
  failures: string[]
  acks: number
  killed: boolean
  /** Workers whose last request went unanswered: all of them, if the kill came under load. */
  cutOff: number
  /** A second by which the killed server was dead: no create in flight took a later one. */
  deadBySec: number
}

export const guidOf = (worker: number, n: number): string => `D0000000${worker.toString(16).padStart(4, '0')}${n.toString(16).padStart(4, '0')}`.padEnd(32, '0').toUpperCase()

/** Writes until the server dies (it is killed after `killAfterAcks` acknowledgements); returns the model. */
export const loadUntilKill = async (o: KillLoadOptions): Promise<KillLoad> => {
  // Far enough ahead that nothing expires during the test, distinct per op.
  const expireBase = Math.floor(Date.now() / 1000) + 10 * 86_400
  const guids = Array.from({ length: o.workers }, (_, w) => Array.from({ length: o.guidsPerWorker }, (_, n) => guidOf(w, n))).flat()
  const load: KillLoad = { guids, acked: new Map(), versions: new Map(), uncertain: new Map(), failures: [], acks: 0, killed: false, cutOff: 0, deadBySec: Number.NaN }
  const { acked, versions, uncertain, failures } = load
  let stopLoad = false
  let killPromise: Promise<void> | undefined

  const deadline = setTimeout(() => {
    failures.push(`only ${load.acks} writes acknowledged within ${o.loadDeadlineMs} ms`)
    stopLoad = true
  }, o.loadDeadlineMs)

  const plan = (worker: number, random: () => number, guid: string, seq: number): Op => {
    const state = acked.get(guid) ?? null
    const user = `w${worker}-op${seq}`
    const expire = expireBase + worker * 100_000 + seq
    const known = versions.get(guid) ?? 0
    const version = known + 1
    if (state === null) {
      // The server picks the version: the op is sent right after this, so its clock reads this second or later.
      const first = { after: known, sentSec: Math.floor(Date.now() / 1000) }
      const next = { user, expire, version: Number.NaN }
      return random() < 0.5
        ? { kind: 'create', guid, method: 'POST', path: '/guid', body: { guid, user, expire }, headers: {}, next, version: Number.NaN, first, status: 201 }
        : { kind: 'upsert-create', guid, method: 'POST', path: `/guid/${guid}`, body: { user, expire }, headers: {}, next, version: Number.NaN, first, status: 201 }
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
    const etag = res.headers.get('etag')
    if (op.first !== undefined) {
      const version = Number(/^"(\d+)"$/.exec(etag ?? '')?.[1])
      const { after, sentSec } = op.first
      const answeredSec = Math.floor(Date.now() / 1000)
      if (!isFirstVersion(version, after, sentSec, answeredSec))
        return `${op.kind} ${op.guid}: ETag ${etag}, expected the first version of an incarnation after ${after}, created in [${sentSec}, ${answeredSec}]`
      op.version = version
      op.next.version = version
    } else if (etag !== `"${op.next.version}"`) return `${op.kind} ${op.guid}: ETag ${etag}, expected "${op.next.version}"`
    return null
  }

  const worker = async (w: number): Promise<void> => {
    const random = seededRandom(w + 1)
    const mine = guids.slice(w * o.guidsPerWorker, (w + 1) * o.guidsPerWorker)
    for (let seq = 0; !stopLoad; seq++) {
      const guid = mine[Math.floor(random() * mine.length)]!
      const op = plan(w, random, guid, seq)
      uncertain.set(guid, op)
      let res: Response
      try {
        const init: RequestInit = { method: op.method, headers: { ...op.headers }, signal: AbortSignal.timeout(10_000) }
        if (op.body !== undefined) {
          init.body = JSON.stringify(op.body)
          init.headers = { ...op.headers, 'content-type': 'application/json' }
        }
        res = await fetch(o.base + op.path, init)
      } catch (error) {
        // No answer: only expected once the server is dead; the op stays uncertain.
        if (!load.killed) failures.push(`${op.kind} ${guid} failed before the kill: ${error}`)
        else load.cutOff++
        return
      }
      let problem: string | null
      try {
        problem = await checkAnswer(op, res)
      } catch (error) {
        // The answer broke off mid-body: not an acknowledgement.
        if (!load.killed) failures.push(`${op.kind} ${guid}: reading the answer failed before the kill: ${error}`)
        else load.cutOff++
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
      load.acks++
      if (load.acks >= o.killAfterAcks && !load.killed) {
        load.killed = true
        killPromise = o.kill()
      }
    }
  }

  await Promise.all(Array.from({ length: o.workers }, (_, w) => worker(w)))
  clearTimeout(deadline)
  await killPromise
  load.deadBySec = Math.floor(Date.now() / 1000)
  return load
}

/** What the server answers for `guid`: its state (null on 404), or 'error' for anything else. */
export const readState = async (base: string, guid: string): Promise<State | 'error'> => {
  const res = await fetch(`${base}/guid/${guid}`, { signal: AbortSignal.timeout(5_000) })
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

export interface Recovered {
  /** What the restarted server answered per GUID (null: 404). */
  seen: Map<string, State | 'error'>
  /** GUIDs whose answer is neither the acknowledged state nor, for an op in flight, its outcome. */
  mismatches: string[]
}

/** Whether `state` is what `op` (sent, never answered) leaves behind, had it landed before the server died. */
const landed = (op: Op, state: State | 'error', deadBySec: number): boolean => {
  if (op.first === undefined || op.next === null) return Bun.deepEquals(op.next, state)
  if (state === null || state === 'error') return false
  return state.user === op.next.user && state.expire === op.next.expire && isFirstVersion(state.version, op.first.after, op.first.sentSec, deadBySec)
}

/** Reads every GUID of the load back from `base` and checks it against the model. */
export const readBack = async (base: string, load: KillLoad): Promise<Recovered> => {
  const seen = new Map<string, State | 'error'>()
  const mismatches: string[] = []
  for (let i = 0; i < load.guids.length; i += 64) {
    const chunk = load.guids.slice(i, i + 64)
    const states = await Promise.all(chunk.map((guid) => readState(base, guid)))
    chunk.forEach((guid, j) => {
      const state = states[j]!
      seen.set(guid, state)
      const last = load.acked.get(guid) ?? null
      const pending = load.uncertain.get(guid)
      if (!(Bun.deepEquals(last, state) || (pending !== undefined && landed(pending, state, load.deadBySec)))) {
        mismatches.push(`${guid}: read ${JSON.stringify(state)}; acknowledged ${JSON.stringify(last)}${pending ? `, in flight ${pending.kind} -> ${JSON.stringify(pending.next)}` : ''}`)
      }
    })
  }
  return { seen, mismatches }
}

/**
 * The version of the tombstone a GUID the restarted server answers 404 for must have: the
 * version of the delete that landed (the one in flight, or the last acknowledged one), or
 * undefined when the GUID was never created (nothing stored at all).
 */
export const tombstoneVersion = (load: KillLoad, guid: string): number | undefined => {
  const pending = load.uncertain.get(guid)
  // A delete is only planned on a live record, so a 404 means the one in flight landed.
  if (pending !== undefined && pending.next === null) return pending.version
  return load.versions.get(guid)
}

/** The shape of a load: how many workers on how many GUIDs, and when the kill comes. */
export type LoadShape = Pick<KillLoadOptions, 'workers' | 'guidsPerWorker' | 'killAfterAcks' | 'loadDeadlineMs'>

/** The load the durability tests run unless told otherwise: 32 workers on 8 GUIDs each, killed after 1,500 acknowledgements. */
export const STANDARD_LOAD = {
  workers: 32,
  guidsPerWorker: 8,
  /** The kill is triggered by this many acknowledged writes, not by a timer. */
  killAfterAcks: 1_500,
  /** Bounds the load phase should the server stall before reaching the kill count. */
  loadDeadlineMs: 30_000,
} as const satisfies LoadShape

/**
 * Runs `shape` (the standard load unless told) against `base` until `kill` fires, and checks
 * that the kill came under full load: no failure before it, and every worker cut off mid-request.
 */
export const killUnderLoad = async (base: string, server: Started, shape: LoadShape = STANDARD_LOAD): Promise<KillLoad> => {
  const load = await loadUntilKill({ base, kill: () => server.kill9(), ...shape })
  expect(load.failures).toEqual([])
  expect(load.killed).toBe(true)
  expect(server.proc.signalCode).toBe('SIGKILL')
  // Every worker was still writing when the server died: the kill came under full load.
  expect(load.cutOff).toBe(shape.workers)
  expect(load.uncertain.size).toBe(shape.workers)
  expect(load.acks).toBeGreaterThanOrEqual(shape.killAfterAcks)
  return load
}

export interface KillAndRestartOptions {
  /** Starts the service; called twice with the same configuration, so the second recovers what the first left. */
  start: () => Promise<Started>
  shape?: LoadShape
  /** Runs between the kill and the restart: a look at what the dead instance left, a line printed. */
  afterKill?: (load: KillLoad) => Promise<void> | void
}

export interface Restarted extends Recovered {
  load: KillLoad
  /** The restarted server, and its URL. */
  second: Started
  base: string
}

/**
 * The frame of every mode's kill -9 test (one place, so the modes cannot drift apart): start
 * the service, kill it under load, start it again on the same data, and read every GUID back,
 * which must match the model. What a mode checks beyond that (its journal, its store) the
 * test does with what this returns; stopping the second server is the test's too.
 */
export const killAndRestart = async (o: KillAndRestartOptions): Promise<Restarted> => {
  const first = await o.start()
  const load = await killUnderLoad(urlOf(first), first, o.shape)
  await o.afterKill?.(load)
  const second = await o.start()
  const base = urlOf(second)
  const { mismatches, seen } = await readBack(base, load)
  expect(mismatches).toEqual([])
  return { load, second, base, seen, mismatches }
}

/**
 * Checks that the recovered records are live: a conditional write on one (acknowledged, not
 * in flight at the kill) continues its version line. Returns the GUID and its new state.
 */
export const patchSurvivor = async (base: string, load: KillLoad): Promise<{ guid: string; state: NonNullable<State> }> => {
  const survivor = load.guids.find((g) => load.uncertain.get(g) === undefined && load.acked.get(g))
  expect(survivor).toBeDefined()
  const state = load.acked.get(survivor!)!
  const patched = await send(base, 'PATCH', `/guid/${survivor}`, { user: 'after-restart' }, { 'if-match': `"${state.version}"` })
  expect(patched.status).toBe(200)
  expect(patched.headers.get('etag')).toBe(`"${state.version + 1}"`)
  await patched.arrayBuffer()
  return { guid: survivor!, state: { ...state, user: 'after-restart', version: state.version + 1 } }
}

/**
 * What is wrong with what a store holds for `guid`, given what the API answered: the record
 * exactly, or (after a 404) the tombstone of version `tombstone`, or nothing when the GUID was
 * never created (`tombstone` undefined). Null when it is right.
 */
export type StoredCheck = (guid: string, answered: State, tombstone: number | undefined) => Promise<string | null> | string | null

/** A StoredCheck reading a Store (SQLite, MongoDB) alone, with no guidd in front of it. */
export const storeCheck =
  (store: Pick<Store, 'get'>, nowSec: number): StoredCheck =>
  async (guid, answered, tombstone) => {
    const stored = await store.get(guid, nowSec)
    if (answered !== null) return Bun.deepEquals(stored, { guid, ...answered }) ? null : `${guid}: stored ${JSON.stringify(stored)}, answered ${JSON.stringify(answered)}`
    if (tombstone === undefined) return stored === null ? null : `${guid}: never created, yet stored ${JSON.stringify(stored)}`
    const ok = stored !== null && 'deleted' in stored && stored.deleted === true && stored.version === tombstone
    return ok ? null : `${guid}: answered 404, stored ${JSON.stringify(stored)}; expected a tombstone of version ${tombstone}`
  }

/**
 * After a kill and restart, the store behind the service must hold exactly what the restarted
 * server answered (`seen`) for every GUID of the load; a 404's tombstone version comes from the
 * model (tombstoneVersion). Also checks the load covered both kinds of state.
 */
export const expectStoredAsAnswered = async (load: KillLoad, seen: Recovered['seen'], check: StoredCheck): Promise<void> => {
  const wrong: string[] = []
  let records = 0
  let tombstones = 0
  for (const guid of load.guids) {
    const answered = seen.get(guid)
    if (answered === undefined || answered === 'error') {
      wrong.push(`${guid}: the API answered ${answered}`)
      continue
    }
    const tombstone = answered === null ? tombstoneVersion(load, guid) : undefined
    if (answered !== null) records++
    else if (tombstone !== undefined) tombstones++
    const problem = await check(guid, answered, tombstone)
    if (problem !== null) wrong.push(problem)
  }
  expect(wrong).toEqual([])
  // The load covers both kinds of state.
  expect(records).toBeGreaterThan(0)
  expect(tombstones).toBeGreaterThan(0)
}
