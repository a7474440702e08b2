import type { ActorRegistry } from './actors'
import { type Clock, nowSeconds } from '../domain/clock'
import { invalid, overloaded, ServiceError } from '../domain/errors'
import type { Records } from './records'
import { VersionConflict } from './journal'
import { ifMatchHolds, noneMatchFails } from '../domain/etag'
import { parseExpire } from '../domain/expire'
import { type CreateBody, firstVersion, isLive, type PatchBody, type Stored, type StoredRecord, type UpsertBody } from '../domain/model'
import { generateGuid, normaliseGuid } from '../domain/normalise'

export interface GuidServiceDeps {
  actors: ActorRegistry
  records: Records
  clock: Clock
  defaultTtlSeconds: number
  /** How long a deleted GUID's tombstone (its last version) is kept. */
  tombstoneTtlSeconds: number
}

/** Conditional request headers, as received. */
export interface Preconditions {
  ifMatch?: string | undefined
  ifNoneMatch?: string | undefined
}

export type WriteResult = { record: StoredRecord; created: boolean }

/** What a load tells a write: the live record (if any) and the latest version known, expired or not. */
interface State {
  live: StoredRecord | null
  version: number
}

/** A write's decision: the state to journal (none: answer without writing) and the answer. */
interface Decision<T> {
  next?: Stored
  result: T
}

/** Reload-and-retry rounds when another instance keeps winning the version race. */
const MAX_CONFLICT_RETRIES = 5

const notFound = (guid: string) => new ServiceError('not-found', `GUID ${guid} does not exist or has expired.`)

const stateOf = (stored: Stored | null, nowSec: number): State => (stored === null ? { live: null, version: 0 } : { live: isLive(stored, nowSec) ? stored : null, version: stored.version })

/**
 * The resource's rules (SPEC §2-§3). Every mutation of a GUID runs inside that GUID's
 * actor, so load-decide-commit never interleaves with another mutation of the same GUID
 * here; across instances the journal's compare-and-set settles it (the loser reloads and
 * decides again, which answers 412 when its If-Match no longer holds). Versions never
 * repeat across delete or expiry: a new incarnation starts above every earlier one (firstVersion).
 */
export class GuidService {
  constructor(private readonly deps: GuidServiceDeps) {}

  /** Synchronous when memory answers (the hot path), a promise otherwise. */
  get(rawGuid: string): StoredRecord | Promise<StoredRecord> {
    const guid = normaliseGuid(rawGuid)
    const now = nowSeconds(this.deps.clock)
    // A memory hit needs no actor: it is at least as new as every acknowledged write here.
    const hot = this.deps.records.peek(guid, now)
    if (hot !== undefined) {
      if (hot === null || !isLive(hot, now)) throw notFound(guid)
      return hot
    }
    // A miss reads below inside the actor (shared: reads run together, never across a
    // write), so its fill cannot overwrite a newer write; the tiers below hold every
    // acknowledged write, so the nearest need not be asked twice.
    return this.deps.actors
      .runShared(guid, () => this.deps.records.load(guid, now, 1))
      .then((stored) => {
        if (stored === null || !isLive(stored, now)) throw notFound(guid)
        return stored
      })
  }

  create(body: CreateBody): Promise<StoredRecord> {
    const given = body.guid
    const guid = given === undefined ? generateGuid() : normaliseGuid(given, '/guid')
    // 122 random bits cannot name an existing GUID (p ~ 2^-122 per pair): no lookup for those.
    return this.transact(guid, given === undefined, ({ live, version }, now) => {
      const expire = body.expire === undefined ? now + this.deps.defaultTtlSeconds : parseExpire(body.expire, now)
      if (live !== null) throw new ServiceError('guid-exists', `GUID ${guid} already exists; update it with PATCH or POST /guid/${guid}.`)
      const record = { guid, user: body.user, expire, version: firstVersion(now, version) }
      return { next: record, result: record }
    })
  }

  upsert(rawGuid: string, body: UpsertBody, pre: Preconditions): Promise<WriteResult> {
    const guid = this.pathGuid(rawGuid, body.guid)
    return this.transact(guid, false, ({ live, version }, now): Decision<WriteResult> => {
      const expire = body.expire === undefined ? undefined : parseExpire(body.expire, now)
      checkWrite(pre, live)
      if (live === null) {
        if (body.user === undefined) throw invalid('/user', 'user is required to create a GUID')
        const record = { guid, user: body.user, expire: expire ?? now + this.deps.defaultTtlSeconds, version: firstVersion(now, version) }
        return { next: record, result: { record, created: true } }
      }
      if (body.user === undefined && expire === undefined) return { result: { record: live, created: false } }
      const record = { guid, user: body.user ?? live.user, expire: expire ?? live.expire, version: version + 1 }
      return { next: record, result: { record, created: false } }
    })
  }

