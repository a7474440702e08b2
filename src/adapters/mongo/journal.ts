import type { Collection, Filter, UpdateFilter, WriteConcernSettings } from 'mongodb'
import { type Clock, nowSeconds } from '../../domain/clock'
import { shuttingDown, unavailable } from '../../domain/errors'
import type { Mutation, Stored } from '../../domain/model'
import { type Journal, VersionConflict } from '../../data/journal'
import { MongoStore } from './store'
import { CLAIMS_COLLECTION, type ClaimDoc, Claims, conditionalUpdatesAreAtomic } from './claims'
import { withOutbox } from './events'
import { classifyWriteError, type GuidDoc, type KeyedTrace, toDate } from './ops'
import type { Store } from '../../data/store'

export interface MongoJournalOptions {
  /** `w` of each write's write concern; every write is also journaled (`j: true`). */
  w: 'majority' | number
  clock: Clock
  /** Told when a write fails for a fault of MongoDB (unreachable, not primary, server error) and when one succeeds. */
  health?: { failed(error: unknown): void; succeeded(): void }
  /** A write whose outcome is unknown (it failed, yet may have landed): forget what memory holds of the GUID. */
  uncertain?: (guid: string) => void
  /**
   * How long (ms) a keyed write's trace stays in its GUID's document (Mutation.trace): as long as
   * its claim may be taken over, the claim's lease plus IDEMPOTENCY_TTL_SECONDS. Default: a day
   * and a minute.
   */
  traceKeepMs?: number
}

const TRACE_KEEP_MS = 86_400_000 + 60_000

/** The `_id` the readiness probe's write names: never a GUID (those are 32 hex digits), and never written. */
const PROBE_ID = 'write-probe'

/**
 * MongoDB-only mode (MONGODB_URL without REDIS_URL): MongoDB is the journal and the store at
 * once. Each mutation is one compare-and-set write of the GUID's document, acknowledged by
 * the write concern before the caller is answered, so MongoDB decides every race between
 * instances. The document is the one MongoStore reads (mongo-ops.ts), so reads and the
 * sweep are the store's own.
 *
 * - prevVersion > 0: replace exactly that version (`{_id, version: prevVersion}`); no match
 *   means another writer got there first.
 * - prevVersion 0 (no live state was seen): an upsert that matches only a document that is
 *   missing, or expired and older. A live document, which this writer did not see, makes
 *   the upsert's insert collide on `_id` (E11000): another writer got there first. (Matching
 *   any older version instead would let a create overwrite another instance's acknowledged
 *   create of a second ago.)
 * - Where the server's conditional update is not atomic (FerretDB 1.x), each replacement of
 *   a version first takes that version's claim (mongo-claims.ts); a create over an expired
 *   document learns its version first (expiredVersion) and replaces exactly that.
 * - A keyed write (Mutation.trace) leaves its Idempotency-Key claim's token in the document, in
 *   the same update: a retry taking over the claim of a request that died reads it there to
 *   learn whether this write landed (idempotency.ts). A version cannot say so: any writer makes
 *   the one after. The update sets the whole list, so the writer first reads the document at the
 *   version it replaces (and replaces exactly that), carrying its traces forward but those older
 *   than `traceKeepMs`; unkeyed writes leave the list as it is.
 */
export class MongoJournal implements Journal {
  private closed = false
  /** Claims a failed write could not release (MongoDB down): released before the next write. */
  private readonly orphanClaims = new Set<string>()
  private storeView: Store | undefined
  private readonly writeConcern: WriteConcernSettings
  /** Learnt at the first write: the documents, and the claims where the server needs them. */
  private target: Promise<{ docs: Collection<GuidDoc>; claims: Claims | undefined }> | undefined

  constructor(
    private readonly store: MongoStore,
    private readonly options: MongoJournalOptions,
  ) {
    this.writeConcern = { w: options.w, journal: true }
  }

