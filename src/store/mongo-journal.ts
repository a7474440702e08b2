import type { Collection, Db, Filter, UpdateFilter, WriteConcernSettings } from 'mongodb'
import { type Clock, nowSeconds } from '../clock'
import { AppError } from '../errors'
import type { Mutation, Stored } from '../guid/model'
import { type Journal, VersionConflict } from './journal'
import { MongoStore } from './mongo'
import { classifyWriteError, type GuidDoc, toDate } from './mongo-ops'
import type { Store } from './store'

export interface MongoJournalOptions {
  /** `w` of each write's write concern; every write is also journaled (`j: true`). */
  w: 'majority' | number
  clock: Clock
  /** Told when a write fails for a fault of MongoDB (unreachable, not primary, server error) and when one succeeds. */
  health?: { failed(error: unknown): void; succeeded(): void }
  /** A write whose outcome is unknown (it failed, yet may have landed): forget what memory holds of the GUID. */
  uncertain?: (guid: string) => void
}

/** The `_id` the readiness probe's write names: never a GUID (those are 32 hex digits), and never written. */
const PROBE_ID = 'write-probe'

/** Where claims are kept on servers that need them (see Claims). */
const CLAIMS_COLLECTION = 'guid_claims'

/**
 * How long a claim holds before another writer may break it: far longer than one write
 * takes, so only a claim left by a writer that died (or lost its connection) mid-write is broken.
 */
const CLAIM_LEASE_MS = 30_000

/** How long (real time: the holder's write is real I/O) a loser waits for a held claim's release: 200 x 5 ms. */
const HELD_POLLS = 200
const HELD_POLL_MS = 5

interface ClaimDoc {
  _id: string
  expireAt: Date
}

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
 *   a version first takes that version's claim (Claims); a create over an expired document
 *   learns its version first (expiredVersion) and replaces exactly that.
 */
export class MongoJournal implements Journal {
  private closed = false
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

  async append({ next, prevVersion }: Mutation): Promise<void> {
    if (this.closed) throw new AppError('unavailable', 'The service is shutting down.', { headers: { 'retry-after': '1' } })
    const { health, clock } = this.options
    const now = toDate(nowSeconds(clock))
    let written: number
    try {
      const { docs, claims } = await this.connect()
      const replaces = claims === undefined || prevVersion > 0 ? prevVersion : await expiredVersion(docs, next, now)
      const filter: Filter<GuidDoc> = replaces === 0 ? { _id: next.guid, version: { $lt: next.version }, expireAt: { $lte: now } } : { _id: next.guid, version: replaces }
      const claim = claims !== undefined && replaces > 0 ? await claims.take(next.guid, replaces) : undefined
      if (claim === 'held') throw new VersionConflict(next.guid, prevVersion)
      const result = await docs.updateOne(filter, documentOf(next), { upsert: replaces === 0, writeConcern: this.writeConcern })
      written = result.matchedCount + result.upsertedCount
      if (claim !== undefined) await claims!.release(claim)
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
      throw new AppError('unavailable', 'MongoDB cannot take writes right now; retry shortly.', { headers: { 'retry-after': '1' }, cause: error })
    }
    health?.succeeded()
    if (written === 0) throw new VersionConflict(next.guid, prevVersion)
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

  async lag(): Promise<number> {
    return 0
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
      claims: (await conditionalUpdatesAreAtomic(db)) ? undefined : new Claims(db.collection<ClaimDoc>(CLAIMS_COLLECTION), this.options.clock, this.writeConcern),
    }))
    return this.target
  }
}

/**
 * A create (prevVersion 0) where claims are needed: the version of the expired document it
 * replaces, which its claim then names, or 0 when there is none (the upsert's insert is
 * atomic by itself). A live document, or one not older, means another writer got there
 * first: a conflict, as the upsert would have answered on MongoDB.
 */
const expiredVersion = async (docs: Collection<GuidDoc>, next: Stored, now: Date): Promise<number> => {
  const found = await docs.findOne({ _id: next.guid }, { projection: { version: 1, expireAt: 1 } })
  if (found === null) return 0
  if (!(found.expireAt <= now) || !(found.version < next.version)) throw new VersionConflict(next.guid, 0, found.version)
  return found.version
}

