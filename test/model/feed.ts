import type { GuidModel, Model } from './model'
import { SseReader } from '../support/sse'

/** One event as the consumer received it. */
export interface Received {
  id: string
  type: 'created' | 'updated' | 'deleted' | 'expired'
  guid: string
  version: number
  record?: { guid: string; user: string; expire: number }
}

/** How long after its instant an expiry must be in the feed (the contract: 2 s; plus the model's slack). */
const EXPIRY_TOLD_WITHIN_MS = 2_000 + 1_000

/**
 * A consumer of the change feed that lives through the whole run, as an EventSource would:
 * it follows `GET /events`, and whenever the stream breaks (a kill -9 of the service, a fault)
 * it reconnects with Last-Event-ID to wherever the service now listens. At the end of the run
 * its events must be exactly the model's history: every acknowledged write once, in version
 * order, each incarnation ended by one `deleted` or `expired`, nothing else.
 */
export class FeedConsumer {
  readonly events: Received[] = []
  private readonly ids = new Set<string>()
  lastId: string | undefined
  reconnects = 0
  private stopped = false
  private reader: SseReader | undefined
  private loop: Promise<void> | undefined
  private duplicate: string | undefined

  constructor(private readonly base: () => string) {}

  /** Connects at the feed's head and waits for its first frame: everything written from now on is followed. */
  async start(): Promise<void> {
    await this.connect()
    this.loop = this.follow()
  }

  private async connect(): Promise<void> {
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (this.lastId !== undefined) headers['last-event-id'] = this.lastId
    const res = await fetch(`${this.base()}/events`, { headers })
    if (res.status !== 200) throw new Error(`GET /events answered ${res.status} ${await res.text()}`)
    this.reader = new SseReader(res)
    const hello = await this.reader.next(5_000)
    if (hello?.id === undefined) throw new Error('the stream did not start with an id')
    // The position it resumes after, as the service now writes it (a restored store renames its parent's).
    this.lastId = hello.id
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      try {
        for (;;) {
          const frame = await this.reader!.next(60_000)
          if (frame === undefined) break
          if (frame.id !== undefined) this.lastId = frame.id
          if (frame.data === undefined) continue
          if (this.ids.has(frame.id!)) this.duplicate ??= frame.id
          this.ids.add(frame.id!)
          this.events.push({ id: frame.id!, ...JSON.parse(frame.data) })
        }
      } catch {
        // The service died or refused: reconnect below.
      }
      while (!this.stopped) {
        try {
          await this.connect()
          this.reconnects++
          break
        } catch {
          await Bun.sleep(50)
        }
      }
    }
  }

  /** Waits, bounded, until the stream has delivered everything the feed holds now (a page after its last id is empty). */
  async catchUp(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        const res = await fetch(`${this.base()}/events?after=${encodeURIComponent(this.lastId ?? '')}&limit=1`, { headers: { accept: 'application/json' } })
        if (res.status === 200 && ((await res.json()) as { items: unknown[] }).items.length === 0) return
      } catch {
        // restarting: try again
      }
      if (Date.now() > deadline) throw new Error(`the feed consumer did not catch up within ${timeoutMs} ms (last id ${this.lastId})`)
      await Bun.sleep(20)
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.reader?.cancel()
    await this.loop
  }

  /**
   * Compares what was received with the model at `nowMs`: what disagrees (or null), and until
   * when an expiry the model saw may still be on its way (0: none is).
   */
  check(m: Model, nowMs: number): { problem: string | null; pendingUntil: number } {
    if (this.duplicate !== undefined) return { problem: `the feed delivered ${this.duplicate} twice`, pendingUntil: 0 }
    let pendingUntil = 0
    for (const g of m.slots) {
      const received = this.events.filter((e) => e.guid === g.guid)
      const verdict = checkGuid(g, received, nowMs, m.storeBackAt ?? 0)
      if (typeof verdict === 'number') pendingUntil = Math.max(pendingUntil, verdict)
      else if (verdict !== null) {
        const seen = received.map((e) => `${e.type} ${e.version}`).join(', ')
        return {
          problem: `GUID ${g.guid}: ${verdict}\n  received: ${seen}\n  model: earlier ${g.earlier.join(' ')} | current ${g.incarnation.join(' ')} | live ${g.live?.etag ?? 'no'}`,
          pendingUntil: 0,
        }
      }
    }
    return { problem: null, pendingUntil }
  }
}

const tagValue = (etag: string): number => Number(etag.replaceAll('"', ''))

/** What disagrees, null when all agrees, or the instant until which an expiry may still be told. */
const checkGuid = (g: GuidModel, events: Received[], nowMs: number, storeBackAt: number): string | null | number => {
  const writes = events.filter((e) => e.type === 'created' || e.type === 'updated').map((e) => e.version)
  const tags = [...g.earlier, ...g.incarnation].map(tagValue)
  if (writes.join() !== tags.join()) return `the created/updated versions ${writes.join(' ')} are not the acknowledged ETags ${tags.join(' ')}`
  let prev: Received | undefined
  for (const e of events) {
    const ended = prev === undefined || prev.type === 'deleted' || prev.type === 'expired'
    if (e.type === 'created' && !ended) return `created ${e.version} while the incarnation before it had not ended`
    if (e.type === 'updated' && ended) return `updated ${e.version} with no live incarnation`
    if ((e.type === 'deleted' || e.type === 'expired') && (ended || e.version !== prev!.version + 1)) return `${e.type} ${e.version} does not end the incarnation at ${prev?.version}`
    if ((e.type === 'created' || e.type === 'updated') && e.record === undefined) return `${e.type} ${e.version} without its record`
    if (prev !== undefined && e.version <= prev.version) return `version ${e.version} after ${prev.version}`
    prev = e
  }
  // At its expiry instant (within the model's slack) the sweep may already have told it.
  if (g.live !== null && prev?.type === 'expired' && prev.version === tagValue(g.live.etag) + 1 && g.live.expire * 1000 <= nowMs + 1_000) return null
  if (g.live !== null)
    return prev !== undefined && prev.version === tagValue(g.live.etag) && (prev.type === 'created' || prev.type === 'updated') ? null : `the last event is not the live ${g.live.etag}`
  if (prev === undefined || prev.type === 'deleted' || prev.type === 'expired') return null
  // The model saw it end: an expiry, which the feed tells within 2 s of its instant, or of the
  // store's return when it was down or full then (the expiry is a write).
  const deadline = prev.record === undefined ? 0 : Math.max(prev.record.expire * 1000, storeBackAt) + EXPIRY_TOLD_WITHIN_MS
  if (deadline > nowMs) return deadline
  return `its end (expire ${prev.record?.expire}) was not told within ${EXPIRY_TOLD_WITHIN_MS} ms`
}
