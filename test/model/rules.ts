import { MAX_EXPIRE, type SentExpire } from './body'
import { allTags, endIncarnation, type GuidModel, type Live, recordWrite } from './model'
import { ifMatchHolds, noneMatchMatches, opaqueOf } from './tags'
import { assumptions, futureDuring, liveDuring } from './timing'
import type { Observed } from './wire'

/**
 * What the service must answer, decided from the model alone (docs/api.md, and README
 * "Errors"). Near an expiry boundary a request may be decided either way, so the rules
 * are evaluated under each assumption that real time leaves open, and the answer must be
 * one of the outcomes they give; the one it matches tells the model what happened.
 *
 * Errors: a malformed or invalid body is refused before anything else (one exact answer);
 * among the errors that depend on the GUID's state (404, 409, 412, `expire` in the past,
 * `user` required) any one that applies is accepted, since the order they are checked in
 * is not part of the contract and none of them changes anything.
 */

export type Quirk = 'none' | 'duplicate-key' | 'bad-utf8'

/** A request's meaning, with every value resolved (what was actually sent). */
export type Intent =
  | { op: 'create'; generated: boolean; user: string; expire?: SentExpire; quirk: Quirk }
  | { op: 'upsert' | 'patch'; user?: string; expire?: SentExpire; guidMismatch: boolean; ifMatch?: string; ifNoneMatch?: string; quirk: Quirk }
  | { op: 'delete'; ifMatch?: string; ifNoneMatch?: string }
  | { op: 'get'; ifNoneMatch?: string }

export type Outcome =
  | { kind: 'problem'; status: number; type: string; why: string; gone: boolean }
  | {
      kind: 'record'
      status: 200 | 201
      user: string
      /** Inclusive range (a default expiry depends on the server's second). */
      expire: readonly [number, number]
      /** 'new': a create (new incarnation); 'update': a new version; 'none': the current version, unchanged. */
      write: 'new' | 'update' | 'none'
      gone: boolean
    }
  | { kind: 'not-modified' }
  | { kind: 'deleted' }

export interface Context {
  g: GuidModel
  t0: number
  t1: number
  diskFull: boolean
  /** The MongoDB server is stopped: any request may find it needs it (a read that misses the caches, a write's load or commit). */
  storeDown: boolean
  defaultTtlSeconds: number
  /** Leave out the check that a write's ETag is new (GUIDD_MODEL_WITHOUT=repeated-etags). */
  allowRepeatedEtags?: boolean
}

const PROBLEM = 'urn:guidd:problem:'

/** `user` as the contract allows it: well-formed Unicode (no lone surrogate), 1 to 256 code points. */
export const userValid = (user: string): boolean => {
  let n = 0
  for (const ch of user) {
    const c = ch.codePointAt(0)!
    if (c >= 0xd800 && c <= 0xdfff) return false
    n++
  }
  return n >= 1 && n <= 256
}

const problem = (status: number, type: string, why: string, gone = false): Outcome => ({ kind: 'problem', status, type: PROBLEM + type, why, gone })

const isWrite = (i: Intent): boolean => i.op !== 'get'

/** Errors that depend on nothing but the request: the only answer when one applies. */
const bodyErrors = (i: Intent): Outcome[] => {
  if (i.op === 'get' || i.op === 'delete') return []
  if (i.quirk === 'duplicate-key') return [problem(400, 'malformed-json', 'a JSON object with a duplicate key')]
  if (i.quirk === 'bad-utf8') return [problem(400, 'malformed-json', 'bytes that are not UTF-8')]
  if (i.user !== undefined && !userValid(i.user)) return [problem(400, 'validation', 'user is not 1-256 code points of well-formed Unicode')]
  if (i.op !== 'create' && i.guidMismatch) return [problem(400, 'validation', 'the body names another GUID')]
  if (i.op === 'patch' && i.user === undefined && i.expire === undefined) return [problem(400, 'validation', 'PATCH changes nothing')]
  return []
}

