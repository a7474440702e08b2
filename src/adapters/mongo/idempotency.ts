import type { Collection, WriteConcernSettings } from 'mongodb'
import type { Clock } from '../../domain/clock'
import { unavailable } from '../../domain/errors'
import type { Claim, IdempotencyStore, KeepAnswer, WriteIntent } from '../../data/idempotency'
import { classifyWriteError, toDate } from './ops'
import type { MongoStore } from './store'

/** Where keys are kept in MongoDB-only mode. */
export const IDEMPOTENCY_COLLECTION = 'idempotency'
/** Who takes over a key's dead claim (or expired answer): see `takeTurn`. */
export const TAKEOVERS_COLLECTION = 'idempotency_takeovers'

/** How many takers of one claim may die mid-takeover before the next gives up (409, then a fresh claim later). */
const MAX_TURNS = 10

interface TurnDoc {
  /** JSON of [key id, the claim's generation, the turn]: unambiguous whatever the key holds. */
  _id: string
  /** Until when this turn's taker may still be taking the claim over; after it, the next turn is free. */
  leaseUntil: Date
  expireAt: Date
}

interface KeyDoc {
  _id: string
  fingerprint: string
  state: 'in-flight' | 'done'
  /** The claim's holder (in-flight only). */
  token?: string
  /** The GUID a keyed create uses, fixed with the claim. */
  guid?: string
  leaseUntil?: Date
  answer?: string
  /** Set just before the write: what it makes (the GUID's version) and what it answers. */
  intent?: WriteIntent
  expireAt: Date
}

export interface MongoIdempotencyOptions {
  clock: Clock
  writeConcern: WriteConcernSettings
  /** How long a claim holds without an answer (its instance died mid-request). */
  leaseMs: number
  /** IDEMPOTENCY_TTL_SECONDS: how long a claim's document lives before it is swept. */
  ttlSeconds: number
}

/**
 * Idempotency keys in MongoDB-only mode, where a write and its answer cannot be one atomic
 * step (no transactions on the servers this mode serves, FerretDB included). So the key is
 * claimed first, durably (w + j, an insert that only one instance can make), and the claim
 * fixes the GUID a create will use; then the write; then the answer. A kill -9 at any point
 * of a keyed create leaves: nothing (the retry claims afresh), a claim (its lease runs out,
 * the retry takes it over with the same GUID, and either finds that GUID's create landed,
 * answering it, or makes it), or the answer (replayed). Exactly one GUID either way. Whether
 * a write whose intent was recorded landed is read from the token it leaves in its GUID's
 * document (Mutation.trace), never from the GUID's version, which other writers make too.
 */
export class MongoIdempotency implements IdempotencyStore {
  readonly keptWithWrite = false
  private indexed: Promise<void> | undefined

  constructor(
    private readonly store: MongoStore,
    private readonly o: MongoIdempotencyOptions,
  ) {}

