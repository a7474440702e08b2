import type { ActorRegistry } from './actors'
import { type Clock, nowSeconds } from '../domain/clock'
import { type Decision, decideCreate, decidePatch, decideRemove, decideResumedCreate, decideUpsert, notFound, type Preconditions, type State, stateOf, type WriteResult } from '../domain/decisions'
import type { KeyedWrite } from './idempotency'
import { invalid, overloaded, ServiceError } from '../domain/errors'
import type { Records } from './records'
import { VersionConflict } from './journal'
import { parseExpire } from '../domain/expire'
import { changesOf, expiryTombstone } from '../domain/change'
import { type CreateBody, isLive, type Mutation, type PatchBody, type Stored, type StoredRecord, type UpsertBody } from '../domain/model'
import { generateGuid, normaliseGuid } from '../domain/normalise'

export interface GuidServiceDeps {
  actors: ActorRegistry
  records: Records
  clock: Clock
  defaultTtlSeconds: number
  /** How long a deleted GUID's tombstone (its last version) is kept. */
  tombstoneTtlSeconds: number
}

/** Reload-and-retry rounds when another instance keeps winning the version race. */
const MAX_CONFLICT_RETRIES = 5

/**
 * The GUID API's use cases over the data path: each mutation loads the GUID's state, runs
 * the rules (domain/decisions.ts) and commits what they decide, inside that GUID's actor, so load-decide-commit never interleaves with another mutation of the same GUID
 * here; across instances the journal's compare-and-set settles it (the loser reloads and
 * decides again, which answers 412 when its If-Match no longer holds). Versions never
 * repeat across delete or expiry: a new incarnation starts above every earlier one (firstVersion).
 */
export class GuidService {
  /** GUIDs whose copy is being read again ahead of the end of its lifetime (refreshAhead). */
  private readonly refreshing = new Set<string>()

  constructor(private readonly deps: GuidServiceDeps) {}