/** The outcomes under one assumption: the record live or not, the sent `expire` in the future or not. */
const decide = (i: Intent, c: Context, live: boolean, future: boolean): Outcome[] => {
  const cur: Live | null = live ? c.g.live : null
  const gone = c.g.live !== null && !live
  const errors: Outcome[] = []
  const err = (status: number, type: string, why: string) => errors.push(problem(status, type, why, gone))
  if (i.op !== 'get' && i.op !== 'delete' && i.expire !== undefined && (!future || i.expire.seconds > MAX_EXPIRE)) err(400, 'validation', 'expire is not in the future (or past 9999)')
  const etag = cur?.etag ?? null
  const preconditions = (ifMatch?: string, ifNoneMatch?: string) => {
    if (ifMatch !== undefined && !ifMatchHolds(ifMatch, etag)) err(412, 'precondition-failed', `If-Match ${ifMatch} against ${etag ?? 'no record'}`)
    if (ifNoneMatch !== undefined && noneMatchMatches(ifNoneMatch, etag)) err(412, 'precondition-failed', `If-None-Match ${ifNoneMatch} matches ${etag}`)
  }
  const [s0, s1] = [Math.floor(c.t0 / 1000), Math.floor(c.t1 / 1000)]
  const expireOr = (fallback: readonly [number, number]): readonly [number, number] => (i.op !== 'get' && i.op !== 'delete' && i.expire ? [i.expire.seconds, i.expire.seconds] : fallback)
  const byDefault = [s0 + c.defaultTtlSeconds, s1 + c.defaultTtlSeconds] as const
  let success: Outcome
  switch (i.op) {
    case 'create':
      if (cur !== null) err(409, 'guid-exists', 'the GUID exists')
      success = { kind: 'record', status: 201, user: i.user, expire: expireOr(byDefault), write: 'new', gone }
      break
    case 'upsert':
      preconditions(i.ifMatch, i.ifNoneMatch)
      if (cur === null) {
        if (i.user === undefined) err(400, 'validation', 'user is required to create')
        success = { kind: 'record', status: 201, user: i.user ?? '', expire: expireOr(byDefault), write: 'new', gone }
      } else if (i.user === undefined && i.expire === undefined) {
        success = { kind: 'record', status: 200, user: cur.user, expire: [cur.expire, cur.expire], write: 'none', gone }
      } else {
        success = { kind: 'record', status: 200, user: i.user ?? cur.user, expire: expireOr([cur.expire, cur.expire]), write: 'update', gone }
      }
      break
    case 'patch':
      if (cur === null) err(404, 'not-found', 'no live record')
      preconditions(i.ifMatch, i.ifNoneMatch)
      success = { kind: 'record', status: 200, user: i.user ?? cur?.user ?? '', expire: expireOr(cur ? [cur.expire, cur.expire] : [0, 0]), write: 'update', gone }
      break
    case 'delete':
      if (cur === null) err(404, 'not-found', 'no live record')
      preconditions(i.ifMatch, i.ifNoneMatch)
      success = { kind: 'deleted' }
      break
    case 'get':
      if (cur === null) err(404, 'not-found', 'no live record')
      success =
        i.ifNoneMatch !== undefined && noneMatchMatches(i.ifNoneMatch, etag)
          ? { kind: 'not-modified' }
          : { kind: 'record', status: 200, user: cur?.user ?? '', expire: cur ? [cur.expire, cur.expire] : [0, 0], write: 'none', gone }
      break
  }
  const out = errors.length > 0 ? errors : [success]
  // A store that cannot write refuses the write with 503 (README "Errors": unavailable); it changes nothing.
  if (c.diskFull && isWrite(i)) out.push(problem(503, 'unavailable', 'the disk is full', gone))
  // Likewise a MongoDB that is down, for a read that misses the caches too. The driver's own
  // bounds (server selection 3 s, a socket 5 s, one retry of a read) can add up past
  // REQUEST_TIMEOUT_MS (10 s) on a loaded machine, and then the answer is the contract's 503
  // timeout (seen once in CI, with 26 creates at once just after a kill -9). Either way a
  // server that is down applied nothing.
  else if (c.storeDown) out.push(problem(503, 'unavailable', 'MongoDB is down', gone), problem(503, 'timeout', 'MongoDB is down, and the driver held the request past REQUEST_TIMEOUT_MS', gone))
  return out
}

/** Every outcome real time leaves open. */
export const expectations = (i: Intent, c: Context): Outcome[] => {
  const strict = bodyErrors(i)
  if (strict.length > 0) return strict
  const lives = c.g.live === null ? [false] : assumptions(liveDuring(c.g.live.expire, c.t0, c.t1))
  const sent = i.op !== 'get' && i.op !== 'delete' ? i.expire : undefined
  const futures = sent === undefined ? [true] : assumptions(futureDuring(sent.seconds, c.t0, c.t1))
  return lives.flatMap((live) => futures.flatMap((future) => decide(i, c, live, future)))
}

export const describeOutcome = (o: Outcome): string => {
  switch (o.kind) {
    case 'problem':
      return `${o.status} ${o.type.slice(PROBLEM.length)} (${o.why})${o.gone ? ' [record expired]' : ''}`
    case 'record': {
      const e = o.expire[0] === o.expire[1] ? String(o.expire[0]) : `${o.expire[0]}..${o.expire[1]}`
      const tag = o.write === 'none' ? 'the current ETag' : 'an ETag the GUID never had'
      return `${o.status} {user ${JSON.stringify(o.user)}, expire ${e}} with ${tag}${o.gone ? ' [record expired]' : ''}`
    }
    case 'not-modified':
      return '304 with the current ETag'
    case 'deleted':
      return '204'
  }
}

