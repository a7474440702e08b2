import type { Collection, Db, UpdateFilter, WriteConcernSettings } from 'mongodb'
import type { Clock } from '../../domain/clock'
import { unavailable } from '../../domain/errors'
import type { Change } from '../../domain/model'
import type { Logger } from '../../ops/logger'
import { badPosition, type EventLog, type FeedPage, feedGone, type LoggedChange } from '../../data/feed'
import { CLAIMS_COLLECTION, type ClaimDoc, Claims, conditionalUpdatesAreAtomic } from './claims'
import { classifyWriteError, type GuidDoc, type OutboxChange } from './ops'

/** The feed's events, by position (`_id`); unique on (guid, version): a change is sequenced once. */
export interface EventDoc {
  _id: number
  g: string
  v: number
  t: OutboxChange['t']
  u: string
  e?: number
  /** When it was sequenced: the retention counts from it. */
  at: Date
}

interface MetaDoc {
  _id: string
  /** The newest position trimmed: positions before it have lost events. */
  seq: number
}

export const EVENTS_COLLECTION = 'events'
const META_COLLECTION = 'events_meta'
const TRIMMED = 'trimmed'

/** The document update of a write, plus its changes pushed to the document's outbox. */
export const withOutbox = (update: UpdateFilter<GuidDoc>, changes: readonly Change[] | undefined): UpdateFilter<GuidDoc> =>
  changes === undefined || changes.length === 0
    ? update
    : {
        ...update,
        $push: { out: { $each: changes.map((c): OutboxChange => (c.record === undefined ? { t: c.type, v: c.version, u: c.user } : { t: c.type, v: c.version, u: c.user, e: c.record.expire })) } },
      }

const toEvent = (doc: EventDoc): LoggedChange => {
  const event: LoggedChange = { id: String(doc._id), type: doc.t, guid: doc.g, version: doc.v, user: doc.u }
  if (doc.e !== undefined) event.record = { guid: doc.g, user: doc.u, expire: doc.e, version: doc.v }
  return event
}

const parsePosition = (position: string): number => {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(position)) throw badPosition(position)
  return Number(position)
}

const isDuplicate = (error: unknown): boolean => classifyWriteError(error) === 'duplicate'

/** Maps a failure to reach MongoDB to 503, as the writes do. */
const reading = async <T>(call: () => Promise<T>): Promise<T> => {
  try {
    return await call()
  } catch (error) {
    if (classifyWriteError(error) !== 'retryable') throw error
    throw unavailable('MongoDB cannot be read right now; retry shortly.', error)
  }
}

export interface MongoEventLogOptions {
  /** The database and the GUID documents, once connected (MongoStore.connected). */
  connected: () => Promise<{ db: Db; docs: Collection<GuidDoc> }>
  clock: Clock
  retentionSeconds: number
  writeConcern: WriteConcernSettings
  logger: Logger
  /** How often the sequencer looks for new changes and the follower for new events. */
  pollMs?: number
}

/** Documents with changes the sequencer takes per round. */
const SEQUENCE_BATCH = 256
/** Most sequencer rounds a page read runs to make every acknowledged write readable. */
const CATCH_UP_ROUNDS = 20
const DEFAULT_POLL_MS = 100
/**
 * The lease of the claim the sequencer holds while it clears an outbox (one update). Short:
 * the sequencer runs every 100 ms on every instance, so an instance killed while it held one
 * would otherwise hold that GUID's writes (and its expiry) off for a writer's whole 30 s lease;
 * 5 s is the driver's socket timeout, the bound of that update (client-options.ts).
 */
const CLEAR_CLAIM_LEASE_MS = 5_000

/**
 * The change feed in MongoDB-only mode, where instances share nothing but MongoDB and no
 * server-side script orders their writes. Each write pushes its changes into its own GUID
 * document's outbox (`out`) in the same update as its compare-and-set (withOutbox): atomic
 * with the write, in version order per GUID. A sequencer on every instance moves outbox
 * changes into the `events` collection under consecutive positions (`_id` = max + 1), one
 * insert at a time, then clears the outbox if the document has not changed since it was read.
 *
 * Why no reader ever skips a position that later appears (the gap problem): a sequencer
 * inserts position n + 1 only after it has seen n, and the unique `_id` makes two sequencers
 * that race for one position fail all but one; so events become visible in position order.
 * The unique (guid, version) index makes a change sequenced once, however many sequencers
 * read it and whatever crash leaves an outbox uncleared. docs/feed.md has the design.
 */
