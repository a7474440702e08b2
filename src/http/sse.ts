import { type Change, changeData } from '../domain/change'
import type { FeedFilter, FeedPage, LoggedChange } from '../data/feed'
import type { FeedHub } from '../data/feed-hub'

export interface SseTiming {
  /** A comment line this often when nothing else was sent (proxies and clients see the stream is alive). */
  heartbeatMs: number
  /** What the `retry:` field asks of EventSource: how long to wait before reconnecting. */
  retryMs: number
  /** A consumer that takes nothing sent to it for this long while events wait is disconnected (it resumes from its last id). */
  stallMs: number
  /** How long after a write streams wake (FeedHub): writes of that window go out together, one socket write per stream. */
  coalesceMs: number
}

export const DEFAULT_SSE_TIMING: SseTiming = { heartbeatMs: 15_000, retryMs: 1_000, stallMs: 30_000, coalesceMs: 20 }

/** Events per chunk written to a stream. */
const PAGE = 256

const encoder = new TextEncoder()

/** One event in the SSE wire format: its position as `id:`, its JSON as `data:` (every event is a `message`; `type` is in the data). */
export const sseEvent = (event: LoggedChange): string => `id: ${event.id}\ndata: ${JSON.stringify(changeData(event as Change))}\n\n`

/**
 * Each event's bytes, made once however many streams send it (the hub hands every stream the
 * same event objects): with 100 subscribers, encoding per stream tripled a write's CPU.
 */
const encoded = new WeakMap<LoggedChange, Uint8Array>()
const bytesOf = (event: LoggedChange): Uint8Array => {
  let bytes = encoded.get(event)
  if (bytes === undefined) {
    bytes = encoder.encode(sseEvent(event))
    encoded.set(event, bytes)
  }
  return bytes
}

export interface SseStreamOptions {
  hub: FeedHub
  filter: FeedFilter
  /** Position the stream starts after. */
  cursor: string
  /** The first page, already read (the request's 410 and 400 were decided on it). */
  first: FeedPage
  timing: SseTiming
  /** Called once when the stream ends, however it ends. */
  onClose: () => void
}

/**
 * A Server-Sent Events body that reads the feed only when the connection takes data (a pull
 * stream: Bun asks for the next chunk once the last one is on its way), so a slow consumer
 * costs no memory here; one that takes nothing for `stallMs` while events wait is cut off
 * (EventSource reconnects with Last-Event-ID and resumes). A position that falls out of the
 * retention while streaming ends the stream; the reconnect then gets 410.
 */
export const sseStream = (options: SseStreamOptions): ReadableStream<Uint8Array> => {
  const { hub, filter, timing } = options
  let cursor = options.cursor
  let pending: FeedPage | undefined = options.first
  let closed = false
  let stall: ReturnType<typeof setTimeout> | undefined
  const finish = () => {
    if (closed) return
    closed = true
    clearTimeout(stall)
    options.onClose()
  }
  const armStall = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    stall = setTimeout(() => {
      finish()
      controller.error(new Error('event stream consumer stalled'))
    }, timing.stallMs)
  }
  const send = (controller: ReadableStreamDefaultController<Uint8Array>, text: string) => {
    controller.enqueue(encoder.encode(text))
    armStall(controller)
  }
  /**
   * A page as one chunk (Bun writes each chunk to the socket on its own: one per event cost a
   * system call each) of the events' shared bytes; when a filter skipped events after the last
   * one sent, an `id:` alone moves the client's resume point past them.
   */
  const sendPage = (controller: ReadableStreamDefaultController<Uint8Array>, page: FeedPage) => {
    const parts = page.events.map(bytesOf)
    if (page.events.at(-1)?.id !== page.next) parts.push(encoder.encode(`id: ${page.next}\n\n`))
    controller.enqueue(parts.length === 1 ? parts[0]! : Buffer.concat(parts))
    armStall(controller)
  }
  return new ReadableStream<Uint8Array>({
    start(controller) {
      // The `id:` sets EventSource's resume point before any event: a reconnect resumes here.
      send(controller, `retry: ${timing.retryMs}\nid: ${cursor}\n\n`)
    },
    async pull(controller) {
      clearTimeout(stall)
      try {
        while (!closed && !hub.stopped) {
          const page = pending ?? (await hub.read(cursor, PAGE, filter))
          pending = undefined
          if (page.events.length > 0 || page.next !== cursor) {
            cursor = page.next
            return sendPage(controller, page)
          }
          if (!(await hub.waitForEvents(timing.heartbeatMs)) && !closed) return send(controller, ': heartbeat\n\n')
        }
        // The instance is shutting down: end the stream; the client reconnects (elsewhere) and resumes.
        if (!closed) {
          finish()
          controller.close()
        }
      } catch (error) {
        finish()
        controller.error(error)
      }
    },
    cancel() {
      finish()
    },
  })
}
