import { describe, expect, test } from 'bun:test'
import { createServer } from 'node:net'
import {
  type BulkWriteResult,
  type Document,
  MongoBulkWriteError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  type TopologyDescription,
  type WriteConcernError,
  type WriteError,
} from 'mongodb'
import type { ServiceError } from '../../src/domain/errors'
import type { Mutation } from '../../src/domain/model'
import { MongoStore } from '../../src/adapters/mongo/store'
import {
  BulkAccountingError,
  type BulkPlan,
  bulkProbeFaithful,
  classifyWriteError,
  foldRound,
  fromDoc,
  type GuidDoc,
  guardedUpsert,
  type OpVerdict,
  toBulkOps,
  toDoc,
  verdictsFromError,
  verdictsFromResult,
} from '../../src/adapters/mongo/ops'
import type { ApplyOutcome } from '../../src/data/store'
import { deleteOf, guidNo, putOf, record } from '../support/store'

const NOW = Date.UTC(2026, 0, 1) / 1000
const G = guidNo(1)

// The driver's results and errors, built the way its bulk code builds them
// (node_modules/mongodb/src/bulk/common.ts: mergeBatchResults, handleWriteError, executeCommands).

/** The raw result a BulkWriteResult wraps (BulkResult in bulk/common.ts). */
interface RawBulkResult {
  ok: number
  writeErrors: WriteError[]
  writeConcernErrors: WriteConcernError[]
  insertedIds: Document[]
  nInserted: number
  nUpserted: number
  nMatched: number
  nModified: number
  nRemoved: number
  upserted: Document[]
}

// The driver exports these three as types only; the classes live in the module that also
// defines MongoBulkWriteError (the package has no exports map, so the path resolves).
const bulkCommon = require('mongodb/lib/bulk/common') as {
  /** Its constructor is internal, so absent from the driver's types. */
  BulkWriteResult: new (
    raw: RawBulkResult,
    isOrdered: boolean,
  ) => BulkWriteResult
  WriteError: typeof WriteError
  WriteConcernError: typeof WriteConcernError
}
const { BulkWriteResult: BulkWriteResultOf, WriteError: WriteErrorOf, WriteConcernError: WriteConcernErrorOf } = bulkCommon

/** An unordered update bulk's result: which op indexes upserted, which matched, which failed. */
const bulkResult = (o: { upserted?: number[]; matched?: number; errors?: WriteError[]; concern?: WriteConcernError[] }): BulkWriteResult => {
  const upserted = (o.upserted ?? []).map((index) => ({ index, _id: guidNo(index) }))
  return new BulkWriteResultOf(
    {
      ok: 1,
      writeErrors: o.errors ?? [],
      writeConcernErrors: o.concern ?? [],
      insertedIds: [],
      nInserted: 0,
      nUpserted: upserted.length,
      nMatched: o.matched ?? 0,
      nModified: o.matched ?? 0,
      nRemoved: 0,
      upserted,
    },
    false,
  )
}

const writeError = (index: number, code: number, errmsg = `error ${code}`): WriteError => new WriteErrorOf({ index, code, errmsg, errInfo: {}, op: {} })

/** What handleWriteError throws when an unordered bulk finished with write errors. */
const bulkErrorOf = (errors: WriteError[], result: BulkWriteResult): MongoBulkWriteError => {
  const first = errors[0]
  return new MongoBulkWriteError({ message: first?.errmsg ?? 'write operation failed', code: first?.code ?? 0, writeErrors: errors }, result)
}

const duplicate = (index: number) => writeError(index, 11000, `E11000 duplicate key error collection: guidd.guids index: _id_ dup key: { _id: "${guidNo(index)}" }`)

const retryableLabelled = (): MongoServerError => new MongoServerError({ code: 10107, errmsg: 'not primary', errorLabels: [MongoErrorLabel.RetryableWriteError] })

// MongoServerSelectionError's constructor reads only `reason.error`; TopologyDescription is a type-only export.
const noServer = (): MongoServerSelectionError => new MongoServerSelectionError('Server selection timed out after 30000 ms', { error: null } as unknown as TopologyDescription)

