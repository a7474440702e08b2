import {
  type AnyBulkWriteOperation,
  type BulkWriteResult,
  MongoBulkWriteError,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerSelectionError,
  type UpdateFilter,
  type WriteError,
} from 'mongodb'
import { checkStored, type Mutation, type Stored } from '../../domain/model'
import type { ApplyOutcome } from '../../data/store'

/**
 * The pure half of the MongoDB store: what goes into a bulkWrite and what its result or
 * error means, kept free of I/O so it is unit-tested without a server.
 */

/** A GUID's state as a MongoDB document. A tombstone has `deleted: true` and no `user`. */
export interface GuidDoc {
  _id: string
  user?: string
  /** Date, not seconds: the TTL index only acts on Date fields. */
  expireAt: Date
  version: number
  deleted?: true
  /** MongoDB-only mode: the changes its writes recorded that the change feed has not yet taken (adapters/mongo/events.ts). */
  out?: OutboxChange[]
  /**
   * MongoDB-only mode: the keyed writes that made this document's recent versions, each by its
   * Idempotency-Key claim's token, written in the same update as the write (journal.ts), so a
   * retry that takes a dead claim over can tell whether that claim's write landed (idempotency.ts).
   */
  keyed?: KeyedTrace[]
}

/** One keyed write's trace in its GUID's document: the claim's token, and when (ms) it was written, for pruning. */
export interface KeyedTrace {
  t: string
  at: number
}

/** A change as a GUID document's outbox holds it, until the feed's sequencer gives it a position. */
export interface OutboxChange {
  t: 'created' | 'updated' | 'deleted' | 'expired'
  v: number
  u: string
  /** The record's expire (unix s), for created and updated. */
  e?: number
}

export const toDate = (sec: number): Date => new Date(sec * 1000)

/** A document as the service's type; unknown because the caller validates it against `Stored`. */
export const fromDoc = (doc: GuidDoc): unknown => {
  // Copy faithfully (a field present where it must not be is kept) so validation catches a
  // document that is neither a record nor a tombstone instead of this mapping hiding it.
  const expireMs = doc.expireAt instanceof Date ? doc.expireAt.getTime() : Number.NaN
  const out: Record<string, unknown> = { guid: doc._id, version: doc.version, expire: expireMs / 1000 }
  if (doc.user !== undefined) out.user = doc.user
  if (doc.deleted !== undefined) out.deleted = doc.deleted
  return out
}

/**
 * The version guard as a filter: the stored document is older. Nothing else: a newer version
 * replaces the stored state whether or not either has expired (versions never repeat across
 * a delete or an expiry, so an older one can never be the rightful state). When the document
 * exists and is not older, the upsert's insert collides with it on `_id` and the server
 * answers E11000.
 */
export const guardFilter = (next: Stored) => ({ _id: next.guid, version: { $lt: next.version } })

/** The whole document a state is stored as: for an insert, or a replace by `_id`. */
export const toDoc = (next: Stored): GuidDoc =>
  'deleted' in next
    ? { _id: next.guid, version: next.version, expireAt: toDate(next.expire), deleted: true }
    : { _id: next.guid, user: next.user, version: next.version, expireAt: toDate(next.expire) }

export const guardedUpsert = (next: Stored): AnyBulkWriteOperation<GuidDoc> => {
  const common = { version: next.version, expireAt: toDate(next.expire) }
  // $unset the field the other shape has, so a re-created record loses `deleted` and a
  // tombstone loses `user`, whichever shape the document had before.
  const update: UpdateFilter<GuidDoc> = 'deleted' in next ? { $set: { ...common, deleted: true }, $unset: { user: '' } } : { $set: { ...common, user: next.user }, $unset: { deleted: '' } }
  return { updateOne: { filter: guardFilter(next), update, upsert: true } }
}

/** The writes of a batch and where each one's outcome goes. */
export interface BulkPlan {
  /** One guarded upsert per mutation that needs a write. */
  ops: AnyBulkWriteOperation<GuidDoc>[]
  /** `inputIndex[k]`: the mutation (input position) that `ops[k]` writes. */
  inputIndex: number[]
  /** `states[k]`: the state `ops[k]` writes (for writing it without a bulk, and keeping each GUID's writes apart). */
  states: Stored[]
  /** Outcomes known without a write (invalid states); undefined where an op decides. */
  outcomes: (ApplyOutcome | undefined)[]
}