  async claim(id: string, fingerprint: string, guid: string | undefined): Promise<Claim> {
    return this.call(async (docs) => {
      const now = this.o.clock.now()
      const token = crypto.randomUUID()
      const fresh: KeyDoc = { _id: id, fingerprint, state: 'in-flight', token, leaseUntil: new Date(now + this.o.leaseMs), expireAt: new Date(now + this.o.ttlSeconds * 1000) }
      if (guid !== undefined) fresh.guid = guid
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await docs.insertOne(fresh, { writeConcern: this.o.writeConcern })
          return { kind: 'claimed', token, guid, resumed: false }
        } catch (error) {
          if (classifyWriteError(error) !== 'duplicate') throw error
        }
        const held = await docs.findOne({ _id: id })
        if (held === null) continue
        if (held.state === 'done' && held.expireAt.getTime() > now) return { kind: 'done', fingerprint: held.fingerprint, answer: held.answer ?? '' }
        if (held.state === 'in-flight' && (held.leaseUntil?.getTime() ?? 0) > now) return { kind: 'in-flight', fingerprint: held.fingerprint }
        if (held.state === 'in-flight' && held.fingerprint !== fingerprint && held.expireAt.getTime() > now) return { kind: 'in-flight', fingerprint: held.fingerprint }
        // Its request died (the lease ran out), or its answer expired: one caller alone decides
        // what becomes of it. An update whose filter names the claim's token would decide on
        // MongoDB, but FerretDB 1.x applies an update's filter and its write apart (it reads the
        // matching documents, then writes each back by _id: claims.ts), so two callers would
        // both match it; an insert on a unique _id is atomic on both.
        if (!(await this.takeTurn(id, held.token ?? `expired@${held.expireAt.getTime()}`, now))) return { kind: 'in-flight', fingerprint }
        // When it had recorded its write's intent and that write landed (its token is in the
        // GUID's document, left there by the write itself), its answer is the one it would have
        // given: kept now, and replayed. Not "the GUID is at that version or later": another
        // writer makes the same version (the linearizability suite's
        // keyed-replay-of-another-write-mongodb-only history).
        if (held.state === 'in-flight' && held.intent !== undefined && held.token !== undefined && held.fingerprint === fingerprint && (await this.landed(held.intent, held.token))) {
          const done = await docs.updateOne(
            { _id: id, state: 'in-flight', ...(held.token === undefined ? {} : { token: held.token }) },
            { $set: { state: 'done', answer: held.intent.answer, expireAt: fresh.expireAt }, $unset: { token: '', leaseUntil: '', guid: '', intent: '' } },
            { writeConcern: this.o.writeConcern },
          )
          if (done.matchedCount === 1) return { kind: 'done', fingerprint, answer: held.intent.answer }
          continue
        }
        // Or its answer expired: take it over, keeping a dead request's GUID, whose create may
        // have landed (without an intent recorded, from an older instance).
        const resumed = held.state === 'in-flight'
        const keptGuid = resumed ? held.guid : guid
        const taken = await docs.updateOne(
          { _id: id, state: held.state, ...(held.token === undefined ? {} : { token: held.token }) },
          { $set: { ...fresh, ...(keptGuid === undefined ? {} : { guid: keptGuid }) }, $unset: { answer: '', intent: '' } },
          { writeConcern: this.o.writeConcern },
        )
        if (taken.matchedCount === 1) return { kind: 'claimed', token, guid: keptGuid, resumed }
      }
      return { kind: 'in-flight', fingerprint }
    })
  }

  async complete(token: string, keep: KeepAnswer): Promise<void> {
    await this.call((docs) =>
      docs.updateOne(
        { _id: keep.id, token },
        { $set: { state: 'done', fingerprint: keep.fingerprint, answer: keep.answer, expireAt: toDate(keep.expire) }, $unset: { token: '', leaseUntil: '', guid: '', intent: '' } },
        { writeConcern: this.o.writeConcern },
      ),
    )
  }

  async settled(_id: string, _token: string): Promise<void> {}

  async intend(id: string, token: string, intent: WriteIntent): Promise<void> {
    await this.call((docs) => docs.updateOne({ _id: id, token, state: 'in-flight' }, { $set: { intent } }, { writeConcern: this.o.writeConcern }))
  }

  /**
   * Whether this caller is the one to take over generation `of` of key `id` (the claim's token,
   * or its expired answer's instant): the first to insert that generation's turn. A taker that
   * dies before its takeover's update leaves its turn, which passes, once its lease has run
   * out, to the next (another insert, of the next turn): no turn is ever deleted or updated to
   * be taken, so no step relies on a filter applied atomically (FerretDB 1.x does not). Turns are
   * swept with the keys, a day on (IDEMPOTENCY_TTL_SECONDS), long after any race for them.
   */
  private async takeTurn(id: string, of: string, now: number): Promise<boolean> {
    const { db } = await this.store.connected()
    const turns = db.collection<TurnDoc>(TAKEOVERS_COLLECTION)
    for (let turn = 0; turn < MAX_TURNS; turn++) {
      const _id = JSON.stringify([id, of, turn])
      try {
        await turns.insertOne({ _id, leaseUntil: new Date(now + this.o.leaseMs), expireAt: new Date(now + this.o.ttlSeconds * 1000) }, { writeConcern: this.o.writeConcern })
        return true
      } catch (error) {
        if (classifyWriteError(error) !== 'duplicate') throw error
      }
      const taken = await turns.findOne({ _id })
      if (taken !== null && taken.leaseUntil.getTime() > now) return false
    }
    return false
  }

  /**
   * Whether the write of the claim `token` landed: its trace is in the GUID's document (the
   * journal writes it with the write, and later writes carry it forward for as long as the
   * claim may be taken over: journal.ts). A write that did not land left none, whatever
   * versions other writers made since.
   */
  private async landed(intent: WriteIntent, token: string): Promise<boolean> {
    const { docs } = await this.store.connected()
    const doc = await docs.findOne({ _id: intent.guid }, { projection: { keyed: 1 } })
    return doc?.keyed?.some((trace) => trace.t === token) === true
  }

  /**
   * A claim whose request recorded an intent may have written (a 503 for a reply lost after the
   * write lands): its lease ends now instead, so the retry takes it over at once and replays the
   * write if its trace is there, or makes it. Without an intent nothing was written: the key is freed.
   */
  async release(id: string, token: string): Promise<void> {
    await this.call(async (docs) => {
      const ended = await docs.updateOne(
        { _id: id, token, state: 'in-flight', intent: { $exists: true } },
        { $set: { leaseUntil: new Date(this.o.clock.now()) } },
        { writeConcern: this.o.writeConcern },
      )
      if (ended.matchedCount === 0) await docs.deleteOne({ _id: id, token, state: 'in-flight' }, { writeConcern: this.o.writeConcern })
    })
  }

  /** Deletes up to `limit` documents past their expiry (answers, claims of requests long dead, and their takeovers' turns) of each collection. */
  async sweep(nowSec: number, limit: number): Promise<number> {
    return this.call(async () => {
      const { db } = await this.store.connected()
      let swept = 0
      for (const name of [IDEMPOTENCY_COLLECTION, TAKEOVERS_COLLECTION]) {
        const from = db.collection<{ _id: string; expireAt: Date }>(name)
        const now = toDate(nowSec)
        const due = await from.find({ expireAt: { $lte: now } }, { projection: { _id: 1 }, limit }).toArray()
        if (due.length > 0) swept += (await from.deleteMany({ _id: { $in: due.map((d) => d._id) }, expireAt: { $lte: now } })).deletedCount
      }
      return swept
    })
  }

  private async call<T>(run: (docs: Collection<KeyDoc>) => Promise<T>): Promise<T> {
    try {
      return await run(await this.docs())
    } catch (error) {
      if (classifyWriteError(error) !== 'retryable') throw error
      throw unavailable('MongoDB cannot keep the Idempotency-Key right now; retry shortly.', error)
    }
  }

  /**
   * The keys' collection through the store's connection gate on every call, not only the first:
   * when the store replaces its client (a stuck driver heartbeat) while MongoDB is down, a
   * collection kept from the old client answers "Topology is closed" for good (a 500 seen in a
   * soak), while the gate connects again. The index is made once.
   */
  private async docs(): Promise<Collection<KeyDoc>> {
    const { db } = await this.store.connected()
    const docs = db.collection<KeyDoc>(IDEMPOTENCY_COLLECTION)
    this.indexed ??= docs.createIndex({ expireAt: 1 }, { name: 'expireAt' }).then(() => undefined)
    this.indexed.catch(() => {
      this.indexed = undefined
    })
    await this.indexed
    return docs
  }
}
