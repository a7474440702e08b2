import type { Change } from '../domain/change'
import { ServiceError } from '../domain/errors'

/** A change with its position in the feed. */
export interface LoggedChange extends Change {
  /** Opaque, ordered position; the adapter that wrote it defines the form. */
  id: string
}

export interface FeedPage {
  events: LoggedChange[]
  /**
   * Where the next read starts: the position of the last event read, or `after` itself when
   * none was. Filtered reads move it past events they skipped, so a resume does not scan them again.
   */
  next: string
}

/** Which events a consumer wants: one GUID, one user, or (both unset) all. */
export interface FeedFilter {
  guid?: string
  user?: string
}

/**
 * The change log a mode keeps beside its writes (embedded: a SQLite table written in the same
 * transaction; Redis: a stream appended by the write's own script; MongoDB-only: a collection
 * fed from each GUID document's outbox). docs/feed.md has the design.
 */
export interface EventLog {
  /** The position of the newest event (or of the log's start when it holds none): where a consumer wanting only new events starts. */
  head(): Promise<string>
  /** The position just before the oldest event still kept: where a consumer wanting everything kept starts. */
  first(): Promise<string>
  /**
   * Up to `limit` events after `after`, in feed order. Throws invalid for a position this log
   * never hands out, and `gone` for one older than what it keeps (events after it may be gone).
   */
  read(after: string, limit: number): Promise<FeedPage>
  /**
   * The same position in this log's current form (embedded: a restored store's parent log's
   * position becomes its own), so a resumed consumer carries on with positions that stay valid;
   * unchanged where positions have one form.
   */
  normalise?(position: string): string
  /**
   * Positions are only partially ordered (Redis Cluster: one stream id per partition, and two
   * instances may interleave the partitions differently): the hub serves a cursor from memory
   * only when it is one of the positions it handed out, else from the log.
   */
  readonly partial?: boolean
  /** Orders two valid positions (negative, 0, positive); with `partial`, a linear extension of their order. */
  compare(a: string, b: string): number
  /**
   * Delivers every event after `from` as it is appended, in order, until stopped: one follower
   * per instance, whatever the number of consumers (FeedHub).
   */
  follow(from: string, deliver: (events: LoggedChange[]) => void): { stop(): Promise<void> }
  /** Makes every acknowledged write's changes readable (MongoDB-only: one sequencer round); a page read runs it first, so it reads its writes. */
  catchUp?(): Promise<void>
  /** Drops events older than EVENTS_RETENTION_SECONDS; returns how many went. Run periodically. */
  trim(): Promise<number>
}

/** The consumer's position is older than the retention: it must list again and reconnect. */
export const feedGone = (position: string, retentionSeconds: number): ServiceError =>
  new ServiceError('position-gone', `Position ${position} is older than the feed keeps (${retentionSeconds} s): list the GUIDs again, then follow from the feed's head.`)

/** A position the log never handed out. */
export const badPosition = (position: string): ServiceError =>
  new ServiceError('validation', `${JSON.stringify(position.slice(0, 64))} is not a position of this feed`, { errors: [{ path: 'after', message: 'not a position of this feed' }] })

export const matches = (filter: FeedFilter, c: Change): boolean => (filter.guid === undefined || c.guid === filter.guid) && (filter.user === undefined || c.user === filter.user)