describe('toBulkOps', () => {
  test('a record: a guarded upsert that sets the record and unsets `deleted`', () => {
    const plan = toBulkOps([putOf(record(G, 3, NOW + 10, 'who'))])
    expect(plan.outcomes).toEqual([undefined])
    expect(plan.inputIndex).toEqual([0])
    expect(plan.states).toEqual([record(G, 3, NOW + 10, 'who')])
    expect(plan.ops).toEqual([
      {
        updateOne: {
          filter: { _id: G, version: { $lt: 3 } },
          update: { $set: { version: 3, expireAt: new Date((NOW + 10) * 1000), user: 'who' }, $unset: { deleted: '' } },
          upsert: true,
        },
      },
    ])
  })

  test('a tombstone: sets `deleted: true`, unsets `user`', () => {
    expect(guardedUpsert({ guid: G, version: 4, expire: NOW + 50, deleted: true })).toEqual({
      updateOne: {
        filter: { _id: G, version: { $lt: 4 } },
        update: { $set: { version: 4, expireAt: new Date((NOW + 50) * 1000), deleted: true }, $unset: { user: '' } },
        upsert: true,
      },
    })
  })

  test('the guard is the version alone: no clause lets a lower version replace an expired document', () => {
    // The old guard also matched `expireAt <= now`: a replayed older write could then replace
    // a newer state that had expired, and with it the version a re-create must continue from.
    const op = guardedUpsert(record(G, 1, NOW + 10))
    expect('updateOne' in op && op.updateOne.filter).toEqual({ _id: G, version: { $lt: 1 } })
  })

  test('an already expired state is written like any other; ops map back to input positions', () => {
    // An acknowledged PATCH of a live v1 that shortened `expire` to NOW + 5, flushed at NOW + 10:
    // skipped (as the old rule did), the store would keep serving v1, which the PATCH replaced.
    const live = record(G, 1, NOW + 100, 'before')
    const patched = record(G, 2, NOW + 5, 'after')
    const plan = toBulkOps([putOf(patched), putOf(record(guidNo(2), 1, NOW + 1)), deleteOf(guidNo(3), 2, NOW - 5)])
    expect(plan.outcomes).toEqual([undefined, undefined, undefined])
    expect(plan.inputIndex).toEqual([0, 1, 2])
    expect(plan.states.map((state) => state.guid)).toEqual([G, guidNo(2), guidNo(3)])
    expect(plan.ops[0]).toEqual(guardedUpsert(patched))
    // ...and its guard matches the stored v1, so the update replaces it.
    const op = plan.ops[0]
    expect(op !== undefined && 'updateOne' in op && live.version < (op.updateOne.filter.version as { $lt: number }).$lt).toBe(true)
  })

  test('a malformed mutation is rejected alone, never written under a bogus _id', () => {
    const bad = { next: { ...record(G, 1, NOW + 10), guid: null }, prevVersion: 0 } as unknown as Mutation
    const mixed = { next: { ...record(G, 1, NOW + 10), deleted: true }, prevVersion: 0 } as unknown as Mutation
    const plan = toBulkOps([bad, putOf(record(guidNo(2), 1, NOW + 10)), mixed])
    expect(plan.outcomes[0]).toEqual({ rejected: expect.stringContaining('invalid mutation') })
    expect(plan.outcomes[2]).toEqual({ rejected: expect.stringContaining('invalid mutation') })
    expect(plan.inputIndex).toEqual([1])
  })
})

describe('toDoc', () => {
  test('the whole document of a record and of a tombstone (for an insert or a replace by _id), the inverse of fromDoc', () => {
    const r = record(G, 3, NOW + 10, 'who')
    expect(toDoc(r)).toEqual({ _id: G, user: 'who', version: 3, expireAt: new Date((NOW + 10) * 1000) })
    const t = { guid: G, version: 4, expire: NOW + 50, deleted: true as const }
    expect(toDoc(t)).toEqual({ _id: G, version: 4, expireAt: new Date((NOW + 50) * 1000), deleted: true })
    expect(fromDoc(toDoc(r))).toEqual(r)
    expect(fromDoc(toDoc(t))).toEqual(t)
  })
})

