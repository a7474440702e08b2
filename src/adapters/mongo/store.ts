import { type AnyBulkWriteOperation, type Collection, type Db, MongoClient, type MongoClientOptions, MongoNetworkError, MongoServerError } from 'mongodb'
import { withTimeout } from '../../domain/clock'
import { unavailable } from '../../domain/errors'
import { checkStored, type Mutation, type Stored, type StoredRecord } from '../../domain/model'
import { CheckoutWatch, type StuckCheckout } from './checkout-watch'
import { MonitorWatch } from './monitor-watch'
import {
  BulkAccountingError,
  bulkProbeFaithful,
  bulkProbeOps,
  classifyWriteError,
  DUPLICATE_ROUNDS,
  foldRound,
  fromDoc,
  type GuidDoc,
  isIndexConflict,
  type OpVerdict,
  toBulkOps,
  toDate,
  toDoc,
  verdictsFromError,
  verdictsFromResult,
} from './ops'
import type { ApplyOutcome, Store } from '../../data/store'

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
   * reads and the sweep never depend on it. Where the collection already has an `expireAt`
   * index of the other kind, that one stays (see `server` for which is there).
   */
  ttlIndex?: boolean
  /**
   * Told when the driver's monitor had a heartbeat stuck past the driver's own bound, just
   * before the store replaces the driver's topology (see monitor-watch.ts); for the log.
   */
  onMonitorStuck?: (stuck: { address: string; lateMs: number }) => void
  /** The watch's bound in place of the client's connectTimeoutMS (tests: a driver whose own bound never comes). */
  monitorBoundMs?: number
  /**
   * Told when an operation held its connection past the driver's socketTimeoutMS, just after
   * the store ended that connection (see checkout-watch.ts); `ended` false when the driver's
   * connection could not be found to end. For the log.
   */
  onCheckoutStuck?: (stuck: StuckCheckout & { ended: boolean }) => void
  /** The checkout watch's bound in place of the client's socketTimeoutMS (tests: a driver whose own bound never comes). */
  checkoutBoundMs?: number
}

/** How often the store looks for a stuck heartbeat or checkout, and how late past the driver's bound one must be. */
const MONITOR_WATCH_EVERY_MS = 500
const MONITOR_WATCH_GRACE_MS = 1_000
const CHECKOUT_WATCH_GRACE_MS = 500
/** How long a reconnect waits for the old client to close. */
const CLOSE_BOUND_MS = 5_000

/** What the server turned out to support, learnt at the first connect (see ensureIndexes and probeBulk). */
export interface MongoServerFit {
  /**
   * A TTL index on `expireAt` exists, so the server deletes expired documents itself. When
   * false, the service's sweeper (Sweeper -> sweepExpired) is what deletes them; reads never
   * depend on either.
   */
  ttlIndex: boolean
  /** The server's answer when it refused to create the TTL index (FerretDB 1.x: NotImplemented). */
  ttlRefused?: string
  /**
   * 'bulk': one unordered bulkWrite per round. 'one-by-one': one command per write, because
   * the server does not say what became of every op of a bulk that had an error (FerretDB
   * 1.x), so only a one-op reply can be trusted.
   */
  writes: 'bulk' | 'one-by-one'
}

const SWEEP_MAX = 10_000

/**
 * Writes in flight at once when writing one by one (each GUID's writes stay in order). Few:
 * FerretDB over SQLite has one writer, and more concurrent writes there only wait on its lock.
 */
const ONE_BY_ONE_CONCURRENCY = 4

/**
 * MongoDB as the durable store: one document per GUID (`_id` = canonical GUID), `expireAt`
 * a Date under a TTL index, `version` for the guard, and a tombstone marked `deleted: true`
 * without `user`. Writes are one unordered bulkWrite of version-guarded upserts; see
 * mongo-ops.ts for how a reply becomes outcomes.
 *
 * Also serves MongoDB-compatible servers that lack a part of this (see docs/operations.md, "MongoDB servers"):
 * without TTL indexes the sweeper deletes expired documents, and where a bulk reply cannot
 * be trusted the writes go one per command. `server` says which applies.
 */
