import { freshGuid } from './guid-forms'
import type { TagHistory } from './tags'
import { SLACK_MS } from './timing'
import type { Observed, Req } from './wire'

/**
 * The reference model of the service: per GUID, absent or live {user, expire, etag}, and
 * every ETag the GUID has ever been answered with, grouped by incarnation (a create starts
 * one; a delete or an expiry ends it). Nothing here talks to the server.
 */

export interface Live {
  user: string
  /** Unix seconds. */
  expire: number
  /** The ETag header value, quotes included. */
  etag: string
}

export interface GuidModel {
  /** Canonical form. */
  guid: string
  live: Live | null
  /** ETags of the current incarnation, oldest first (the last one is `live.etag` while live). */
  incarnation: string[]
  /** ETags of the incarnations that ended, oldest first. */
  earlier: string[]
}

/** The small pool commands draw from, so they collide; the last slot follows `POST /guid` without a guid. */
export const POOL_SIZE = 4
export const GENERATED_SLOT = POOL_SIZE - 1

export interface Model {
  slots: GuidModel[]
  /** The store's disk is full (the fault is on). */
  diskFull: boolean
  /** The MongoDB-wire server is stopped (the fault is on). */
  storeDown: boolean
  /** /readyz was seen answering 503 during this outage of MongoDB (asked once: it takes seconds then). */
  storeDownOnReadyz: boolean
  /** When the last fault of the store was lifted (ms): an expiry due during it is told after it (test/model/feed.ts). */
  storeBackAt?: number
  /** Requests sent with an Idempotency-Key whose answer is kept: a retry must get it replayed (test/model/keyed.ts). */
  keyed: KeyedSent[]
}

/** A keyed request exactly as sent, and the answer the service must replay for it. */
export interface KeyedSent {
  key: string
  req: Req
  shellPath: string
  answer: Observed
}

const absent = (guid: string): GuidModel => ({ guid, live: null, incarnation: [], earlier: [] })

/** A fresh pool: GUIDs nobody has used, so the model starts from "all absent" on a long-lived server. */
export const emptyModel = (): Model => ({ slots: Array.from({ length: POOL_SIZE }, () => absent(freshGuid())), diskFull: false, storeDown: false, storeDownOnReadyz: false, keyed: [] })

/** Points the generated slot at a GUID the server just generated (its earlier occupant is forgotten). */
export const adoptGenerated = (m: Model, guid: string): GuidModel => {
  const slot = absent(guid)
  m.slots[GENERATED_SLOT] = slot
  return slot
}

/** Every ETag the GUID has had, in every incarnation. */
export const allTags = (g: GuidModel): string[] => [...g.earlier, ...g.incarnation]

/** Ends the current incarnation (deleted, or seen expired). */
export const endIncarnation = (g: GuidModel): void => {
  g.live = null
  g.earlier.push(...g.incarnation)
  g.incarnation = []
}

/** A write was acknowledged: the new state, and its ETag joins the incarnation (a new one when `fresh`). */
export const recordWrite = (g: GuidModel, live: Live, fresh: boolean): void => {
  if (fresh) endIncarnation(g)
  g.live = live
  g.incarnation.push(live.etag)
}

/** Records whose expiry is past beyond doubt at `nowMs` are gone: ends their incarnation. */
export const settle = (m: Model, nowMs: number): void => {
  for (const g of m.slots) if (g.live !== null && nowMs >= g.live.expire * 1000 + SLACK_MS) endIncarnation(g)
}

export const historyOf = (g: GuidModel): TagHistory => ({
  current: g.live?.etag ?? null,
  stale: g.live === null ? g.incarnation : g.incarnation.slice(0, -1),
  earlier: g.earlier,
})

/** The soonest expiry among live records that is not yet past beyond doubt, in ms. */
export const nextBoundaryMs = (m: Model, nowMs: number): number | null => {
  let next: number | null = null
  for (const g of m.slots) {
    if (g.live === null) continue
    const settled = g.live.expire * 1000 + SLACK_MS
    if (settled > nowMs && (next === null || settled < next)) next = settled
  }
  return next
}