  /** The journal over `store`, which must be the MongoDB store itself (its collection is written). */
  static over(store: Store, options: MongoJournalOptions): MongoJournal {
    if (!(store instanceof MongoStore)) throw new Error('MongoDB-only mode needs the MongoDB store itself')
    return new MongoJournal(store, options)
  }

  /**
   * The store as the rest of the service uses it in this mode (the requests' reads, the
   * sweeper): a read that fails for an outage answers 503, not 500, and the sweep also
   * deletes the claims left by writers that died (see storeView).
   */
  get view(): Store {
    this.storeView ??= storeView(this.store, (nowSec, limit) => this.sweepClaims(nowSec, limit))
    return this.storeView
  }

  async append({ next, prevVersion, changes, trace }: Mutation): Promise<void> {
    if (this.closed) throw shuttingDown()
    const { health, clock } = this.options
    const now = toDate(nowSeconds(clock))
    let written: number
    let claim: string | undefined
    let claims: Claims | undefined
    try {
      const target = await this.connect()
      claims = target.claims
      await claims?.releaseOrphans()
      const traced = trace === undefined ? undefined : await this.traced(target.docs, next, prevVersion, trace, now)
      const replaces = traced !== undefined ? traced.replaces : claims === undefined || prevVersion > 0 ? prevVersion : expiredVersion(await lastOf(target.docs, next), next, now)
      const filter: Filter<GuidDoc> = replaces === 0 ? { _id: next.guid, version: { $lt: next.version }, expireAt: { $lte: now } } : { _id: next.guid, version: replaces }
      // A document that appeared since the read (none was there): its traces would be lost, so it must not match.
      if (replaces === 0 && traced !== undefined) filter.keyed = { $exists: false }
      const taken = claims !== undefined && replaces > 0 ? await claims.take(next.guid, replaces) : undefined
      if (taken === 'held') throw new VersionConflict(next.guid, prevVersion)
      claim = taken
      // The write's changes go into the document's outbox in the same update: the feed tells exactly the writes that took effect.
      const result = await target.docs.updateOne(filter, withOutbox(documentOf(next, traced?.traces), changes), { upsert: replaces === 0, writeConcern: this.writeConcern })
      written = result.matchedCount + result.upsertedCount
    } catch (error) {
      if (error instanceof VersionConflict) {
        health?.succeeded()
        throw error
      }
      if (classifyWriteError(error) === 'duplicate') {
        health?.succeeded()
        throw new VersionConflict(next.guid, prevVersion)
      }
      health?.failed(error)
      this.options.uncertain?.(next.guid)
      // This target may be the one a failed first connect left: try afresh next time.
      this.target = undefined
      throw unavailable('MongoDB cannot take writes right now; retry shortly.', error)
    } finally {
      // The write is over, answered or failed: its claim must not hold the next writer off.
      if (claim !== undefined) await claims!.release(claim)
    }
    health?.succeeded()
    if (written === 0) throw new VersionConflict(next.guid, prevVersion)
  }

  /**
   * What a keyed write replaces, and the traces its update sets: those of the document it read,
   * but the ones past `traceKeepMs`, and its own. It replaces exactly the version read (the
   * traces are that version's: only a write changes them, and every write makes a new
   * version), so a document changed since fails its filter: a conflict, then a reload.
   */
  private async traced(docs: Collection<GuidDoc>, next: Stored, prevVersion: number, trace: string, now: Date): Promise<{ replaces: number; traces: KeyedTrace[] }> {
    const found = await lastOf(docs, next)
    if (prevVersion > 0 && found?.version !== prevVersion) throw new VersionConflict(next.guid, prevVersion, found?.version)
    const replaces = prevVersion > 0 ? prevVersion : expiredVersion(found, next, now)
    const at = this.options.clock.now()
    const keepFrom = at - (this.options.traceKeepMs ?? TRACE_KEEP_MS)
    return { replaces, traces: [...(found?.keyed ?? []).filter((t) => t.at > keepFrom), { t: trace, at }] }
  }