/** Why an answer does not fit an outcome (null: it fits). */
const misfit = (o: Outcome, r: Observed, c: Context, guid: string | null): string | null => {
  switch (o.kind) {
    case 'problem': {
      if (r.status !== o.status) return `status ${r.status}`
      if (!r.contentType?.startsWith('application/problem+json')) return `content-type ${r.contentType}`
      if (r.json?.type !== o.type || r.json?.status !== o.status) return `problem type ${r.json?.type}`
      if (o.status === 503 && r.retryAfter === null) return 'no Retry-After'
      return null
    }
    case 'not-modified':
      if (r.status !== 304) return `status ${r.status}`
      if (r.etag !== c.g.live?.etag) return `ETag ${r.etag}, the current is ${c.g.live?.etag}`
      return null
    case 'deleted':
      if (r.status !== 204) return `status ${r.status}`
      return r.text === '' ? null : 'a body'
    case 'record': {
      if (r.status !== o.status) return `status ${r.status}`
      const body = r.json
      if (typeof body !== 'object' || body === null || Object.keys(body).sort().join() !== 'expire,guid,user') return `body ${r.text}`
      if (guid !== null ? body.guid !== guid : !/^[0-9A-F]{32}$/.test(body.guid)) return `guid ${body.guid}`
      if (body.user !== o.user) return `user ${JSON.stringify(body.user)}`
      if (!(body.expire >= o.expire[0] && body.expire <= o.expire[1])) return `expire ${body.expire}`
      if (r.etag === null || opaqueOf(r.etag) === null) return `ETag ${r.etag} (not a strong entity tag)`
      if (o.status === 201 && r.location !== `/guid/${body.guid}`) return `Location ${r.location}`
      if (o.write === 'none' && r.etag !== c.g.live?.etag) return `ETag ${r.etag}, the current is ${c.g.live?.etag}`
      if (o.write !== 'none' && guid !== null && !c.allowRepeatedEtags && allTags(c.g).includes(r.etag)) return `ETag ${r.etag} repeats one this GUID already had (${allTags(c.g).join(' ')})`
      return null
    }
  }
}

/**
 * The worst kinds of misfit, named as such: an answer that brings back a version this GUID
 * already moved past, or one that acts on a record the model knows is gone (a 409 to a
 * create after the acknowledged expiry passed).
 */
const oldVersion = (r: Observed, c: Context, outcomes: Outcome[]): string | null => {
  if (r.etag !== null && r.etag !== c.g.live?.etag && allTags(c.g).includes(r.etag) && (r.status === 200 || r.status === 304)) {
    return `AN OLD VERSION CAME BACK: ETag ${r.etag} was superseded (history ${allTags(c.g).join(' ')}, current ${c.g.live?.etag ?? 'none'})`
  }
  const modelSaysGone = outcomes.every((o) => o.kind !== 'problem' || o.status !== 409)
  if (r.status === 409 && modelSaysGone && allTags(c.g).length > 0) return `A RECORD THE MODEL KNOWS IS GONE IS STILL THERE (history ${allTags(c.g).join(' ')})`
  return null
}

export type Verdict = { ok: true; apply: () => void; outcome: Outcome } | { ok: false; message: string }

/**
 * Checks an answer against the outcomes and, when it fits one, says how the model moves.
 * `guid` is the GUID the answer must name (null: a generated one, any new GUID).
 */
export const judge = (outcomes: Outcome[], r: Observed, c: Context, guid: string | null, adopt: (guid: string) => GuidModel): Verdict => {
  const fits = outcomes.filter((o) => misfit(o, r, c, guid) === null)
  if (fits.length === 0) {
    const why = outcomes.map((o) => `  - ${describeOutcome(o)}: got ${misfit(o, r, c, guid)}`).join('\n')
    return { ok: false, message: `${oldVersion(r, c, outcomes) ?? 'unexpected answer'}\nexpected one of:\n${why}` }
  }
  const o = fits[0]!
  // Only a fit every reading agrees on proves the record expired.
  const gone = fits.every((f) => 'gone' in f && f.gone)
  const apply = () => {
    const g = guid === null && o.kind === 'record' ? adopt(r.json.guid) : c.g
    if (gone) endIncarnation(g)
    if (o.kind === 'deleted') endIncarnation(g)
    if (o.kind === 'record' && o.write !== 'none') recordWrite(g, { user: r.json.user, expire: r.json.expire, etag: r.etag! }, o.write === 'new')
  }
  return { ok: true, apply, outcome: o }
}