/**
 * One guarded upsert per valid mutation. A state that has already expired is written like
 * any other: skipping it would leave the older state it replaces in the store (say, the
 * live record before a PATCH that shortened `expire`, acknowledged and then flushed after
 * that instant), to be served again. Reads never return it, and the sweep removes it.
 */
export const toBulkOps = (mutations: readonly Mutation[]): BulkPlan => {
  const plan: BulkPlan = { ops: [], inputIndex: [], states: [], outcomes: [] }
  mutations.forEach(({ next }, i) => {
    // A malformed entry (say, a null GUID) would otherwise upsert a document under a bogus
    // _id; reject it alone so the rest of the batch goes through.
    if (!checkStored.Check(next)) {
      const first = checkStored.Errors(next).First()
      plan.outcomes.push({ rejected: `invalid mutation${first ? ` at ${first.path || '/'}: ${first.message}` : ''}` })
      return
    }
    plan.outcomes.push(undefined)
    plan.ops.push(guardedUpsert(next))
    plan.inputIndex.push(i)
    plan.states.push(next)
  })
  return plan
}

/** How one guarded upsert of a bulkWrite fared. */
export type OpVerdict = 'applied' | 'duplicate' | { rejected: string }

export type WriteErrorClass = 'duplicate' | 'retryable' | 'permanent'

// 11001: the pre-2.6 duplicate-key code on update, still accepted so an old mongos cannot turn a replay into a rejection.
const DUPLICATE_KEY_CODES = new Set([11000, 11001])

/**
 * Codes worth retrying the batch for. The driver's retryable-write codes (network, not
 * primary, shutdown, step-down: not exported by the driver, so copied from its error.ts),
 * the transient per-statement ones a server or mongos can report inside a bulk reply, and
 * the conditions of the whole store that a server may report per write (permissions, disk,
 * quota, throttling): none says anything about the entry, so rejecting it would dead-letter
 * good writes; retried, they stay in the journal, whose growing lag turns writes into 503s.
 */
const RETRYABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  13, // Unauthorized (a role lost: nothing can be written until an operator fixes it)
  24, // LockTimeout
  50, // MaxTimeMSExpired
  63, // StaleShardVersion
  64, // WriteConcernTimeout (WriteConcernFailed before 8.1)
  89, // NetworkTimeout
  91, // ShutdownInProgress
  112, // WriteConflict
  134, // ReadConcernMajorityNotAvailableYet
  150, // StaleEpoch
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  365, // TemporarilyUnavailable
  8000, // AtlasError (e.g. over the cluster's space quota)
  9001, // SocketException
  10058, // LegacyNotPrimary
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13388, // StaleConfig
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
  14031, // OutOfDiskSpace
  16500, // Azure Cosmos DB: request rate too large (throttled; it says retry after a while)
])

const RETRYABLE_LABELS: readonly string[] = [
  MongoErrorLabel.RetryableWriteError,
  MongoErrorLabel.PoolRequestedRetry,
  MongoErrorLabel.RetryableError,
  MongoErrorLabel.SystemOverloadedError,
  MongoErrorLabel.TransientTransactionError,
]

// Pre-4.2 servers say "not master" / "node is recovering" without a code; the driver matches the same text.
const LEGACY_RETRYABLE_MESSAGE = /not master|node is recovering/i

const codeOf = (err: unknown): number | undefined => {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined
  // Number(): a code may arrive as a BSON Int32 when values are not promoted.
  const code = Number(err.code)
  return Number.isInteger(code) ? code : undefined
}

/**
 * What an error from the driver, or one `WriteError` of a bulk reply, means for a guarded
 * upsert: 'duplicate' (E11000: a newer or equal live document is there, i.e. stale),
 * 'retryable' (the store is unreachable or busy: retry the batch), or 'permanent'
 * (this write will fail the same way again).
 */