describe('fromDoc', () => {
  const at = (sec: number) => new Date(sec * 1000)
  test('a record document and a tombstone document map to Stored', () => {
    expect(fromDoc({ _id: G, user: 'u', expireAt: at(NOW + 10), version: 2 })).toEqual(record(G, 2, NOW + 10, 'u'))
    expect(fromDoc({ _id: G, expireAt: at(NOW + 10), version: 3, deleted: true })).toEqual({ guid: G, version: 3, expire: NOW + 10, deleted: true })
  })

  test('a stray field survives the mapping so validation can refuse it', () => {
    expect(fromDoc({ _id: G, user: 'u', expireAt: at(NOW), version: 3, deleted: true })).toMatchObject({ user: 'u', deleted: true })
    expect(fromDoc({ _id: G, expireAt: 'soon', version: 1 } as unknown as GuidDoc)).toMatchObject({ expire: Number.NaN })
  })
})

describe('classifyWriteError', () => {
  const cases: [string, unknown, ReturnType<typeof classifyWriteError>][] = [
    ['E11000 from the server', new MongoServerError({ code: 11000, errmsg: 'E11000 duplicate key' }), 'duplicate'],
    ['E11000 as a bulk WriteError', duplicate(0), 'duplicate'],
    ['legacy 11001', writeError(0, 11001), 'duplicate'],
    ['a network error', new MongoNetworkError('connection reset'), 'retryable'],
    ['a network timeout', new MongoNetworkTimeoutError('connection timed out'), 'retryable'],
    ['server selection timed out', noServer(), 'retryable'],
    ['the RetryableWriteError label', retryableLabelled(), 'retryable'],
    ['a label on an unknown code', new MongoServerError({ code: 99999, errmsg: 'x', errorLabels: [MongoErrorLabel.RetryableWriteError] }), 'retryable'],
    ['NotWritablePrimary without a label', new MongoServerError({ code: 10107, errmsg: 'not primary' }), 'retryable'],
    ['WriteConflict per op', writeError(0, 112), 'retryable'],
    ['StaleConfig per op', writeError(0, 13388), 'retryable'],
    ['legacy "not master" text without a code', new MongoServerError({ errmsg: 'not master' }), 'retryable'],
    ['a network error wrapped by the bulk', new MongoBulkWriteError(new MongoNetworkError('reset'), bulkResult({})), 'retryable'],
    ['Unauthorized per op: the store, not the entry', writeError(0, 13, 'not authorized'), 'retryable'],
    ['OutOfDiskSpace per op', writeError(0, 14031, 'out of disk space'), 'retryable'],
    ['Cosmos DB throttling (16500) per op', writeError(0, 16500, 'Request rate is large'), 'retryable'],
    ['DocumentValidationFailure', writeError(0, 121, 'Document failed validation'), 'permanent'],
    ['a plain Error', new Error('boom'), 'permanent'],
    ['not an error at all', 'boom', 'permanent'],
  ]
  test.each(cases)('%s', (_, err, expected) => {
    expect(classifyWriteError(err)).toBe(expected)
  })
})

describe('verdictsFromResult', () => {
  test('every op matched or upserted: all applied', () => {
    expect(verdictsFromResult(3, bulkResult({ upserted: [0, 2], matched: 1 }))).toEqual(['applied', 'applied', 'applied'])
  })

  test('a reply that does not account for every op throws rather than acknowledge it', () => {
    expect(() => verdictsFromResult(3, bulkResult({ upserted: [0], matched: 1 }))).toThrow(BulkAccountingError)
  })

  test('a write concern error throws', () => {
    expect(() => verdictsFromResult(1, bulkResult({ upserted: [0], concern: [new WriteConcernErrorOf({ code: 64, errmsg: 'waiting for replication timed out' })] }))).toThrow('write concern')
  })
})

