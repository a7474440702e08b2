import { isKnownError } from './problems'
import type { Metrics } from '../ops/metrics'
import type { LogRequest } from '../ops/request-log'
import type { ClientAddress } from './client-address'
import type { Cors } from './cors'
import type { Deadlines } from './deadlines'
import type { Guard, RoutePolicy } from './guard'
import type { IdleHold } from './idle-hold'
import { problem, problemResponse, type Reply } from './respond'
import { requestIdOf } from './request-id'
import { pathOf } from './path'

/** What a route handler gets: plain values, no Elysia context. Response builders record `bytes` on it. */
export interface Call extends Reply {
  request: Request
  params: Record<string, string>
  requestId: string
  /** The route pattern, e.g. `/guid/:guid` (also the metrics label). */
  route: string
  /**
   * Called once the request's body is all read: from then on the connection waits for the
   * service, not the client, and is held open until the deadline's answer (idle-hold.ts).
   * Until then IDLE_TIMEOUT_SECONDS still closes a client that stalls mid-body.
   */
  received?: () => void
}

export type Handler = (call: Call) => Response | Promise<Response>

/** No key, no rate limit: /healthz, /readyz. */
export const OPEN: RoutePolicy = { auth: false, limit: false }

export interface ObserveOptions {
  metrics: Metrics
  guard: Guard
  /** Undefined when REQUEST_TIMEOUT_MS is 0. */
  deadlines: Deadlines | undefined
  /** Undefined when CORS is off. */
  cors: Cors | undefined
  /** Undefined when info is not logged. */
  log: LogRequest | undefined
  clientAddress: ClientAddress
  /** Holds a connection open while its request's answer is pending (idle-hold.ts); undefined: the listener's idle timeout alone. */
  idle?: IdleHold | undefined
  /** Errors that are not AppErrors (becoming opaque 500s) are reported here with the request id. */
  onUnexpected: (error: unknown, call: Call) => void
}

interface Observed extends Call {
  readonly started: number
  readonly client: string | undefined
  /** The connection is held open (idle-hold.ts) and must be given back when answered. */
  held?: boolean
  answered?: boolean
}

const TIMEOUT_HEADERS = { 'retry-after': '1' }

/**
 * Wraps a route handler with what every response of the API needs: an X-Request-Id
 * (echoed or generated) known to the handler, so it is set when the response is built;
 * the guard (header size, rate limit, bearer key); problem+json for whatever the handler
 * throws; the deadline (503 timeout); the metrics, CORS headers and the request log line.
 * Everything per route is resolved once here; a synchronous result stays synchronous, so
 * a hot GET allocates no promise and no closure.
 */
export const observer = ({ metrics, guard, deadlines, cors, log, clientAddress, idle, onUnexpected }: ObserveOptions) => {
  const timeoutDetail = deadlines ? `The request took longer than ${deadlines.timeoutMs} ms; a write may still have been applied: read the GUID before retrying.` : ''

  const observe = (method: string, route: string, handler: Handler, policy: RoutePolicy = OPEN) => {
    const stats = metrics.http.forRoute(method, route)
    const needsClient = log !== undefined || guard.needsClient(policy)
    const guarded = guard.active(policy)

    const finish = (call: Observed, response: Response): Response => {
      const seconds = (performance.now() - call.started) / 1000
      stats.observe(response.status, seconds)
      if (cors !== undefined) cors.apply(call.request, response.headers)
      if (log !== undefined) log(call.requestId, method, route, response.status, seconds, call.bytes, call.client)
      return response
    }
    const fail = (call: Observed, error: unknown): Response => {
      const response = problemResponse(error, pathOf(call.request.url), call)
      if (response.status === 500) onUnexpected(error, call)
      return finish(call, response)
    }
    const race = (call: Observed, result: Promise<Response>, timer: Deadlines): Promise<Response> =>
      new Promise<Response>((resolve) => {
        if (idle !== undefined) {
          call.received = () => {
            if (call.held || call.answered) return
            call.held = true
            idle.hold(call.request)
          }
          if (call.request.body === null) call.received()
        }
        const answer = (response: Response) => {
          call.answered = true
          if (call.held) idle?.release(call.request)
          resolve(response)
        }
        const pending = timer.add(() => {
          metrics.guards.timeouts++
          answer(finish(call, problem('timeout', timeoutDetail, pathOf(call.request.url), call, TIMEOUT_HEADERS)))
        })
        result.then(
          (response) => {
            if (timer.settle(pending)) answer(finish(call, response))
          },
          (error) => {
            if (timer.settle(pending)) answer(fail(call, error))
            else if (!isKnownError(error)) onUnexpected(error, call)
          },
        )
      })

    const run = (call: Observed): Response | Promise<Response> => {
      try {
        const result = handler(call)
        if (!(result instanceof Promise)) return finish(call, result)
        return deadlines === undefined
          ? result.then(
              (r) => finish(call, r),
              (e) => fail(call, e),
            )
          : race(call, result, deadlines)
      } catch (error) {
        return fail(call, error)
      }
    }

    return ({ request, params }: { request: Request; params?: Record<string, string> }): Response | Promise<Response> => {
      const call: Observed = {
        request,
        params: params ?? {},
        requestId: requestIdOf(request),
        route,
        bytes: 0,
        started: performance.now(),
        client: needsClient ? clientAddress(request) : undefined,
      }
      if (guarded) {
        const refused = guard.check(request, policy, call, call.client)
        if (refused instanceof Promise) return refused.then((r) => (r === undefined ? run(call) : finish(call, r)))
        if (refused !== undefined) return finish(call, refused)
      }
      return run(call)
    }
  }

  /** For answers given outside any route (unknown path, wrong method, unparsable request): CORS and the request log. */
  const unrouted = (request: Request, reply: Reply, response: Response, route: string): Response => {
    if (cors !== undefined) cors.apply(request, response.headers)
    if (log !== undefined) log(reply.requestId, request.method, route, response.status, 0, reply.bytes, clientAddress(request))
    return response
  }

  return Object.assign(observe, { unrouted })
}

export type Observe = ReturnType<typeof observer>
