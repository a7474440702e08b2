import { TypeCompiler } from '@sinclair/typebox/compiler'
import { type AnyBulkWriteOperation, type BulkWriteResult, type Collection, type Db, MongoClient, type MongoClientOptions } from 'mongodb'
import { type Mutation, Stored } from '../guid/model'
import { BulkAccountingError, DUPLICATE_ROUNDS, foldRound, fromDoc, type GuidDoc, type OpVerdict, toBulkOps, toDate, verdictsFromError, verdictsFromResult } from './mongo-ops'
import type { ApplyOutcome, Store } from './store'

export interface MongoStoreOptions {
  /** `mongodb://` or `mongodb+srv://`; timeouts, write concern and TLS may ride in its query string. */
  url: string
  dbName: string
  /** Default 'guids'. */
  collection?: string
  /** Driver options, layered over those in the URL (tests shorten serverSelectionTimeoutMS). */
  clientOptions?: MongoClientOptions
  /**
   * Create the TTL index (default true). The TTL monitor deletes by the server's wall clock,
   * so suites that inject a clock far from it turn it off lest documents vanish mid-test;
   * reads and the sweep never depend on it. Switching it on a collection that has the other
   * kind of `expireAt` index fails at open (IndexOptionsConflict): drop that index first.
   */
  ttlIndex?: boolean
}

const checkStored = TypeCompiler.Compile(Stored)

const SWEEP_MAX = 10_000

/**
 * MongoDB as the durable store: one document per GUID (`_id` = canonical GUID), `expireAt`
 * a Date under a TTL index, `version` for the guard, and a tombstone marked `deleted: true`
 * without `user`. Writes are one unordered bulkWrite of version-guarded upserts; see
 * mongo-ops.ts for how a reply becomes outcomes.
 */
export class MongoStore implements Store {
  readonly name = 'mongodb'
  private readonly client: MongoClient
  private readonly db: Db
  private readonly docs: Collection<GuidDoc>
  private readonly ttlIndex: boolean
  /** The first successful connect-and-index; reset on failure so the next call tries again. */
  private connecting: Promise<void> | null = null
  private closed = false

  /** Validates the options and builds the client; it connects on first use, or in open(). */
  constructor(options: MongoStoreOptions) {
    if (!/^mongodb(\+srv)?:\/\//.test(options.url)) throw new TypeError('MongoStore: url must start with mongodb:// or mongodb+srv://')
    if (options.dbName.length === 0) throw new TypeError('MongoStore: dbName must not be empty')
    const collection = options.collection ?? 'guids'
    if (collection.length === 0) throw new TypeError('MongoStore: collection must not be empty')
    // The driver parses the URL here and throws MongoParseError on a bad one: at construction, not at first write.
    this.client = new MongoClient(options.url, options.clientOptions)
    this.db = this.client.db(options.dbName)
    this.docs = this.db.collection<GuidDoc>(collection)
    this.ttlIndex = options.ttlIndex ?? true
  }

  /** Connects and creates the indexes, so a store that cannot work fails at start, not on the first flush. */
  static async open(options: MongoStoreOptions): Promise<MongoStore> {
    const store = new MongoStore(options)
    try {
      await store.ready()
    } catch (error) {
      await store.close().catch(() => {})
      throw error
    }
    return store
  }

  /**
   * Connects and creates the indexes once. The driver's own auto-connect is not enough: when
   * a client's first connect fails it keeps the closed topology, and every later operation
   * fails with "Topology is closed" even after the server is back. Calling connect() again
   * replaces it, so a failed attempt is forgotten and the next operation retries. Once
   * connected, the driver's monitoring rides out outages by itself.
   */
  private ready(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('mongodb: the store is closed'))
    this.connecting ??= (async () => {
      await this.client.connect()
      await this.ensureIndexes()
    })().catch((error: unknown) => {
      this.connecting = null
      throw error
    })
    return this.connecting
  }

  /** Idempotent: creating an index that exists with the same options is a no-op on the server. */
  private async ensureIndexes(): Promise<void> {
    // expireAfterSeconds 0: each document goes at its own expireAt. Either way the index
    // also serves the sweep's range scan.
    if (this.ttlIndex) await this.docs.createIndex({ expireAt: 1 }, { name: 'expireAt_ttl', expireAfterSeconds: 0 })
    else await this.docs.createIndex({ expireAt: 1 }, { name: 'expireAt' })
  }

  async get(guid: string, nowSec: number): Promise<Stored | null> {
    await this.ready()
    // The TTL monitor runs once a minute at best: filter, never trust it.
    const doc = await this.docs.findOne({ _id: guid, expireAt: { $gt: toDate(nowSec) } })
    if (doc === null) return null
    const stored = fromDoc(doc)
    if (!checkStored.Check(stored)) throw new Error(`mongodb: document ${guid} does not match the record schema`)
    return stored
  }

  /**
   * Outcomes in input order. Each mutation's outcome is that of its own guarded upsert:
   * 'applied' means it took effect when it ran, even if a newer mutation of the same GUID in
   * this batch then replaced it; the document ends as the newest live state whatever order
   * the server runs them in, because the guard keeps the maximum. Throws, having possibly
   * written part of the batch, when the batch failed as a whole or an op failed transiently.
   */
  async applyBatch(mutations: readonly Mutation[], nowSec: number): Promise<ApplyOutcome[]> {
    const plan = toBulkOps(mutations, nowSec)
    const outcomes = [...plan.outcomes]
    let pending = plan.ops.map((_, k) => k)
    if (pending.length > 0) await this.ready()
    for (let round = 0; pending.length > 0; round++) {
      const ops = pending.map((k) => opAt(plan.ops, k))
      pending = foldRound(plan, outcomes, pending, await this.write(ops), round >= DUPLICATE_ROUNDS)
    }
    return outcomes.map((outcome, i) => {
      if (outcome === undefined) throw new BulkAccountingError(`mongodb: no outcome for mutation ${i}`)
      return outcome
    })
  }

  async sweepExpired(nowSec: number, limit: number): Promise<number> {
    // limit(0) means "no limit" to MongoDB: never let a zero reach it.
    const n = Math.min(Math.floor(limit), SWEEP_MAX)
    if (!(n > 0)) return 0
    await this.ready()
    const now = toDate(nowSec)
    const due = await this.docs.find({ expireAt: { $lte: now } }, { projection: { _id: 1 }, limit: n }).toArray()
    if (due.length === 0) return 0
    // Re-check expireAt: a document rewritten (renewed) since the find must stay.
    const { deletedCount } = await this.docs.deleteMany({ _id: { $in: due.map((d) => d._id) }, expireAt: { $lte: now } })
    return deletedCount
  }

  async ping(): Promise<void> {
    await this.ready()
    await this.db.command({ ping: 1 })
  }

  async close(): Promise<void> {
    this.closed = true
    await this.client.close()
  }

  private async write(ops: AnyBulkWriteOperation<GuidDoc>[]): Promise<OpVerdict[]> {
    let result: BulkWriteResult
    try {
      result = await this.docs.bulkWrite(ops, { ordered: false })
    } catch (error) {
      return verdictsFromError(ops.length, error)
    }
    return verdictsFromResult(ops.length, result)
  }
}

const opAt = (ops: readonly AnyBulkWriteOperation<GuidDoc>[], k: number): AnyBulkWriteOperation<GuidDoc> => {
  const op = ops[k]
  if (op === undefined) throw new BulkAccountingError(`mongodb: no operation ${k}`)
  return op
}