describe('verdictsFromError', () => {
  test('E11000 at its index is a duplicate; the rest applied; input order kept', () => {
    const errors = [duplicate(1), duplicate(3)]
    const err = bulkErrorOf(errors, bulkResult({ upserted: [0], matched: 1, errors }))
    expect(verdictsFromError(4, err)).toEqual(['applied', 'duplicate', 'applied', 'duplicate'])
  })

  test('a permanent per-op error rejects that entry only, with a short reason', () => {
    const errors = [writeError(0, 121, `Document failed validation ${'x'.repeat(500)}`)]
    const verdicts = verdictsFromError(2, bulkErrorOf(errors, bulkResult({ upserted: [1], errors })))
    expect(verdicts[1]).toBe('applied')
    const rejected = verdicts[0] as { rejected: string }
    expect(rejected.rejected).toStartWith('mongodb error 121: Document failed validation')
    expect(rejected.rejected.length).toBeLessThan(200)
  })

  test('a retryable per-op error throws the whole call', () => {
    const errors = [duplicate(0), writeError(1, 112, 'WriteConflict')]
    const err = bulkErrorOf(errors, bulkResult({ errors }))
    expect(() => verdictsFromError(2, err)).toThrow(err)
  })

  test('a failure of the bulk as a whole (wrapped network error) throws it', () => {
    const err = new MongoBulkWriteError(new MongoNetworkError('connection reset'), bulkResult({ upserted: [0] }))
    expect(() => verdictsFromError(3, err)).toThrow(err)
  })

  test('anything but a MongoBulkWriteError is rethrown as is', () => {
    for (const err of [noServer(), new MongoNetworkError('reset'), retryableLabelled(), new Error('boom')]) {
      expect(() => verdictsFromError(1, err)).toThrow(err)
    }
  })

  test('a write concern error throws, with or without write errors', () => {
    const wce = new WriteConcernErrorOf({ code: 64, errmsg: 'waiting for replication timed out' })
    const alone = new MongoBulkWriteError(wce, bulkResult({ upserted: [0], concern: [wce] }))
    expect(() => verdictsFromError(1, alone)).toThrow(alone)
    const errors = [duplicate(0)]
    const withErrors = bulkErrorOf(errors, bulkResult({ upserted: [1], errors, concern: [wce] }))
    expect(() => verdictsFromError(2, withErrors)).toThrow(withErrors)
  })

  test('an index out of range or repeated: throws', () => {
    const outOfRange = [duplicate(5)]
    expect(() => verdictsFromError(2, bulkErrorOf(outOfRange, bulkResult({ upserted: [0, 1], errors: outOfRange })))).toThrow(BulkAccountingError)
    const repeated = [duplicate(0), duplicate(0)]
    expect(() => verdictsFromError(2, bulkErrorOf(repeated, bulkResult({ errors: repeated })))).toThrow(BulkAccountingError)
  })

  test("counts that do not add up: 'unaccounted', so nothing in the reply is trusted", () => {
    const short = [duplicate(0)]
    expect(verdictsFromError(3, bulkErrorOf(short, bulkResult({ upserted: [1], errors: short })))).toBe('unaccounted')
  })

  test("FerretDB 1.x's reply (stops at the first failure, reports it at index 0, counts nothing) is 'unaccounted'", () => {
    // What FerretDB 1.24 answered here for [A v2 over v1, B v1 over v1, C v1 new]: A written,
    // B failed, C never tried; the reply: one E11000 at index 0, nothing matched or upserted.
    const errors = [duplicate(0)]
    expect(verdictsFromError(3, bulkErrorOf(errors, bulkResult({ errors })))).toBe('unaccounted')
    // One op alone is unambiguous: its E11000 is its own.
    expect(verdictsFromError(1, bulkErrorOf(errors, bulkResult({ errors })))).toEqual(['duplicate'])
  })
})

describe('bulkProbeFaithful', () => {
  test("MongoDB's answer to the probe is faithful; FerretDB 1.x's is not", () => {
    const mongo = [duplicate(1)]
    expect(bulkProbeFaithful(verdictsFromError(3, bulkErrorOf(mongo, bulkResult({ upserted: [0, 2], errors: mongo }))))).toBe(true)
    const ferret = [duplicate(0)]
    expect(bulkProbeFaithful(verdictsFromError(3, bulkErrorOf(ferret, bulkResult({ errors: ferret }))))).toBe(false)
    // A server that wrote all three (no collision) does not guard upserts on _id as MongoDB does.
    expect(bulkProbeFaithful(['applied', 'applied', 'applied'])).toBe(false)
  })
})