/**
 * MongoDB applies an update's filter and its change atomically per document, so the filter
 * `{_id, version}` is a compare-and-set. FerretDB 1.x does not: it finds the matching
 * documents, then writes each back by `_id` alone (its SQLite backend's UPDATE ... WHERE
 * _id = ?), so two writers of one version can both match and both "win". It says who it is
 * in buildInfo.
 */
const conditionalUpdatesAreAtomic = async (db: Db): Promise<boolean> => {
  const info = await db.command({ buildInfo: 1 })
  return info.ferretdbVersion === undefined
}

/**
 * Where conditional updates are not atomic (FerretDB 1.x): before replacing version P of a
 * GUID, a writer inserts the claim `<guid>:<P>`, which only one writer can do (an insert on
 * `_id` is atomic there too), and deletes it once its update has answered. A writer whose
 * claim collides lost the race (or is late: its update would not match anyway). A claim left
 * by a writer that died mid-write is broken once its lease has run out.
 */
class Claims {
  constructor(
    private readonly claims: Collection<ClaimDoc>,
    private readonly clock: Clock,
    private readonly writeConcern: WriteConcernSettings,
  ) {}

  /** The claim's id, or 'held' when another writer holds it. */
  async take(guid: string, prevVersion: number): Promise<string | 'held'> {
    const id = `${guid}:${prevVersion}`
    for (let attempt = 0; ; attempt++) {
      try {
        await this.claims.insertOne({ _id: id, expireAt: new Date(this.clock.now() + CLAIM_LEASE_MS) }, { writeConcern: this.writeConcern })
        return id
      } catch (error) {
        if (classifyWriteError(error) !== 'duplicate') throw error
      }
      if (attempt > 0) return 'held'
      // Break a claim whose lease ran out (its writer died mid-write), then try once more.
      const broken = await this.claims.deleteOne({ _id: id, expireAt: { $lte: new Date(this.clock.now()) } }, { writeConcern: this.writeConcern })
      if (broken.deletedCount === 0) return this.heldUntilReleased(id)
    }
  }

  /**
   * 'held', once the holder has released the claim (or a bounded wait has passed): the
   * loser then reloads and finds the winner's write (answering 412, say) instead of
   * retrying at once against a write still in flight and running out of retries (503).
   */
  private async heldUntilReleased(id: string): Promise<'held'> {
    for (let poll = 0; poll < HELD_POLLS; poll++) {
      if ((await this.claims.countDocuments({ _id: id }, { limit: 1 })) === 0) break
      await Bun.sleep(HELD_POLL_MS)
    }
    return 'held'
  }

  /** Deletes up to `limit` claims whose lease has run out (their writers died mid-write). */
  async sweep(nowSec: number, limit: number): Promise<number> {
    const now = toDate(nowSec)
    const due = await this.claims.find({ expireAt: { $lte: now } }, { projection: { _id: 1 }, limit }).toArray()
    if (due.length === 0) return 0
    const { deletedCount } = await this.claims.deleteMany({ _id: { $in: due.map((d) => d._id) }, expireAt: { $lte: now } })
    return deletedCount
  }

  async release(id: string): Promise<void> {
    // Best effort: a claim left behind only delays the next writer of that version until its lease ends.
    await this.claims.deleteOne({ _id: id }).catch(() => {})
  }
}

/**
 * The document's update: the shape MongoStore reads and its write-behind upsert writes
 * (mongo-ops.ts GuidDoc, guardedUpsert). $unset the field the other shape has, so a
 * re-created record loses `deleted` and a tombstone loses `user`.
 */
const documentOf = (next: Stored): UpdateFilter<GuidDoc> => {
  const common = { version: next.version, expireAt: toDate(next.expire) }
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
  get: async (guid, nowSec) => {
    try {
      return await store.get(guid, nowSec)
    } catch (error) {
      if (classifyWriteError(error) !== 'retryable') throw error
      throw new AppError('unavailable', 'MongoDB cannot be read right now; retry shortly.', { headers: { 'retry-after': '1' }, cause: error })
    }
  },
  applyBatch: (mutations, nowSec) => store.applyBatch(mutations, nowSec),
  sweepExpired: async (nowSec, limit) => {
    const swept = await store.sweepExpired(nowSec, limit)
    await sweepClaims(nowSec, limit)
    return swept
  },
  ping: () => store.ping(),
  close: () => store.close(),
})
