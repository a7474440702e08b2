import { FormatRegistry, type Static, Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/** The most `expire` may be: 9999-12-31T23:59:59Z. */
export const MAX_EXPIRE = 253402300799
export const USER_MAX_LENGTH = 256

export const Guid = Type.String({
  pattern: '^[0-9A-F]{32}$',
  description: 'Canonical form: 32 uppercase hexadecimal characters.',
  examples: ['9094E4C980C74043A4B586B420E69DDF'],
})

/** A GUID as a client may write it: any case, plain or 8-4-4-4-12, optionally in braces. */
export const GuidInput = Type.String({
  maxLength: 64,
  description: 'A GUID in any letter case, 32 hex digits or hyphenated 8-4-4-4-12 (optionally in braces); normalised to the canonical form.',
  examples: ['9094e4c9-80c7-4043-a4b5-86b420e69ddf'],
  errorMessage: 'guid must be 32 hexadecimal digits or the hyphenated 8-4-4-4-12 form',
})

// "Characters" are Unicode code points; maxLength counts UTF-16 units (an emoji is two),
// so the schema bounds units loosely and the format checks code points. A lone surrogate
// (an escape such as "\ud800" in the JSON) is not a character: stored, it would come back
// as U+FFFD from SQLite and be refused by Redis's JSON decoder, so it is refused here.
FormatRegistry.Set('user', (value) => {
  if (!value.isWellFormed()) return false
  let n = 0
  for (const _ of value) if (++n > USER_MAX_LENGTH) return false
  return n >= 1
})

export const User = Type.String({
  minLength: 1,
  maxLength: USER_MAX_LENGTH * 2,
  format: 'user',
  description: 'Free text, 1 to 256 characters (Unicode code points), stored as given.',
  examples: ['Cylance, Inc.'],
  errorMessage: `user must be a string of 1 to ${USER_MAX_LENGTH} characters of well-formed Unicode`,
})

export const Expire = Type.Integer({
  minimum: 0,
  maximum: MAX_EXPIRE,
  description: 'Expiry instant in Unix seconds.',
  examples: [4102444800],
})

export const ExpireInput = Type.Union([Type.Integer(), Type.String({ maxLength: 64 })], {
  description: 'Expiry instant: Unix seconds as a JSON integer or a string of digits, or an RFC 3339 date-time with offset. Must be in the future and no later than 9999-12-31T23:59:59Z.',
  examples: [4102444800, '4102444800', '2100-01-01T00:00:00Z'],
  errorMessage: 'expire must be Unix seconds (integer or digit string) or an RFC 3339 date-time',
})

/** The resource as clients see it. */
export const GuidRecord = Type.Object(
  { guid: Guid, user: User, expire: Expire },
  { additionalProperties: false, examples: [{ guid: '9094E4C980C74043A4B586B420E69DDF', user: 'Cylance, Inc.', expire: 4102444800 }] },
)
export type GuidRecord = Static<typeof GuidRecord>

/** The resource as the service keeps it: with its version, which is its ETag. */
export const StoredRecord = Type.Object({ guid: Guid, user: User, expire: Expire, version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false })
export type StoredRecord = Static<typeof StoredRecord>

export const CreateBody = Type.Object(
  { guid: Type.Optional(GuidInput), user: User, expire: Type.Optional(ExpireInput) },
  {
    additionalProperties: false,
    description: 'Creates a GUID; one is generated when `guid` is absent. `expire` defaults to 30 days from now.',
    examples: [{ user: 'Cylance, Inc.' }, { guid: '9094E4C980C74043A4B586B420E69DDF', user: 'Cylance, Inc.', expire: '2100-01-01T00:00:00Z' }],
  },
)
export type CreateBody = Static<typeof CreateBody>

export const UpsertBody = Type.Object(
  { guid: Type.Optional(GuidInput), user: Type.Optional(User), expire: Type.Optional(ExpireInput) },
  {
    additionalProperties: false,
    description: 'Creates the GUID of the path (then `user` is required) or updates it. `guid`, if sent, must equal the path GUID.',
    examples: [{ user: 'Cylance, Inc.', expire: 4102444800 }],
  },
)
export type UpsertBody = Static<typeof UpsertBody>

export const PatchBody = Type.Object(
  { guid: Type.Optional(GuidInput), user: Type.Optional(User), expire: Type.Optional(ExpireInput) },
  {
    additionalProperties: false,
    minProperties: 1,
    description: 'Changes `user`, `expire` or both; at least one of them.',
    examples: [{ user: 'Someone Else' }],
  },
)
export type PatchBody = Static<typeof PatchBody>

/**
 * What remains of a deleted GUID for a while: its last version, so a replayed older write
 * is recognised as older and cannot resurrect the GUID. A re-create does not depend on it:
 * it takes max(known version + 1, creation second * 1e6 + 1) (firstVersion below), above
 * every earlier version even once the tombstone is gone. `expire` is when the tombstone itself goes.
 */
export const Tombstone = Type.Object({ guid: Guid, version: Type.Integer({ minimum: 1 }), expire: Expire, deleted: Type.Literal(true) }, { additionalProperties: false })
export type Tombstone = Static<typeof Tombstone>

/** What a cache tier or store knows of a GUID: the live record, or its tombstone. */
export const Stored = Type.Union([StoredRecord, Tombstone])
export type Stored = Static<typeof Stored>

/** The one compiled check of a stored state: every adapter validates what it reads back with it. */
export const checkStored = TypeCompiler.Compile(Stored)

/** A record (not a tombstone) whose expire has not passed: the only state any answer shows. */
export const isLive = (s: Stored, nowSec: number): s is StoredRecord => !('deleted' in s) && s.expire > nowSec

/**
 * Versions of a new incarnation start at its creation second times this, plus one: above
 * every version of any earlier incarnation of the GUID, so versions (and ETags) never repeat
 * across delete or expiry, even once nothing of the earlier one is left anywhere.
 *
 * Why that holds without synchronised clocks: an incarnation's expire E was in the future
 * when its creator checked (its creation second C < E), and a new one is created only once
 * E has passed on the creating instance (T >= E > C). The earlier incarnation's versions are
 * C * 1e6 + n, below T * 1e6 while it made fewer than a million changes per second of its
 * life (one GUID's changes are serialised by its actor and Redis's compare-and-set, tens of
 * thousands per second at most). 2^53 / 1e6 seconds lasts until the year 2255.
 */
export const INCARNATION_SPAN = 1_000_000

export const firstVersion = (nowSec: number, knownVersion: number): number => Math.max(knownVersion + 1, nowSec * INCARNATION_SPAN + 1)

// The change feed (GET /events): what a write records beside itself; domain/change.ts derives it.
/** What happened to a GUID, as the change feed (GET /events) tells it. */
export const ChangeType = Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted'), Type.Literal('expired')], {
  description: '`created` (also a create over an expired or deleted GUID), `updated`, `deleted`, `expired` (reported once, within seconds after `expire`).',
})
export type ChangeType = Static<typeof ChangeType>

