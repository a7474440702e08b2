import { ServiceError } from './errors'
import { ifMatchHolds, noneMatchFails } from './etag'
import { firstVersion, isLive, type Stored, type StoredRecord } from './model'

/**
 * The resource's rules as pure decisions: from what is stored (State), the request's values
 * (already validated) and the instant, what to write and what to answer. No I/O: the GUID
 * service runs them inside the GUID's actor and commits what they decide.
 */

/** Conditional request headers, as received. */
export interface Preconditions {
  ifMatch?: string | undefined
  ifNoneMatch?: string | undefined
}

/** What a load tells a write: the live record (if any) and the latest version known, expired or not. */
export interface State {
  live: StoredRecord | null
  version: number
}

/** A write's decision: the state to journal (none: answer without writing) and the answer. */
export interface Decision<T> {
  next?: Stored
  result: T
}

export type WriteResult = { record: StoredRecord; created: boolean }

/** How long a GUID lives by default, and how long a deleted one's tombstone is kept. */
export interface Lifetimes {
  defaultTtlSeconds: number
  tombstoneTtlSeconds: number
}

export const stateOf = (stored: Stored | null, nowSec: number): State => (stored === null ? { live: null, version: 0 } : { live: isLive(stored, nowSec) ? stored : null, version: stored.version })

export const notFound = (guid: string): ServiceError => new ServiceError('not-found', `GUID ${guid} does not exist or has expired.`)

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

/** POST /guid: a new record, unless a live one has the GUID. */
export const decideCreate = (state: State, now: number, input: { guid: string; user: string; expire?: number }, lifetimes: Lifetimes): Decision<StoredRecord> => {
  if (state.live !== null) throw new ServiceError('guid-exists', `GUID ${input.guid} already exists; update it with PATCH or POST /guid/${input.guid}.`)
  const record = { guid: input.guid, user: input.user, expire: input.expire ?? now + lifetimes.defaultTtlSeconds, version: firstVersion(now, state.version) }
  return { next: record, result: record }
}

/**
 * POST /guid retried under an Idempotency-Key whose first request died between its create and
 * keeping its answer (MongoDB-only): the create may have landed, and then its record (the
 * key's fixed GUID, with this user) is the answer, not a 409.
 */
export const decideResumedCreate = (state: State, now: number, input: { guid: string; user: string; expire?: number }, lifetimes: Lifetimes): Decision<StoredRecord> =>
  state.live !== null && state.live.user === input.user ? { result: state.live } : decideCreate(state, now, input, lifetimes)

/** POST /guid/{guid}: create (user required) or update; an update changing nothing writes nothing. */
export const decideUpsert = (state: State, now: number, input: { guid: string; user?: string; expire?: number; pre: Preconditions }, lifetimes: Lifetimes): Decision<WriteResult> => {
  const { live, version } = state
  checkWrite(input.pre, live)
  if (live === null) {
    if (input.user === undefined) throw new ServiceError('validation', 'user is required to create a GUID', { errors: [{ path: '/user', message: 'user is required to create a GUID' }] })
    const record = { guid: input.guid, user: input.user, expire: input.expire ?? now + lifetimes.defaultTtlSeconds, version: firstVersion(now, version) }
    return { next: record, result: { record, created: true } }
  }
  if (input.user === undefined && input.expire === undefined) return { result: { record: live, created: false } }
  const record = { guid: input.guid, user: input.user ?? live.user, expire: input.expire ?? live.expire, version: version + 1 }
  return { next: record, result: { record, created: false } }
}

/** PATCH /guid/{guid}: change user and/or expire of a live record. */
export const decidePatch = (state: State, input: { guid: string; user?: string; expire?: number; pre: Preconditions }): Decision<StoredRecord> => {
  const { live, version } = state
  if (live === null) throw notFound(input.guid)
  checkWrite(input.pre, live)
  const record = { guid: input.guid, user: input.user ?? live.user, expire: input.expire ?? live.expire, version: version + 1 }
  return { next: record, result: record }
}

/** DELETE /guid/{guid}: a tombstone holding the next version, kept for the tombstone lifetime. */
export const decideRemove = (state: State, now: number, input: { guid: string; pre: Preconditions }, lifetimes: Lifetimes): Decision<void> => {
  const { live, version } = state
  if (live === null) throw notFound(input.guid)
  checkWrite(input.pre, live)
  return { next: { guid: input.guid, version: version + 1, expire: now + lifetimes.tombstoneTtlSeconds, deleted: true }, result: undefined }
}
