import { ServiceError } from '../domain/errors'
import { type FeedEvent, changeData } from '../domain/change'
import { USER_MAX_LENGTH } from '../domain/model'
import { normaliseGuid } from '../domain/normalise'
import type { FeedFilter, LoggedChange } from '../data/feed'
import type { FeedHub } from '../data/feed-hub'
import type { RoutePolicy } from './guard'
import { NOSNIFF } from './headers'
import { docs } from './openapi'
import { json } from './respond'
import type { Route } from './routes'
import { type SseTiming, sseStream } from './sse'

export interface EventsRouteOptions {
  hub: FeedHub
  timing: SseTiming
  /** Takes the stream's connection out of IDLE_TIMEOUT_SECONDS (main.ts: Bun's `server.timeout(request, 0)`). */
  exemptFromIdleTimeout?: (request: Request) => void
}

/** The feed is read with the same key and rate limit as the /guid routes. */
const GUARDED: RoutePolicy = { auth: true, limit: true }

const DEFAULT_LIMIT = 100
const MAX_LIMIT = 1_000
const QUERY = new Set(['after', 'guid', 'user', 'limit'])

const invalidParameter = (name: string, message: string): ServiceError => new ServiceError('validation', message, { errors: [{ path: name, message }] })

const filterOf = (query: URLSearchParams): FeedFilter => {
  const filter: FeedFilter = {}
  const guid = query.get('guid')
  if (guid !== null) filter.guid = normaliseGuid(guid, 'guid')
  const user = query.get('user')
  if (user !== null) {
    const length = [...user].length
    if (length < 1 || length > USER_MAX_LENGTH || !user.isWellFormed()) throw invalidParameter('user', `user must be 1 to ${USER_MAX_LENGTH} characters`)
    filter.user = user
  }
  return filter
}

const limitOf = (query: URLSearchParams): number => {
  const raw = query.get('limit')
  if (raw === null) return DEFAULT_LIMIT
  if (!/^[0-9]{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LIMIT) throw invalidParameter('limit', `limit must be an integer from 1 to ${MAX_LIMIT}`)
  return Number(raw)
}

/** JSON for batch consumers only when asked for it and not for the stream (EventSource sends `Accept: text/event-stream`). */
const wantsJson = (accept: string | null): boolean => accept?.includes('application/json') === true && !accept.includes('text/event-stream')

const toFeedEvent = (event: LoggedChange): FeedEvent => ({ id: event.id, ...changeData(event) })

/** GET /events: the change feed, as Server-Sent Events or (Accept: application/json) pages. docs/feed.md has the design. */
export const eventsRoutes = ({ hub, timing, exemptFromIdleTimeout }: EventsRouteOptions): Route[] => [
  {
    method: 'GET',
    path: '/events',
    policy: GUARDED,
    operation: docs.events,
    handle: async (call) => {
      const query = new URL(call.request.url).searchParams
      for (const name of query.keys()) if (!QUERY.has(name)) throw invalidParameter(name, `unknown query parameter '${name}'`)
      const filter = filterOf(query)
      const limit = limitOf(query)
      // EventSource resends the URL it was opened with and adds Last-Event-ID: the header is the newer position.
      const given = call.request.headers.get('last-event-id') || query.get('after') || undefined
      const resume = given === undefined ? undefined : (hub.log.normalise?.(given) ?? given)
      if (wantsJson(call.request.headers.get('accept'))) {
        const page = await hub.readLog(resume ?? (await hub.log.first()), limit, filter)
        return json(200, { items: page.events.map(toFeedEvent), next: page.next }, call, { 'cache-control': 'no-store' })
      }
      const headers = {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        'x-content-type-options': NOSNIFF,
        'x-request-id': call.requestId,
      }
      // HEAD (answered by this GET route): the stream's headers, no stream held open for it.
      if (call.request.method === 'HEAD') return new Response(null, { headers })
      hub.acquire()
      let stream: ReadableStream<Uint8Array>
      try {
        const cursor = resume ?? (await hub.log.head())
        // Read before answering: a bad or expired position is a 400 or 410, not a stream that ends.
        const first = await hub.read(cursor, limit, filter)
        stream = sseStream({ hub, filter, cursor, first, timing, onClose: () => hub.release() })
      } catch (error) {
        hub.release()
        throw error
      }
      exemptFromIdleTimeout?.(call.request)
      return new Response(stream, { headers })
    },
  },
]
