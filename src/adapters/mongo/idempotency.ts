import type { Collection, WriteConcernSettings } from 'mongodb'
import type { Clock } from '../../domain/clock'
import { unavailable } from '../../domain/errors'
import type { Claim, IdempotencyStore, KeepAnswer, WriteIntent } from '../../data/idempotency'
import { classifyWriteError, toDate } from './ops'
import type { MongoStore } from './store'

/** Where keys are kept in MongoDB-only mode. */
export const IDEMPOTENCY_COLLECTION = 'idempotency'

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
 * answering it, or makes it), or the answer (replayed). Exactly one GUID either way.
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
        // Its request died (the lease ran out). When it had recorded its write's intent and that
        // write landed (the GUID is at that version or later: versions never go back), its
        // answer is the one it would have given: kept now, and replayed.
        if (held.state === 'in-flight' && held.intent !== undefined && held.fingerprint === fingerprint && (await this.landed(held.intent))) {
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

  /** Whether the intended write is in MongoDB: the GUID's document at that version or later. */
  private async landed(intent: WriteIntent): Promise<boolean> {
    const { docs } = await this.store.connected()
    const doc = await docs.findOne({ _id: intent.guid }, { projection: { version: 1 } })
    return doc !== null && doc.version >= intent.version
  }

  async release(id: string, token: string): Promise<void> {
    await this.call((docs) => docs.deleteOne({ _id: id, token, state: 'in-flight' }, { writeConcern: this.o.writeConcern }))
  }

  /** Deletes up to `limit` documents past their expiry (answers, and claims of requests long dead). */
  async sweep(nowSec: number, limit: number): Promise<number> {
    return this.call(async (docs) => {
      const now = toDate(nowSec)
      const due = await docs.find({ expireAt: { $lte: now } }, { projection: { _id: 1 }, limit }).toArray()
      if (due.length === 0) return 0
      return (await docs.deleteMany({ _id: { $in: due.map((d) => d._id) }, expireAt: { $lte: now } })).deletedCount
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