export const classifyWriteError = (err: unknown): WriteErrorClass => {
  // The driver wraps a failure of the whole bulk command (a network error, say) in a
  // MongoBulkWriteError with no write errors; the original is its `errorResponse`.
  if (err instanceof MongoBulkWriteError && err.errorResponse instanceof Error && err.errorResponse !== err) {
    const inner = classifyWriteError(err.errorResponse)
    if (inner !== 'permanent') return inner
  }
  const code = codeOf(err)
  if (code !== undefined && DUPLICATE_KEY_CODES.has(code)) return 'duplicate'
  if (err instanceof MongoError && RETRYABLE_LABELS.some((label) => err.hasErrorLabel(label))) return 'retryable'
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError || err instanceof MongoOperationTimeoutError || err instanceof MongoNotConnectedError) {
    return 'retryable'
  }
  if (code !== undefined && RETRYABLE_CODES.has(code)) return 'retryable'
  const message = err instanceof Error ? err.message : typeof err === 'object' && err !== null && 'errmsg' in err ? String(err.errmsg) : ''
  if (code === undefined && LEGACY_RETRYABLE_MESSAGE.test(message)) return 'retryable'
  return 'permanent'
}

const REASON_MAX = 160

/** A short, log-safe reason for a rejected entry: the code and the start of the server's message. */
export const rejectionReason = (err: WriteError): string => {
  const message = (err.errmsg ?? 'write failed').replace(/\s+/g, ' ')
  return `mongodb error ${err.code}: ${message.length > REASON_MAX ? `${message.slice(0, REASON_MAX)}...` : message}`
}

/** Thrown when a bulk reply does not account for every op: acknowledging would risk losing a write. */
export class BulkAccountingError extends Error {
  override readonly name = 'BulkAccountingError'
}

/** Ops a bulk reply says were written: each of ours (upserts, inserts, replaces by _id) matched, upserted or inserted one document. */
const writtenCount = (result: BulkWriteResult): number => result.matchedCount + result.upsertedCount + result.insertedCount

/**
 * Every op of our bulkWrites either matched a document, upserted or inserted one, or has a
 * WriteError: check that the reply says so before trusting an op without an error to be written.
 */
const checkAccounting = (opCount: number, result: BulkWriteResult | undefined, failed: number): void => {
  if (result === undefined) throw new BulkAccountingError('mongodb: bulkWrite failed without a result')
  const written = writtenCount(result)
  if (written !== opCount - failed) {
    throw new BulkAccountingError(`mongodb: bulkWrite accounted for ${written + failed} of ${opCount} operations`)
  }
}

/** Verdicts, in op order, of a bulkWrite that resolved: every op matched or upserted. */
export const verdictsFromResult = (opCount: number, result: BulkWriteResult): OpVerdict[] => {
  // A resolved unordered bulkWrite has no write errors (the driver throws when it has any),
  // but a write concern error could still be carried; never acknowledge past one.
  const wce = result.getWriteConcernError()
  if (wce !== undefined) throw new Error(`mongodb: write concern error ${wce.code ?? ''}: ${wce.errmsg ?? ''}`)
  checkAccounting(opCount, result, 0)
  return Array.from({ length: opCount }, (): OpVerdict => 'applied')
}

/**
 * Verdicts, in op order, of a bulkWrite that threw. Rethrows `error` when the batch as a
 * whole failed (anything but a bulk error with per-op write errors: network, server
 * selection, a write concern error) or when any op failed for a retryable reason, so the
 * caller retries the batch (the guard makes the replay harmless).
 *
 * 'unaccounted': the reply has write errors but does not say what became of every op.
 * FerretDB 1.x answers so: it runs the updates one after another, stops at the first that
 * fails, reports that one at index 0 and counts nothing, whatever `ordered` says. Nothing
 * in such a reply can be trusted about any op; every op is a guarded upsert, so the caller
 * can write them again, one per command, where a reply is unambiguous.
 */