  /**
   * A write that changes nothing (its filter matches no document, and it never upserts), with
   * the same write concern: it fails exactly when MongoDB cannot take the writes. For
   * /readyz, to end a write incident while no traffic comes.
   */
  async probeWrite(): Promise<void> {
    const { docs } = await this.store.connected()
    await docs.updateOne({ _id: PROBE_ID, version: -1 }, { $set: { version: -1 } }, { writeConcern: this.writeConcern })
  }

  async close(): Promise<void> {
    this.closed = true
  }

  private async sweepClaims(nowSec: number, limit: number): Promise<number> {
    const { claims } = await this.connect()
    return claims === undefined ? 0 : claims.sweep(nowSec, limit)
  }

  private connect(): Promise<{ docs: Collection<GuidDoc>; claims: Claims | undefined }> {
    this.target ??= this.store.connected().then(async ({ db, docs }) => ({
      docs,
      claims: (await conditionalUpdatesAreAtomic(db)) ? undefined : new Claims(db.collection<ClaimDoc>(CLAIMS_COLLECTION), this.options.clock, this.writeConcern, this.orphanClaims),
    }))
    return this.target
  }
}

/** The GUID's document as a write needs it: its version, expiry and keyed writes' traces. */
const lastOf = (docs: Collection<GuidDoc>, next: Stored): Promise<Pick<GuidDoc, 'version' | 'expireAt' | 'keyed'> | null> =>
  docs.findOne({ _id: next.guid }, { projection: { version: 1, expireAt: 1, keyed: 1 } })

/**
 * A create (prevVersion 0) where claims are needed, or that carries traces: the version of the
 * expired document `found` it replaces, which its claim then names, or 0 when there is none
 * (the upsert's insert is atomic by itself). A live document, or one not older, means another
 * writer got there first: a conflict, as the upsert would have answered on MongoDB.
 */
const expiredVersion = (found: Pick<GuidDoc, 'version' | 'expireAt'> | null, next: Stored, now: Date): number => {
  if (found === null) return 0
  if (!(found.expireAt <= now) || !(found.version < next.version)) throw new VersionConflict(next.guid, 0, found.version)
  return found.version
}

/**
 * The document's update: the shape MongoStore reads and its write-behind upsert writes
 * (mongo-ops.ts GuidDoc, guardedUpsert). $unset the field the other shape has, so a
 * re-created record loses `deleted` and a tombstone loses `user`.
 */
const documentOf = (next: Stored, traces: KeyedTrace[] | undefined): UpdateFilter<GuidDoc> => {
  const common = traces === undefined ? { version: next.version, expireAt: toDate(next.expire) } : { version: next.version, expireAt: toDate(next.expire), keyed: traces }
  return 'deleted' in next ? { $set: { ...common, deleted: true }, $unset: { user: '' } } : { $set: { ...common, user: next.user }, $unset: { deleted: '' } }
}

/**
 * The store as the service uses it in MongoDB-only mode. Every write loads the GUID from
 * MongoDB first, so a read that fails because MongoDB is unreachable or busy answers 503
 * unavailable with Retry-After, as the write would, rather than 500. The sweep also deletes
 * expired claims (`sweepClaims`), which no TTL index removes on FerretDB; only the store's
 * own deletions are counted.
 */
const storeView = (store: Store, sweepClaims: (nowSec: number, limit: number) => Promise<number>): Store => ({
  name: store.name,
  get: (guid, nowSec) => store.get(guid, nowSec),
  getLatest: store.getLatest === undefined ? undefined : (guid) => store.getLatest!(guid),
  listUser: (user, after, limit, nowSec) => store.listUser(user, after, limit, nowSec),
  applyBatch: (mutations) => store.applyBatch(mutations),
  sweepExpired: async (nowSec, limit) => {
    const swept = await store.sweepExpired(nowSec, limit)
    await sweepClaims(nowSec, limit)
    return swept
  },
  ping: () => store.ping(),
  close: () => store.close(),
})
