import { type Static, Type } from '@sinclair/typebox'
import { type Change, ChangeType, Guid, GuidRecord, type Stored, type StoredRecord, type Tombstone, toPublic } from './model'

export type { Change }

/** A change with its place in the feed: what GET /events answers. */
export const FeedEvent = Type.Object(
  {
    id: Type.String({ description: 'The opaque, ordered position of this event: resume after it with Last-Event-ID or ?after=.' }),
    type: ChangeType,
    guid: Guid,
    version: Type.Integer({ minimum: 1, description: "The version the change produced: the ETag's value for created and updated." }),
    record: Type.Optional(GuidRecord),
  },
  { additionalProperties: false },
)
export type FeedEvent = Static<typeof FeedEvent>

/** What a change's `data:` line carries (the id travels in the SSE `id:` field). */
export const changeData = (c: Change): Omit<FeedEvent, 'id'> =>
  c.record === undefined ? { type: c.type, guid: c.guid, version: c.version } : { type: c.type, guid: c.guid, version: c.version, record: toPublic(c.record) }

const isRecord = (s: Stored | null): s is StoredRecord => s !== null && !('deleted' in s)

/** The `expired` change of a record whose expire has passed, at the tombstone version that follows it. */
export const expiryOf = (expired: StoredRecord): Change => ({ type: 'expired', guid: expired.guid, version: expired.version + 1, user: expired.user })

/**
 * The changes a write records, in order: from what was stored before (`prev`, exactly the
 * state the write's compare-and-set checked) to `next`. A write over a record whose expire has
 * passed first records that expiry, if nothing has yet (its state is still the record): the
 * expiry then happens exactly once, by whichever write or expiry sweep gets there first.
 */
export const changesOf = (prev: Stored | null, next: Stored, nowSec: number): Change[] => {
  const changes: Change[] = []
  const prevLive = isRecord(prev) && prev.expire > nowSec
  if (isRecord(prev) && !prevLive) changes.push(expiryOf(prev))
  if ('deleted' in next) {
    if (prevLive) changes.push({ type: 'deleted', guid: next.guid, version: next.version, user: prev.user })
  } else changes.push({ type: prevLive ? 'updated' : 'created', guid: next.guid, version: next.version, user: next.user, record: next })
  return changes
}

/** An expiry sweep's write: the tombstone that replaces a record whose expire has passed (nothing when it has not, or is gone). */
export const expiryTombstone = (stored: Stored | null, nowSec: number, tombstoneTtlSeconds: number): Tombstone | undefined =>
  isRecord(stored) && stored.expire <= nowSec ? { guid: stored.guid, version: stored.version + 1, expire: nowSec + tombstoneTtlSeconds, deleted: true } : undefined