export const verdictsFromError = (opCount: number, error: unknown): OpVerdict[] | 'unaccounted' => {
  if (!(error instanceof MongoBulkWriteError)) throw error
  // A driver failure is wrapped in a MongoBulkWriteError too, with no write errors of its own.
  const writeErrors: readonly WriteError[] = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors]
  if (writeErrors.length === 0) throw error
  // The writes are on the primary but not known to be durable to the write concern.
  if (error.err !== undefined || error.result?.getWriteConcernError() !== undefined) throw error

  const verdicts: (OpVerdict | undefined)[] = new Array(opCount).fill(undefined)
  for (const we of writeErrors) {
    if (!Number.isInteger(we.index) || we.index < 0 || we.index >= opCount || verdicts[we.index] !== undefined) {
      throw new BulkAccountingError(`mongodb: bulkWrite reported a write error at index ${we.index} of ${opCount}`)
    }
    const kind = classifyWriteError(we)
    if (kind === 'retryable') throw error
    verdicts[we.index] = kind === 'duplicate' ? 'duplicate' : { rejected: rejectionReason(we) }
  }
  if (error.result === undefined) throw new BulkAccountingError('mongodb: bulkWrite failed without a result')
  if (writtenCount(error.result) + writeErrors.length !== opCount) return 'unaccounted'
  return verdicts.map((v) => v ?? 'applied')
}

/**
 * How many extra rounds an E11000 gets before it counts as 'stale'. One E11000 alone does not
 * prove a newer document: two writers upserting a GUID that is absent both try to insert, and
 * the loser gets E11000 even when its version is the newer one. By the second round a
 * document exists and the guard sees it, so a second E11000 means a newer-or-equal live one.
 */
export const DUPLICATE_ROUNDS = 1

/**
 * Folds one round's verdicts (for the ops in `pending`, in that order) into `outcomes`, and
 * returns the ops to write again: duplicates, unless this is the final round, where they are 'stale'.
 */
export const foldRound = (plan: BulkPlan, outcomes: (ApplyOutcome | undefined)[], pending: readonly number[], verdicts: readonly OpVerdict[], finalRound: boolean): number[] => {
  if (verdicts.length !== pending.length) throw new BulkAccountingError(`mongodb: ${verdicts.length} verdicts for ${pending.length} operations`)
  const again: number[] = []
  pending.forEach((op, k) => {
    const verdict = verdicts[k]
    const input = plan.inputIndex[op]
    if (verdict === undefined || input === undefined) throw new BulkAccountingError(`mongodb: no verdict or input for operation ${op}`)
    if (verdict === 'duplicate' && !finalRound) again.push(op)
    else outcomes[input] = verdict === 'duplicate' ? 'stale' : verdict
  })
  return again
}

/**
 * Three upserts whose reply from a server that runs an unordered bulkWrite as MongoDB does
 * is known: op 0 inserts, op 1 collides with it on `_id` (E11000, reported at index 1), op 2
 * inserts. The `_id`s are not GUIDs (a GUID is 32 hex digits), so no read ever meets them.
 */
export const bulkProbeOps = (tag: string): AnyBulkWriteOperation<GuidDoc>[] => {
  const [a, b] = [`~bulk-probe-${tag}-a`, `~bulk-probe-${tag}-b`]
  return [
    { updateOne: { filter: { _id: a }, update: { $set: { version: 0 } }, upsert: true } },
    { updateOne: { filter: { _id: a, version: { $lt: 0 } }, update: { $set: { version: 0 } }, upsert: true } },
    { updateOne: { filter: { _id: b }, update: { $set: { version: 0 } }, upsert: true } },
  ]
}

/** Whether the probe's reply is the faithful one: every op accounted for, the collision at its own index. */
export const bulkProbeFaithful = (verdicts: readonly OpVerdict[] | 'unaccounted'): boolean =>
  Array.isArray(verdicts) && verdicts.length === 3 && verdicts[0] === 'applied' && verdicts[1] === 'duplicate' && verdicts[2] === 'applied'

/** The server already has an index on the key, of another name or kind (IndexOptionsConflict, IndexKeySpecsConflict). */
export const isIndexConflict = (error: unknown): boolean => {
  const code = codeOf(error)
  return code === 85 || code === 86
}