export class MongoEventLog implements EventLog {
  private events!: Collection<EventDoc>
  private meta!: Collection<MetaDoc>
  private docs!: Collection<GuidDoc>
  /** Where conditional updates are not atomic (FerretDB 1.x): the writers' claims, which clearing an outbox takes too. */
  private claims: Claims | undefined
  private indexed: Promise<void> | undefined

  constructor(private readonly options: MongoEventLogOptions) {}

  /**
   * Connected, with the feed's indexes made (once). Every call passes the store's own gate
   * (`connected`), not only the first: when the store replaces its client (a stuck driver
   * monitor, mongo/store.ts) while MongoDB is down, the failed attempt leaves the client's
   * topology closed, and only that gate connects it again. Caching the first answer left the
   * follower, the sequencer and every page failing with "Topology is closed" until some store
   * operation reconnected (the model-based suite: a consumer that never caught up).
   */
  private async ready(): Promise<void> {
    await this.options.connected()
    this.indexed ??= (async () => {
      const { db, docs } = await this.options.connected()
      this.events = db.collection<EventDoc>(EVENTS_COLLECTION)
      this.meta = db.collection<MetaDoc>(META_COLLECTION)
      this.docs = docs
      this.claims = (await conditionalUpdatesAreAtomic(db)) ? undefined : new Claims(db.collection<ClaimDoc>(CLAIMS_COLLECTION), this.options.clock, this.options.writeConcern)
      await this.events.createIndex({ g: 1, v: 1 }, { unique: true, name: 'guid_version' })
      await this.events.createIndex({ at: 1 }, { name: 'at' })
    })().catch((error) => {
      this.indexed = undefined
      throw error
    })
    return this.indexed
  }

  async head(): Promise<string> {
    await this.ready()
    const newest = await reading(() => this.events.find({}, { sort: { _id: -1 }, limit: 1, projection: { _id: 1 } }).toArray())
    return String(newest[0]?._id ?? (await this.trimmedThrough()))
  }

  async first(): Promise<string> {
    await this.ready()
    return String(await this.trimmedThrough())
  }

  async read(after: string, limit: number): Promise<FeedPage> {
    const from = parsePosition(after)
    await this.ready()
    const docs = await reading(() => this.events.find({ _id: { $gt: from } }, { sort: { _id: 1 }, limit }).toArray())
    // After the read: a trim only raises it, so one that removed events after `after` shows.
    if ((await this.trimmedThrough()) > from) throw feedGone(after, this.options.retentionSeconds)
    const events = docs.map(toEvent)
    return { events, next: events.length === 0 ? after : events[events.length - 1]!.id }
  }

  compare(a: string, b: string): number {
    return parsePosition(a) - parsePosition(b)
  }

  /**
   * Sequencer rounds until no outbox holds a change: one round may stop early (another instance's
   * sequencer took the position it wanted), and a page must still read every acknowledged write.
   */
  async catchUp(): Promise<void> {
    for (let round = 0; round < CATCH_UP_ROUNDS; round++) if ((await this.sequence()).done) return
  }