export class MongoStore implements Store {
  readonly name = 'mongodb'
  private readonly client: MongoClient
  private readonly db: Db
  private readonly docs: Collection<GuidDoc>
  private readonly ttlIndex: boolean
  private fit: MongoServerFit | undefined
  /** The first successful connect-and-index; reset on failure so the next call tries again. */
  private connecting: Promise<void> | null = null
  private closed = false
  private readonly watchTimer: ReturnType<typeof setInterval>

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
    this.watchTimer = this.watchMonitor(options)
  }

  /**
   * Follows the driver's heartbeats (MonitorWatch); one stuck past the driver's own bound
   * means the driver will never check the server again, so the store closes the client and
   * connects it afresh (a new topology, new monitor), the operations waiting in ready().
   * Operations in flight then fail as after a network error: 503, their outcome uncertain.
   */
  private watchMonitor(options: MongoStoreOptions): ReturnType<typeof setInterval> {
    const checkouts = this.watchCheckouts(options)
    const watch = new MonitorWatch({
      connectTimeoutMS: options.monitorBoundMs ?? this.client.options.connectTimeoutMS,
      heartbeatFrequencyMS: this.client.options.heartbeatFrequencyMS,
      graceMs: MONITOR_WATCH_GRACE_MS,
      now: () => performance.now(),
    })
    this.client.on('serverHeartbeatStarted', (e) => watch.started(e.connectionId, e.awaited))
    this.client.on('serverHeartbeatSucceeded', (e) => watch.ended(e.connectionId))
    this.client.on('serverHeartbeatFailed', (e) => watch.ended(e.connectionId))
    const timer = setInterval(() => {
      if (this.closed) return
      for (const held of checkouts?.overdue() ?? []) options.onCheckoutStuck?.({ ...held, ended: this.endConnection(held) })
      const stuck = watch.overdue()
      if (stuck === undefined) return
      watch.reset()
      checkouts?.reset()
      options.onMonitorStuck?.(stuck)
      // Awaited by whichever operation comes next. The close is bounded: it ends sessions on a
      // server that may be known still (a stuck awaited heartbeat); past the bound, connect()
      // builds a new topology all the same.
      this.startConnecting(async () => {
        await withTimeout(this.client.close(), CLOSE_BOUND_MS)
        await this.connect()
      })
    }, MONITOR_WATCH_EVERY_MS)
    timer.unref()
    return timer
  }

  /**
   * Follows the pool's checkouts (CheckoutWatch); undefined when the client has no socket
   * timeout (socketTimeoutMS 0 in the URL: operations are meant to wait as long as they take).
   */
  private watchCheckouts(options: MongoStoreOptions): CheckoutWatch | undefined {
    const socketTimeoutMS = options.checkoutBoundMs ?? this.client.options.socketTimeoutMS
    if (!(socketTimeoutMS > 0)) return undefined
    const watch = new CheckoutWatch({ socketTimeoutMS, graceMs: CHECKOUT_WATCH_GRACE_MS, now: () => performance.now() })
    this.client.on('connectionCheckedOut', (e) => watch.checkedOut(e.address, e.connectionId))
    this.client.on('connectionCheckedIn', (e) => watch.ended(e.address, e.connectionId))
    this.client.on('connectionClosed', (e) => watch.ended(e.address, e.connectionId))
    return watch
  }

  /**
   * Ends a connection an operation has held past the driver's bound, as the driver would on a
   * socket error: the error is emitted on the socket, which fails the operation whether it
   * waits to write (for a 'drain' that a socket closed under Bun never emits: seen) or for its
   * answer. The operation fails like any network error (503, its outcome unknown), and the
   * driver marks the server unknown and clears the pool, so no other connection opened before
   * is used again (a killed server leaves them all dead, silently). The pool is reached
   * through the driver's internals, which give no public handle on a connection: false when
   * they are not as expected (test/e2e/mongo-silent-connection.test.ts fails then).
   */
  private endConnection({ address, connectionId }: StuckCheckout): boolean {
    const topology = (this.client as unknown as DriverInternals).topology
    for (const connection of topology?.s?.servers?.get(address)?.pool?.checkedOut ?? []) {
      if (connection.id !== connectionId || typeof connection.socket?.emit !== 'function') continue
      connection.socket.emit('error', new MongoNetworkError(`connection ${connectionId} to ${address} gave no answer within the socket timeout`))
      return true
    }
    return false
  }

  /** What the server supports; undefined until the first successful connect (open() waits for it). */
  get server(): MongoServerFit | undefined {
    return this.fit
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
    return this.connecting ?? this.startConnecting(() => this.connect())
  }

  /** Makes `connect` the attempt operations wait on; a failed attempt is forgotten, so the next operation tries again. */
  private startConnecting(connect: () => Promise<void>): Promise<void> {
    const attempt: Promise<void> = connect().catch((error: unknown) => {
      if (this.connecting === attempt) this.connecting = null
      throw error
    })
    // Its failure is for the operations that wait on it to see, not an unhandled rejection.
    attempt.catch(() => {})
    this.connecting = attempt
    return attempt
  }

  /** Connects the client, and the first time the indexes and what the server supports. */
  private async connect(): Promise<void> {
    await this.client.connect()
    if (this.fit !== undefined) return
    const ttl = await this.ensureIndexes()
    this.fit = { ...ttl, writes: await this.probeBulk() }
  }

  /**
   * Idempotent: creating an index that exists with the same options is a no-op on the server.
   * A server that refuses the TTL index (FerretDB 1.x answers NotImplemented; Cosmos DB keeps
   * TTL on `_ts` only) gets a plain index instead, and the sweeper deletes expired documents.
   */
  private async ensureIndexes(): Promise<Pick<MongoServerFit, 'ttlIndex' | 'ttlRefused'>> {
    let ttlRefused: string | undefined
    if (this.ttlIndex) {
      try {
        // expireAfterSeconds 0: each document goes at its own expireAt. The index also serves the sweep's range scan.
        await this.docs.createIndex({ expireAt: 1 }, { name: 'expireAt_ttl', expireAfterSeconds: 0 })
      } catch (error) {
        // The server answered, and no: anything else (unreachable, busy) fails the open, to be tried again.
        if (!(error instanceof MongoServerError) || classifyWriteError(error) === 'retryable') throw error
        ttlRefused = `${error.codeName ?? `code ${error.code}`}: ${error.message}`
      }
    }
    if (!this.ttlIndex || ttlRefused !== undefined) {
      // An index on expireAt of another name or kind is there already: it serves the sweep as well.
      await this.docs.createIndex({ expireAt: 1 }, { name: 'expireAt' }).catch((error: unknown) => {
        if (!isIndexConflict(error)) throw error
      })
    }
    // The listing's keyset index (GET /guid?user=): a user's GUIDs in `_id` order.
    await this.docs.createIndex({ user: 1, _id: 1 }, { name: 'user_id' }).catch((error: unknown) => {
      if (!isIndexConflict(error)) throw error
    })
    // What is there, not what was asked for: an earlier run may have left the other kind.
    const indexes = await this.docs.indexes()
    const ttlIndex = indexes.some((index) => index.key?.expireAt === 1 && typeof index.expireAfterSeconds === 'number')
    return ttlRefused === undefined ? { ttlIndex } : { ttlIndex, ttlRefused }
  }

  /**
   * Whether the server accounts for every op of an unordered bulkWrite that had an error, as
   * MongoDB does: three probe upserts (mongo-ops.ts bulkProbeOps) under `_id`s no GUID can
   * have, deleted again. Learnt once, before the first write, so every outcome is exact.
   */
  private async probeBulk(): Promise<MongoServerFit['writes']> {
    const ops = bulkProbeOps(crypto.randomUUID())
    const ids = ops.map((op) => ('updateOne' in op ? op.updateOne.filter._id : undefined))
    try {
      return bulkProbeFaithful(await this.bulkWrite(ops)) ? 'bulk' : 'one-by-one'
    } finally {
      await this.docs.deleteMany({ _id: { $in: ids.filter((id) => typeof id === 'string') } })
    }
  }

  /** A read MongoDB cannot answer now (unreachable, not primary) is 503 unavailable, in every mode. */
  async get(guid: string, nowSec: number): Promise<Stored | null> {
    return this.read(guid, nowSec)
  }

  /** The latest state, expired or not (Store.getLatest): MongoDB-only mode's writes and expiry sweep need it. */
  async getLatest(guid: string): Promise<Stored | null> {
    return this.read(guid, undefined)
  }

  /** The document of `guid` as a state; with `nowSec`, null once expired. */
  private async read(guid: string, nowSec: number | undefined): Promise<Stored | null> {
    let doc: GuidDoc | null
    try {
      await this.ready()
      // By _id alone: FerretDB 1.x (SQLite) uses its primary key only for a filter that is
      // exactly {_id}, and scans the whole collection for anything more.
      doc = await this.docs.findOne({ _id: guid })
    } catch (error) {
      if (classifyWriteError(error) !== 'retryable') throw error
      throw unavailable('MongoDB cannot be read right now; retry shortly.', error)
    }
    // The TTL monitor runs once a minute at best (and some servers have none): filter, never trust it.
    if (doc === null || (nowSec !== undefined && !(doc.expireAt instanceof Date && doc.expireAt.getTime() > nowSec * 1000))) return null
    const stored = fromDoc(doc)
    if (!checkStored.Check(stored)) throw new Error(`mongodb: document ${guid} does not match the record schema`)
    return stored
  }

  /**
   * A user's live records after `after`, by `_id`. A tombstone has no `user`, so the filter
   * on it leaves tombstones out; expired documents are filtered as every read filters them.
   */
  async listUser(user: string, after: string | undefined, limit: number, nowSec: number): Promise<StoredRecord[]> {
    let docs: GuidDoc[]
    try {
      await this.ready()
      const filter = after === undefined ? { user, expireAt: { $gt: toDate(nowSec) } } : { user, _id: { $gt: after }, expireAt: { $gt: toDate(nowSec) } }
      docs = await this.docs.find(filter, { sort: { _id: 1 }, limit }).toArray()
    } catch (error) {
      if (classifyWriteError(error) !== 'retryable') throw error
      throw unavailable('MongoDB cannot be read right now; retry shortly.', error)
    }
    return docs.map((doc) => {
      const stored = fromDoc(doc)
      if (!checkStored.Check(stored) || 'deleted' in stored) throw new Error(`mongodb: document ${doc._id} does not match the record schema`)
      return stored
    })
  }

  /**
   * Outcomes in input order. Each mutation's outcome is that of its own guarded upsert:
   * 'applied' means it took effect when it ran, even if a newer mutation of the same GUID in
   * this batch then replaced it; the document ends as the newest live state whatever order
   * the server runs them in, because the guard keeps the maximum. Throws, having possibly
   * written part of the batch, when the batch failed as a whole or an op failed transiently.
   */
  async applyBatch(mutations: readonly Mutation[]): Promise<ApplyOutcome[]> {
    // No expiry rule here: the guard is the version alone, and expired states are written too.
    const plan = toBulkOps(mutations)
    const outcomes = [...plan.outcomes]
    let pending = plan.ops.map((_, k) => k)
    if (pending.length > 0) await this.ready()
    for (let round = 0; pending.length > 0; round++) {
      const ops = pending.map((k) => opAt(plan.ops, k))
      const states = pending.map((k) => plan.states[k]!)
      pending = foldRound(plan, outcomes, pending, await this.write(ops, states), round >= DUPLICATE_ROUNDS)
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
    // A document still holding changes the change feed has not taken (`out`, MongoDB-only mode) stays.
    const due = await this.docs.find({ expireAt: { $lte: now }, out: { $exists: false } }, { projection: { _id: 1 }, limit: n }).toArray()
    if (due.length === 0) return 0
    // Re-check expireAt: a document rewritten (renewed) since the find must stay.
    const { deletedCount } = await this.docs.deleteMany({ _id: { $in: due.map((d) => d._id) }, expireAt: { $lte: now }, out: { $exists: false } })
    return deletedCount
  }

  /** The database and the documents, once connected: in MongoDB-only mode the journal writes through to them (mongo-journal.ts). */
  async connected(): Promise<{ db: Db; docs: Collection<GuidDoc> }> {
    await this.ready()
    return { db: this.db, docs: this.docs }
  }

  async ping(): Promise<void> {
    await this.ready()
    await this.db.command({ ping: 1 })
  }

  /** A write that changes nothing (its filter matches no document; no upsert): fails exactly when the server takes no writes. */
  async probeWrite(): Promise<void> {
    await this.ready()
    await this.docs.updateOne({ _id: '~probe-write', version: -1 }, { $set: { version: -1 } })
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.watchTimer)
    await this.client.close()
  }

  /** Verdicts for `ops` (which write `states`), in order: one bulkWrite, or one write each where bulk replies cannot be trusted. */
  private async write(ops: AnyBulkWriteOperation<GuidDoc>[], states: readonly Stored[]): Promise<OpVerdict[]> {
    if (this.fit?.writes !== 'one-by-one') {
      const verdicts = await this.bulkWrite(ops)
      if (verdicts !== 'unaccounted') return verdicts
      // The probe passed, yet the server answered like FerretDB: trust no bulk reply from now
      // on. This round's ops are written again one by one (the guard makes that harmless);
      // an op the bulk had already written then comes back 'stale' rather than 'applied'.
      if (this.fit !== undefined) this.fit.writes = 'one-by-one'
    }
    return this.writeOneByOne(states)
  }

  private async bulkWrite(ops: AnyBulkWriteOperation<GuidDoc>[]): Promise<OpVerdict[] | 'unaccounted'> {
    try {
      return verdictsFromResult(ops.length, await this.docs.bulkWrite(ops, { ordered: false }))
    } catch (error) {
      if (error instanceof BulkAccountingError) throw error
      return verdictsFromError(ops.length, error)
    }
  }

  /**
   * Each state written on its own (readThenWrite), several at once, but each GUID's in their
   * order and never two at once. The first failure stops the rest and is thrown (the caller
   * retries the whole batch).
   */
  private async writeOneByOne(states: readonly Stored[]): Promise<OpVerdict[]> {
    const chains = new Map<string, number[]>()
    states.forEach((state, k) => {
      const chain = chains.get(state.guid)
      if (chain === undefined) chains.set(state.guid, [k])
      else chain.push(k)
    })
    const queue = [...chains.values()]
    const verdicts: (OpVerdict | undefined)[] = new Array(states.length).fill(undefined)
    let failed = false
    const worker = async (): Promise<void> => {
      for (let chain = queue.shift(); chain !== undefined && !failed; chain = queue.shift()) {
        for (const k of chain) {
          if (failed) return
          try {
            verdicts[k] = await this.readThenWrite(states[k]!)
          } catch (error) {
            failed = true
            throw error
          }
        }
      }
    }
    const settled = await Promise.allSettled(Array.from({ length: Math.min(ONE_BY_ONE_CONCURRENCY, queue.length) }, worker))
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failure !== undefined) throw failure.reason
    return verdicts.map((v, k) => {
      if (v === undefined) throw new BulkAccountingError(`mongodb: no verdict for operation ${k}`)
      return v
    })
  }

  /**
   * One state, for servers whose bulk replies cannot be trusted (FerretDB 1.x): read the
   * document by `_id`; if its version is not older, 'duplicate' (as the guarded upsert's
   * E11000); if there is none, insert it (E11000 when another writer got there first); else
   * replace it by `_id`. Filters are `{_id}` alone because FerretDB 1.x (SQLite) scans the
   * whole collection for any other filter, once per write. Not an atomic compare-and-set:
   * FerretDB 1.x has none to offer (its own guarded update also reads, then writes), so
   * there the guard holds while one writer at a time writes a GUID (see docs/operations.md, "MongoDB servers").
   */
  private async readThenWrite(next: Stored): Promise<OpVerdict> {
    const stored = await this.docs.findOne({ _id: next.guid }, { projection: { version: 1 } })
    if (stored !== null && !(stored.version < next.version)) return 'duplicate'
    const doc = toDoc(next)
    const op: AnyBulkWriteOperation<GuidDoc> = stored === null ? { insertOne: { document: doc } } : { replaceOne: { filter: { _id: next.guid }, replacement: doc } }
    // A replace that matched nothing (the document swept away since the read) fails the
    // accounting and is thrown: the batch is written again.
    const verdict = await this.bulkWrite([op])
    if (verdict === 'unaccounted' || verdict[0] === undefined) throw new BulkAccountingError('mongodb: a one-op bulkWrite reply does not account for its op')
    return verdict[0]
  }
}

/** The little of the driver's internals that endConnection reaches: the pools' checked-out connections. */
interface DriverInternals {
  topology?: { s?: { servers?: Map<string, { pool?: { checkedOut?: Iterable<{ id: unknown; socket?: { emit?: (event: 'error', error: Error) => boolean } }> } }> } }
}

const opAt = (ops: readonly AnyBulkWriteOperation<GuidDoc>[], k: number): AnyBulkWriteOperation<GuidDoc> => {
  const op = ops[k]
  if (op === undefined) throw new BulkAccountingError(`mongodb: no operation ${k}`)
  return op
}