  patch(rawGuid: string, body: PatchBody, pre: Preconditions): Promise<StoredRecord> {
    const guid = this.pathGuid(rawGuid, body.guid)
    if (body.user === undefined && body.expire === undefined) throw invalid('', 'PATCH needs at least one of user and expire')
    return this.transact(guid, false, ({ live, version }, now) => {
      const expire = body.expire === undefined ? undefined : parseExpire(body.expire, now)
      if (live === null) throw notFound(guid)
      checkWrite(pre, live)
      const record = { guid, user: body.user ?? live.user, expire: expire ?? live.expire, version: version + 1 }
      return { next: record, result: record }
    })
  }

  remove(rawGuid: string, pre: Preconditions): Promise<void> {
    const guid = normaliseGuid(rawGuid)
    return this.transact(guid, false, ({ live, version }, now) => {
      if (live === null) throw notFound(guid)
      checkWrite(pre, live)
      return { next: { guid, version: version + 1, expire: now + this.deps.tombstoneTtlSeconds, deleted: true }, result: undefined }
    })
  }

  /**
   * Load-decide-commit in the GUID's actor. `fresh`: the GUID is known not to exist (just
   * generated), so there is nothing to load. On a lost compare-and-set, forget this
   * instance's copy, reload and decide again.
   */
  private transact<T>(guid: string, fresh: boolean, decide: (state: State, now: number) => Decision<T>): Promise<T> {
    const attempt = async (): Promise<T> => {
      let verified = !this.deps.records.localMayTrail
      for (let round = 0; ; round++) {
        const now = nowSeconds(this.deps.clock)
        const state = fresh && round === 0 ? stateOf(null, now) : stateOf(await this.deps.records.load(guid, now), now)
        let decision: Decision<T>
        try {
          decision = decide(state, now)
        } catch (error) {
          // A refusal (404, 409, 412) is not checked by the journal's compare-and-set, so it
          // must not rest on a copy that may trail another instance's write: decide it again
          // on the shared state (found by the linearizability check: a 412 for a current If-Match).
          if (verified || !isRefusal(error)) throw error
          verified = true
          this.deps.records.forgetLocal(guid)
          continue
        }
        const { next, result } = decision
        if (next === undefined) return result
        try {
          await this.deps.records.commit({ next, prevVersion: state.version }, now)
          return result
        } catch (error) {
          if (!(error instanceof VersionConflict)) throw error
          if (round >= MAX_CONFLICT_RETRIES) throw overloaded(`GUID ${guid} is being changed concurrently elsewhere; retry shortly.`, error)
          this.deps.records.forgetLocal(guid)
        }
      }
    }
    // A GUID generated just now is known to no one else until this answer: no actor needed.
    return fresh ? attempt() : this.deps.actors.run(guid, attempt)
  }

  /** The path's GUID; a `guid` in the body is allowed only when it names the same one. */
  private pathGuid(rawGuid: string, bodyGuid: string | undefined): string {
    const guid = normaliseGuid(rawGuid)
    if (bodyGuid !== undefined && normaliseGuid(bodyGuid, '/guid') !== guid) throw invalid('/guid', 'guid in the body must equal the GUID in the path')
    return guid
  }
}

const REFUSALS: ReadonlySet<string> = new Set(['not-found', 'guid-exists', 'precondition-failed'])

/** An answer decided from the state alone: no write happens, so nothing else checks it. */
const isRefusal = (error: unknown): boolean => error instanceof ServiceError && REFUSALS.has(error.kind)

/** RFC 9110 §13.1.1-13.1.2 for writes: If-Match must match, If-None-Match must not. */
const checkWrite = (pre: Preconditions, live: StoredRecord | null): void => {
  const version = live?.version ?? null
  if (pre.ifMatch !== undefined && !ifMatchHolds(pre.ifMatch, version)) {
    throw new ServiceError('precondition-failed', live === null ? 'If-Match was given but the GUID does not exist.' : `If-Match does not match the current ETag "${live.version}".`)
  }
  if (pre.ifNoneMatch !== undefined && noneMatchFails(pre.ifNoneMatch, version)) {
    throw new ServiceError('precondition-failed', 'If-None-Match matches the current record.')
  }
}
