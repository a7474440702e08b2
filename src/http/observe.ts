import type { Metrics } from '../ops/metrics'
import { problemResponse } from './respond'
import { requestIdOf } from './request-id'

/** What a route handler gets: plain values, no Elysia context. */
export interface Call {
  request: Request
  params: Record<string, string>
  requestId: string
  /** The route pattern, e.g. `/guid/:guid` (also the metrics label). */
  route: string
}

export type Handler = (call: Call) => Response | Promise<Response>

export interface ObserveOptions {
  metrics: Metrics
  /** Errors that are not AppErrors (becoming opaque 500s) are reported here with the request id. */
  onUnexpected: (error: unknown, call: Call) => void
}

/**
 * Wraps a route handler with what every response of the API needs: an X-Request-Id
 * (echoed or generated) known to the handler, so it is set when the response is built;
 * problem+json for whatever the handler throws; the request metrics. Synchronous
 * results stay synchronous: a hot GET never allocates a promise here.
 */
export const observer = ({ metrics, onUnexpected }: ObserveOptions) => {
  return (method: string, route: string, handler: Handler) => {
    const stats = metrics.http.forRoute(method, route)
    return ({ request, params }: { request: Request; params?: Record<string, string> }): Response | Promise<Response> => {
      const started = performance.now()
      const call: Call = { request, params: params ?? {}, requestId: requestIdOf(request), route }
      const finish = (response: Response): Response => {
        stats.observe(response.status, (performance.now() - started) / 1000)
        return response
      }
      const fail = (error: unknown): Response => {
        const response = problemResponse(error, new URL(request.url).pathname, call.requestId)
        if (response.status === 500) onUnexpected(error, call)
        return finish(response)
      }
      try {
        const result = handler(call)
        return result instanceof Promise ? result.then(finish, fail) : finish(result)
      } catch (error) {
        return fail(error)
      }
    }
  }
}

export type Observe = ReturnType<typeof observer>