/**
 * One change as a write records it, beside the write itself and atomically with it (so the feed
 * never tells a state reads will not see). `user` is kept for the `?user=` filter, also for
 * deleted and expired, whose own state (a tombstone) has none.
 */
export interface Change {
  type: ChangeType
  guid: string
  /** The version the change produced: the new ETag for created and updated; for deleted and expired, the tombstone's (above every version the record had). */
  version: number
  user: string
  /** The record for created and updated. */
  record?: StoredRecord
}

/**
 * A change to one GUID, as the journal and the durable stores see it: the state it leaves
 * (a record, or a tombstone for a delete) and the version it was computed from (0: none),
 * which a compare-and-set journal checks.
 */
export interface Mutation {
  next: Stored
  prevVersion: number
  /** What the change feed records with this write, atomically with it ; none for writes the feed does not tell. */
  changes?: Change[]
  /** An Idempotency-Key answer to keep with the write, where the journal can (data/idempotency.ts). */
  keep?: { id: string; fingerprint: string; answer: string; expire: number }
  /**
   * Where the answer is kept after the write (MongoDB-only): the Idempotency-Key claim's token,
   * which the write leaves in the GUID's state atomically with itself, so a retry that takes the
   * claim over learns whether this write landed (data/idempotency.ts).
   */
  trace?: string
}

export const toPublic = (r: StoredRecord): GuidRecord => ({ guid: r.guid, user: r.user, expire: r.expire })