describe('foldRound', () => {
  const plan: BulkPlan = { ops: [], inputIndex: [1, 2, 4], states: [1, 2, 4].map((n) => record(guidNo(n), 1, NOW + 10)), outcomes: [] }
  const start = (): (ApplyOutcome | undefined)[] => ['stale', undefined, undefined, { rejected: 'invalid mutation' }, undefined]

  test('verdicts land at their inputs; duplicates are written again before they count', () => {
    const outcomes = start()
    const verdicts: OpVerdict[] = ['duplicate', 'applied', { rejected: 'r' }]
    expect(foldRound(plan, outcomes, [0, 1, 2], verdicts, false)).toEqual([0])
    expect(outcomes).toEqual(['stale', undefined, 'applied', { rejected: 'invalid mutation' }, { rejected: 'r' }])
    // The confirming round: a second E11000 means a newer or equal live document.
    expect(foldRound(plan, outcomes, [0], ['duplicate'], true)).toEqual([])
    expect(outcomes).toEqual(['stale', 'stale', 'applied', { rejected: 'invalid mutation' }, { rejected: 'r' }])
  })

  test('a duplicate that applies on the second round (it lost an insert race) is applied', () => {
    const outcomes = start()
    foldRound(plan, outcomes, [0, 1, 2], ['duplicate', 'applied', 'applied'], false)
    foldRound(plan, outcomes, [0], ['applied'], true)
    expect(outcomes).toEqual(['stale', 'applied', 'applied', { rejected: 'invalid mutation' }, 'applied'])
  })

  test('verdicts that do not match the ops throw', () => {
    expect(() => foldRound(plan, start(), [0, 1], ['applied'], true)).toThrow(BulkAccountingError)
  })
})

describe('MongoStore without a server', () => {
  test('bad options throw at construction', () => {
    expect(() => new MongoStore({ url: 'http://localhost', dbName: 'guidd' })).toThrow(TypeError)
    expect(() => new MongoStore({ url: 'mongodb://localhost', dbName: '' })).toThrow(TypeError)
    expect(() => new MongoStore({ url: 'mongodb://localhost', dbName: 'guidd', collection: '' })).toThrow(TypeError)
  })

  test('an unreachable server: open, applyBatch and ping throw a retryable error, every time', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
      })
    })
    const options = { url: `mongodb://127.0.0.1:${port}/`, dbName: 'guidd', clientOptions: { serverSelectionTimeoutMS: 150 } }
    const openError = await MongoStore.open(options).catch((e: unknown) => e)
    expect(classifyWriteError(openError)).toBe('retryable')

    const store = new MongoStore(options)
    try {
      const applyError = await store.applyBatch([putOf(record(G, 1, NOW + 10))]).catch((e: unknown) => e)
      expect(applyError).toBeInstanceOf(Error)
      expect(classifyWriteError(applyError)).toBe('retryable')
      // Again: a failed first connect must not leave the driver's closed topology behind
      // ("Topology is closed", not retryable, forever); each call tries to connect anew.
      expect(await store.ping().catch((e: unknown) => e)).toBeInstanceOf(MongoServerSelectionError)
      // A read it cannot answer is 503 unavailable (a ServiceError), its cause the driver's error.
      const readError = await store.get(G, NOW).catch((e: unknown) => e)
      expect((readError as ServiceError).kind).toBe('unavailable')
      expect((readError as ServiceError).cause).toBeInstanceOf(MongoServerSelectionError)
      // Nothing to write needs no server (an expired state is something to write).
      const malformed = { next: { ...record(G, 1, NOW + 10), guid: null }, prevVersion: 0 } as unknown as Mutation
      expect(await store.applyBatch([malformed])).toEqual([{ rejected: expect.stringContaining('invalid mutation') }])
      expect(await store.applyBatch([])).toEqual([])
      expect(classifyWriteError(await store.applyBatch([putOf(record(G, 1, NOW))]).catch((e: unknown) => e))).toBe('retryable')
      expect(await store.sweepExpired(NOW, 0)).toBe(0)
    } finally {
      await store.close()
    }
    await expect(store.ping()).rejects.toThrow('closed')
  })
})