  /** Polls for events after `from`, and runs this instance's sequencer: no change streams on FerretDB, and one loop does both. */
  follow(from: string, deliver: (events: LoggedChange[]) => void): { stop(): Promise<void> } {
    const pollMs = this.options.pollMs ?? DEFAULT_POLL_MS
    let last = from
    let stopped = false
    let wake: (() => void) | undefined
    let failing = false
    const loop = (async () => {
      while (!stopped) {
        try {
          await this.sequence()
          for (;;) {
            const page = await this.read(last, 512)
            if (page.events.length === 0) break
            last = page.next
            deliver(page.events)
          }
          if (failing) this.options.logger.info('change feed: sequencing and reading events work again')
          failing = false
        } catch (error) {
          // Logged when a streak of failures starts, not every 100 ms while MongoDB is down.
          if (!stopped && !failing) this.options.logger.warn({ err: error }, 'change feed: sequencing or reading events failed; retrying')
          failing = true
        }
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, pollMs)
        })
      }
    })()
    return {
      stop: async () => {
        stopped = true
        wake?.()
        await loop
      },
    }
  }

  async trim(): Promise<number> {
    await this.ready()
    const cutoff = new Date(this.options.clock.now() - this.options.retentionSeconds * 1000)
    const newest = await this.events.find({ at: { $lt: cutoff } }, { sort: { _id: -1 }, limit: 1, projection: { _id: 1 } }).toArray()
    if (newest[0] === undefined) return 0
    const through = newest[0]._id
    // Marked before deleting: a reader never misses a deletion the mark does not cover.
    await this.meta.updateOne({ _id: TRIMMED }, { $max: { seq: through } }, { upsert: true, writeConcern: this.options.writeConcern })
    const { deletedCount } = await this.events.deleteMany({ _id: { $lte: through } }, { writeConcern: this.options.writeConcern })
    return deletedCount
  }

  /** GUIDs whose record expired at or before `nowSec` (tombstones are never due: they carry `deleted`). */
  async due(nowSec: number, limit: number): Promise<string[]> {
    await this.ready()
    const docs = await reading(() => this.docs.find({ expireAt: { $lte: new Date(nowSec * 1000) }, deleted: { $exists: false } }, { projection: { _id: 1 }, limit, sort: { expireAt: 1 } }).toArray())
    return docs.map((d) => d._id)
  }

  /**
   * One round of the sequencer: the documents whose outbox holds changes, each change given the
   * next position (one insert at a time, each after the last is acknowledged), then the outbox
   * cleared of exactly the changes sequenced (`clear`). Returns how many events it added.
   */
  async sequence(): Promise<{ added: number; done: boolean }> {
    await this.ready()
    const { writeConcern, clock } = this.options
    await this.claims?.releaseOrphans()
    const pending = await this.docs.find({ out: { $exists: true } }, { projection: { _id: 1, version: 1, out: 1 }, limit: SEQUENCE_BATCH }).toArray()
    if (pending.length === 0) return { added: 0, done: true }
    const newest = await this.events.find({}, { sort: { _id: -1 }, limit: 1, projection: { _id: 1 } }).toArray()
    let next = Math.max(newest[0]?._id ?? 0, await this.trimmedThrough()) + 1
    let added = 0
    let complete = true
    for (const doc of pending) {
      for (const change of doc.out ?? []) {
        const event: EventDoc = { _id: next, g: doc._id, v: change.v, t: change.t, u: change.u, at: new Date(clock.now()) }
        if (change.e !== undefined) event.e = change.e
        try {
          await this.events.insertOne(event, { writeConcern })
          next++
          added++
        } catch (error) {
          if (!isDuplicate(error)) throw error
          // Either this change is already sequenced (skip it) or another sequencer took the position (stop: the next round reads the new maximum).
          const taken = await this.events.findOne({ g: doc._id, v: change.v }, { projection: { _id: 1 } })
          if (taken === null) return { added, done: false }
        }
      }
      // Not emptied: a newer write added changes since the read (or holds the claim); another round takes them.
      if (!(await this.clear(doc as Pick<GuidDoc, '_id' | 'version'> & { out: OutboxChange[] }))) complete = false
    }
    return { added, done: complete && pending.length < SEQUENCE_BATCH }
  }

  /**
   * Removes from a document's outbox exactly the changes just sequenced (`doc.out`, read at
   * `doc.version`), never one a write added since; true when the outbox is now empty.
   *
   * MongoDB applies a filter and its update atomically: the outbox is unset when the document
   * is still the version read (then it holds exactly those changes), else those changes are
   * `$pull`ed and the newer ones stay. FerretDB 1.x applies any update by reading the document
   * and writing all of it back by `_id`, so an update racing a write puts back the version it
   * read, losing the write and its changes (found by test/e2e/mongo-only-sequencer.test.ts:
   * acknowledged writes gone). There the sequencer first takes the claim every writer of that
   * version takes (claims.ts), so no write lands between its read and its write-back; when a
   * writer holds it, or the version moved on before the claim, the next round clears it.
   */
  private async clear(doc: Pick<GuidDoc, '_id' | 'version'> & { out: OutboxChange[] }): Promise<boolean> {
    const { writeConcern } = this.options
    const exact = { _id: doc._id, version: doc.version }
    if (this.claims === undefined) {
      if ((await this.docs.updateOne(exact, { $unset: { out: '' } }, { writeConcern })).matchedCount > 0) return true
      await this.docs.updateOne({ _id: doc._id }, { $pull: { out: { v: { $in: doc.out.map((c) => c.v) } } } }, { writeConcern })
      return false
    }
    const claim = await this.claims.take(doc._id, doc.version, false, CLEAR_CLAIM_LEASE_MS)
    if (claim === 'held') return false
    try {
      return (await this.docs.updateOne(exact, { $unset: { out: '' } }, { writeConcern })).matchedCount > 0
    } finally {
      await this.claims.release(claim)
    }
  }

  private async trimmedThrough(): Promise<number> {
    const mark = await reading(() => this.meta.findOne({ _id: TRIMMED }))
    return mark?.seq ?? 0
  }
}