  /** Synchronous when memory answers (the hot path), a promise otherwise. */
  get(rawGuid: string): StoredRecord | Promise<StoredRecord> {
    const guid = normaliseGuid(rawGuid)
    const now = nowSeconds(this.deps.clock)
    // A memory hit needs no actor: it is at least as new as every acknowledged write here.
    const hot = this.deps.records.peek(guid, now)
    if (hot !== undefined) {
      if (this.deps.records.refreshDue(guid)) this.refreshAhead(guid, now)
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

  /**
   * Reads a GUID again below while its copy still answers (LRU_TTL_MS, MongoDB-only mode), so
   * a hot GUID's next lifetime starts before this one ends: without it, every read arriving
   * after the end waited for the store (p99 20-80 ms against FerretDB). One refresh per GUID
   * at a time, a shared job in its actor like any miss, so its fill never crosses a write.
   * A failed refresh changes nothing: the copy lives out its lifetime, then reads ask below.
   */
  private refreshAhead(guid: string, now: number): void {
    if (this.refreshing.has(guid)) return
    this.refreshing.add(guid)
    const done = () => this.refreshing.delete(guid)
    this.deps.actors.runShared(guid, () => this.deps.records.load(guid, now, 1)).then(done, done)
  }

  /** `keyed`: under an Idempotency-Key (data/idempotency.ts), here and in every write below. */
  create(body: CreateBody, keyed?: KeyedWrite): Promise<StoredRecord> {
    const given = body.guid
    const guid = given === undefined ? (keyed?.guid ?? generateGuid()) : normaliseGuid(given, '/guid')
    const expire = this.expireOf(body.expire)
    const input = { guid, user: body.user, expire }
    const decide = keyed?.resumed === true ? decideResumedCreate : decideCreate
    // 122 random bits cannot name an existing GUID (p ~ 2^-122 per pair): no lookup for those.
    return this.transact(guid, given === undefined && keyed?.resumed !== true, (state, now) => decide(state, now, input, this.deps), keyed)
  }

  upsert(rawGuid: string, body: UpsertBody, pre: Preconditions, keyed?: KeyedWrite): Promise<WriteResult> {
    const guid = this.pathGuid(rawGuid, body.guid)
    const expire = this.expireOf(body.expire)
    return this.transact(guid, false, (state, now) => decideUpsert(state, now, { guid, user: body.user, expire, pre }, this.deps), keyed)
  }

  patch(rawGuid: string, body: PatchBody, pre: Preconditions, keyed?: KeyedWrite): Promise<StoredRecord> {
    const guid = this.pathGuid(rawGuid, body.guid)
    if (body.user === undefined && body.expire === undefined) throw invalid('', 'PATCH needs at least one of user and expire')
    const expire = this.expireOf(body.expire)
    return this.transact(guid, false, (state) => decidePatch(state, { guid, user: body.user, expire, pre }), keyed)
  }

  remove(rawGuid: string, pre: Preconditions, keyed?: KeyedWrite): Promise<void> {
    const guid = normaliseGuid(rawGuid)
    return this.transact(guid, false, (state, now) => decideRemove(state, now, { guid, pre }, this.deps), keyed)
  }

  /**
   * Records the expiry of a GUID whose expire has passed (the expiry sweep, data/expirer.ts):
   * a tombstone and its `expired` change, through the same actor and compare-and-set as any
   * write, so the change is ordered among the GUID's others and recorded once across
   * instances (a write that got there first recorded it itself: domain/change.ts). True when
   * this call recorded it.
   */
  expire(guid: string): Promise<boolean> {
    return this.transact(guid, false, (_state, now, stored) => {
      const next = expiryTombstone(stored, now, this.deps.tombstoneTtlSeconds)
      return next === undefined ? { result: false } : { next, result: true }
    })
  }

  /** `expire` as Unix seconds, validated before the actor is entered or anything is loaded. */
  private expireOf(raw: CreateBody['expire']): number | undefined {
    return raw === undefined ? undefined : parseExpire(raw, nowSeconds(this.deps.clock))
  }

  /**
   * Load-decide-commit in the GUID's actor. `fresh`: the GUID is known not to exist (just
   * generated), so there is nothing to load. On a lost compare-and-set, forget this
   * instance's copy, reload and decide again.
   */
  private transact<T>(guid: string, fresh: boolean, decide: (state: State, now: number, stored: Stored | null) => Decision<T>, keyed?: KeyedWrite): Promise<T> {
    const attempt = async (): Promise<T> => {
      let verified = !this.deps.records.localMayTrail
      for (let round = 0; ; round++) {
        const now = nowSeconds(this.deps.clock)
        const stored = fresh && round === 0 ? null : await this.deps.records.load(guid, now)
        const state = stateOf(stored, now)
        let decision: Decision<T>
        try {
          decision = decide(state, now, stored)
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
          // The key's answer goes with the write, in the journal's one atomic step, where it can;
          // elsewhere what the write makes and answers is recorded first (KeyedWrite.intend), and
          // the write leaves the claim's token with itself (KeyedWrite.trace).
          // Where the key's record is not on the write's slot (Redis Cluster), the write keeps the
          // answer beside the GUID and the HTTP edge copies it to the key's record afterwards.
          const keep = keyed?.keepWithWrite ? { id: keyed.id, fingerprint: keyed.fingerprint, answer: keyed.answer(result), expire: keyed.expire } : undefined
          if (keyed?.intend !== undefined) await keyed.intend({ guid: next.guid, version: next.version, answer: keyed.answer(result) })
          const mutation: Mutation = { next, prevVersion: state.version, changes: changesOf(stored, next, now) }
          if (keep !== undefined) mutation.keep = keep
          if (keyed?.trace !== undefined) mutation.trace = keyed.trace
          await this.deps.records.commit(mutation, now)
          if (keep !== undefined && (keyed!.keepsWith?.(next.guid) ?? true)) keyed!.committed = true
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
