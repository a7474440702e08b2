import { type ActorRegistry } from '../actors/registry'
import { type Clock, nowSeconds } from '../clock'
import { AppError, invalid } from '../errors'
import type { Records } from '../records'
import { ifMatchHolds, noneMatchFails } from './etag'
import { parseExpire } from './expire'
import type { CreateBody, PatchBody, StoredRecord, UpsertBody } from './model'
import { generateGuid, normaliseGuid } from './normalise'

export interface GuidServiceDeps {
  actors: ActorRegistry
  records: Records
  clock: Clock
  defaultTtlSeconds: number
}

/** Conditional request headers, as received. */
export interface Preconditions {
  ifMatch?: string | undefined
  ifNoneMatch?: string | undefined
}

export type WriteResult = { record: StoredRecord; created: boolean }

const notFound = (guid: string) => new AppError('not-found', `GUID ${guid} does not exist or has expired.`)
const preconditionFailed = (detail: string) => new AppError('precondition-failed', detail)

/**
 * The resource's rules (SPEC §2-§3). Every mutation of a GUID runs inside that GUID's
 * actor, so load-decide-commit never interleaves with another mutation of the same GUID.
 */
export class GuidService {
  constructor(private readonly deps: GuidServiceDeps) {}

  /** Synchronous when memory answers (the hot path), a promise otherwise. */
  get(rawGuid: string): StoredRecord | Promise<StoredRecord> {
    const guid = normaliseGuid(rawGuid)
    const now = nowSeconds(this.deps.clock)
    // A memory hit needs no actor: it is at least as new as every acknowledged write here.
    const hot = this.deps.records.peek(guid, now)
    if (hot === null) throw notFound(guid)
    if (hot !== undefined) return hot
    // A miss reads below inside the actor, so its fill cannot overwrite a newer write; the
    // tiers below hold every acknowledged write, so the nearest need not be asked twice.
    return this.deps.actors.run(guid, () => this.deps.records.load(guid, now, 1)).then((record) => {
      if (record === null) throw notFound(guid)
      return record
    })
  }

  async create(body: CreateBody): Promise<StoredRecord> {
    const generated = body.guid === undefined
    const guid = generated ? generateGuid() : normaliseGuid(body.guid!, '/guid')
    return this.deps.actors.run(guid, async () => {
      const now = nowSeconds(this.deps.clock)
      const expire = this.expireOf(body.expire, now)
      // 122 random bits cannot name an existing GUID (p ~ 2^-122 per pair): skip the lookup.
      const existing = generated ? null : await this.deps.records.load(guid, now)
      if (existing !== null) throw new AppError('guid-exists', `GUID ${guid} already exists; update it with PATCH or POST /guid/${guid}.`)
      return this.put({ guid, user: body.user, expire, version: 1 }, 0, now)
    })
  }

  async upsert(rawGuid: string, body: UpsertBody, pre: Preconditions): Promise<WriteResult> {
    const guid = this.pathGuid(rawGuid, body.guid)
    return this.deps.actors.run(guid, async () => {
      const now = nowSeconds(this.deps.clock)
      const expire = body.expire === undefined ? undefined : parseExpire(body.expire, now)
      const existing = await this.deps.records.load(guid, now)
      this.checkWrite(pre, existing)
      if (existing === null) {
        if (body.user === undefined) throw invalid('/user', 'user is required to create a GUID')
        const record = await this.put({ guid, user: body.user, expire: expire ?? now + this.deps.defaultTtlSeconds, version: 1 }, 0, now)
        return { record, created: true }
      }
      if (body.user === undefined && expire === undefined) return { record: existing, created: false }
      const record = await this.put({ ...existing, user: body.user ?? existing.user, expire: expire ?? existing.expire, version: existing.version + 1 }, existing.version, now)
      return { record, created: false }
    })
  }

  async patch(rawGuid: string, body: PatchBody, pre: Preconditions): Promise<StoredRecord> {
    const guid = this.pathGuid(rawGuid, body.guid)
    if (body.user === undefined && body.expire === undefined) throw invalid('', 'PATCH needs at least one of user and expire')
    return this.deps.actors.run(guid, async () => {
      const now = nowSeconds(this.deps.clock)
      const expire = body.expire === undefined ? undefined : parseExpire(body.expire, now)
      const existing = await this.deps.records.load(guid, now)
      if (existing === null) throw notFound(guid)
      this.checkWrite(pre, existing)
      return this.put({ ...existing, user: body.user ?? existing.user, expire: expire ?? existing.expire, version: existing.version + 1 }, existing.version, now)
    })
  }

  async remove(rawGuid: string, pre: Preconditions): Promise<void> {
    const guid = normaliseGuid(rawGuid)
    return this.deps.actors.run(guid, async () => {
      const now = nowSeconds(this.deps.clock)
      const existing = await this.deps.records.load(guid, now)
      if (existing === null) throw notFound(guid)
      this.checkWrite(pre, existing)
      await this.deps.records.commit({ op: 'delete', guid, version: existing.version + 1, prevVersion: existing.version }, now)
    })
  }

  private async put(record: StoredRecord, prevVersion: number, now: number): Promise<StoredRecord> {
    await this.deps.records.commit({ op: 'put', record, prevVersion }, now)
    return record
  }

  private expireOf(input: number | string | undefined, now: number): number {
    return input === undefined ? now + this.deps.defaultTtlSeconds : parseExpire(input, now)
  }

  /** The path's GUID; a `guid` in the body is allowed only when it names the same one. */
  private pathGuid(rawGuid: string, bodyGuid: string | undefined): string {
    const guid = normaliseGuid(rawGuid)
    if (bodyGuid !== undefined && normaliseGuid(bodyGuid, '/guid') !== guid) throw invalid('/guid', 'guid in the body must equal the GUID in the path')
    return guid
  }

  /** RFC 9110 §13.1.1-13.1.2 for writes: If-Match must match, If-None-Match must not. */
  private checkWrite(pre: Preconditions, existing: StoredRecord | null): void {
    const version = existing?.version ?? null
    if (pre.ifMatch !== undefined && !ifMatchHolds(pre.ifMatch, version)) {
      throw preconditionFailed(existing === null ? 'If-Match was given but the GUID does not exist.' : `If-Match does not match the current ETag "${existing.version}".`)
    }
    if (pre.ifNoneMatch !== undefined && noneMatchFails(pre.ifNoneMatch, version)) {
      throw preconditionFailed('If-None-Match matches the current record.')
    }
  }
}
