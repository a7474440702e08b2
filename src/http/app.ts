import { Elysia } from 'elysia'
import type { ApiKeys } from './api-keys'
import { AppError, isKnownError } from './problems'
import type { GuidService } from '../data/guid-service'
import type { ClientAddress } from './client-address'
import type { Cors } from './cors'
import type { Deadlines } from './deadlines'
import { openApiDocument } from './docs/openapi-document'
import { docsRoutes } from './docs-routes'
import { Guard } from './guard'
import { type EventsRouteOptions, eventsRoutes } from './events-routes'
import { guidRoutes } from './guid-routes'
import { observer } from './observe'
import { opsRoutes } from './ops-routes'
import type { RateLimiter } from './rate-limit'
import { empty, problemResponse, type Reply } from './respond'
import { requestIdOf } from './request-id'
import { pathOf } from './path'
import { labelOf, RouteTable } from './routes'
import type { Logger } from '../ops/logger'
import type { Metrics } from '../ops/metrics'
import type { Readiness } from '../ops/readiness'
import { requestLog } from '../ops/request-log'

export interface AppDeps {
  service: GuidService
  metrics: Metrics
  readiness: Readiness
  logger: Logger
  version?: string
  /** Bearer keys; undefined when none is configured (the API is open). */
  keys?: ApiKeys
  /** true: /metrics and /docs need a key too. */
  authOpsEndpoints?: boolean
  /** Per-client rate limit for /guid routes; undefined = none. */
  limiter?: RateLimiter
  /** Per-request deadline; undefined = none. */
  deadlines?: Deadlines
  /** CORS; undefined = off. */
  cors?: Cors
  /** Most request header bytes (431 above); 0 or undefined = Bun's own limit only. */
  maxHeaderBytes?: number
  /** The client's address (main.ts asks the socket); for the rate limit and the request log. */
  clientAddress?: ClientAddress
  /** Share of 2xx request log lines written (LOG_SAMPLE_2XX); 1 or undefined = every line. */
  logSample2xx?: number
  /** The change feed (GET /events); absent: no such route. */
  feed?: EventsRouteOptions
}

export interface App {
  /** Answers one request in-process: what tests call. */
  handle(request: Request): Promise<Response>
  /** The Elysia instance; main.ts listens with it. */
  readonly elysia: Elysia<any, any, any, any, any, any, any>
  /** The handlers Bun.serve's router calls, by path and method (what `npm run bench:floors` times). */
  readonly routes: NativeRoutes
}

/** A path's handlers by method, as Bun.serve's `routes` takes them. */
export type NativeRoutes = Record<string, Record<string, (request: Request & { params?: Record<string, string> }) => Response | Promise<Response>>>

/**
 * Builds the HTTP app; no I/O of its own. Route handlers are wrapped by `observe` (request
 * id, guard, problem+json, deadline, metrics, request log); what never reaches a handler
 * (unknown path, wrong method, unparsable request, CORS preflight) is answered by onError in
 * the same shape.
 */
export const createApp = (deps: AppDeps): App => {
  const { metrics, logger, keys, cors } = deps
  const observe = observer({
    metrics,
    guard: new Guard({ keys, limiter: deps.limiter, maxHeaderBytes: deps.maxHeaderBytes ?? 0, metrics: metrics.guards }),
    deadlines: deps.deadlines,
    cors,
    log: requestLog(logger, { sample2xx: deps.logSample2xx }),
    clientAddress: deps.clientAddress ?? (() => undefined),
    onUnexpected: (error, call) => logger.error({ err: error, requestId: call.requestId, method: call.request.method, route: call.route }, 'request failed'),
  })
  const opsPolicy = { auth: deps.authOpsEndpoints === true, limit: false }
  const document = () =>
    openApiDocument(table, {
      version: deps.version ?? '0.1.0',
      authRequired: keys !== undefined,
      rateLimited: deps.limiter !== undefined,
      cors: cors !== undefined,
      maxHeaderBytes: deps.maxHeaderBytes ?? 0,
      timeoutMs: deps.deadlines?.timeoutMs ?? 0,
    })
  const table = new RouteTable([
    ...guidRoutes(deps.service),
    ...(deps.feed === undefined ? [] : eventsRoutes(deps.feed)),
    ...opsRoutes(deps.readiness, metrics, opsPolicy),
    ...docsRoutes(opsPolicy, document),
  ])

  /**
   * The routes as Bun.serve's own router serves them: each path and method straight to its
   * observed handler. Elysia (listen) maps its routes to Bun's router too, but wraps each in
   * its context (an object, a `set` with a headers object, its response mapping) that these
   * handlers never read; Elysia merges these over its own, so the server skips that layer,
   * ~1 us a request (bench/run.ts, CPU us/req). Requests no route takes (unknown paths, other
   * methods, the docs' wildcard) still reach Elysia and onError; app.handle (the tests) runs
   * the same observed handlers through Elysia.
   */
  const native: NativeRoutes = {}
  const elysia: Elysia<any, any, any, any, any, any, any> = new Elysia({ name: 'guidd', serve: { routes: native } }).onError(({ code, error, request }) => {
    const path = pathOf(request.url)
    const reply: Reply = { requestId: requestIdOf(request), bytes: 0 }
    const route = table.routeOf(path)
    let problem: unknown = error
    if (code === 'NOT_FOUND') {
      const allow = table.allowedMethods(path)
      if (allow !== undefined && cors !== undefined && request.method === 'OPTIONS') {
        const response = empty(204, reply, cors.preflight(request, allow))
        metrics.observeRequest(request.method, route, 204, 0)
        return observe.unrouted(request, reply, response, route)
      }
      problem = allow
        ? new AppError('method-not-allowed', `${request.method} is not allowed on ${path}; use ${allow}.`, { headers: { allow } })
        : new AppError('route-not-found', `No route ${path}; see /docs.`)
    } else if (code === 'PARSE') {
      problem = new AppError('malformed-json', 'The body could not be parsed.')
    } else if (!isKnownError(error)) {
      logger.error({ err: error, requestId: reply.requestId, method: request.method, path }, 'request failed outside a handler')
    }
    const response = problemResponse(problem, path, reply)
    metrics.observeRequest(request.method, route, response.status, 0)
    return observe.unrouted(request, reply, response, route)
  })
  // (Elysia's route() types a handler by the schema it would validate; guidd validates itself.)
  for (const route of table.routes) {
    const handler = observe(route.method, labelOf(route), route.handle, route.policy)
    elysia.route(route.method, route.path, handler as never)
    if (!route.path.endsWith('*')) (native[route.path] ??= {})[route.method] = (request) => handler({ request, params: request.params })
  }

  return { handle: (request) => elysia.handle(request), elysia, routes: native }
}
