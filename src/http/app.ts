import type { Server } from 'bun'
import { Elysia } from 'elysia'
import type { ApiKeys } from './api-keys'
import { AppError, isKnownError } from './problems'
import type { GuidService } from '../data/guid-service'
import type { RateLimit } from '../data/rate-limit'
import type { ListingService } from '../data/listing-service'
import type { IdempotencyStore } from '../data/idempotency'
import type { Clock } from '../domain/clock'
import type { ClientAddress } from './client-address'
import type { Cors } from './cors'
import type { Deadlines } from './deadlines'
import type { IdleHold } from './idle-hold'
import { openApiDocument } from './docs/openapi-document'
import { docsRoutes } from './docs-routes'
import { Guard } from './guard'
import { type EventsRouteOptions, eventsRoutes } from './events-routes'
import { guidRoutes } from './guid-routes'
import { listRoute } from './list-route'
import { observer } from './observe'
import { opsRoutes } from './ops-routes'
import { empty, problemResponse, type Reply } from './respond'
import { newRequestId, requestIdOf } from './request-id'
import { pathOf } from './path'
import { labelOf, RouteTable } from './routes'
import type { Logger } from '../ops/logger'
import type { Metrics } from '../ops/metrics'
import type { Readiness } from '../ops/readiness'
import { requestLog } from '../ops/request-log'

export interface AppDeps {
  service: GuidService
  /** GET /guid?user=: one user's GUIDs, page by page. */
  listing: ListingService
  /** Where Idempotency-Key answers are kept, and for how long. */
  idempotency: { store: IdempotencyStore; ttlSeconds: number; clock: Clock }
  metrics: Metrics
  readiness: Readiness
  logger: Logger
  /** The package's version, for the OpenAPI document. */
  version: string
  /** Bearer keys; undefined when none is configured (the API is open). */
  keys?: ApiKeys
  /** true: /metrics and /docs need a key too. */
  authOpsEndpoints?: boolean
  /** Per-client rate limit for /guid routes; undefined = none. */
  limiter?: RateLimit
  /** Per-request deadline; undefined = none. */
  deadlines?: Deadlines
  /** Keeps a connection open while its request is worked on, up to its deadline (idle-hold.ts); undefined = the idle timeout alone. */
  idle?: IdleHold
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
  /**
   * Answers one request: the function the listening server calls for every request (Elysia's
   * compiled fetch), so an in-process test runs exactly what production runs.
   */
  handle(request: Request): Response | Promise<Response>
  /** Starts serving on a socket (main.ts); the server's own failures are answered here too. */
  listen(options: ListenOptions): Server<unknown>
}

export interface ListenOptions {
  port: number
  hostname: string
  /** A connection silent this long (a stalled client, a slow-loris) is closed. */
  idleTimeoutSeconds: number
}

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
    idle: deps.idle,
    cors,
    log: requestLog(logger, { sample2xx: deps.logSample2xx }),
    clientAddress: deps.clientAddress ?? (() => undefined),
    onUnexpected: (error, call) => logger.error({ err: error, requestId: call.requestId, method: call.request.method, route: call.route }, 'request failed'),
  })
  const opsPolicy = { auth: deps.authOpsEndpoints === true, limit: false }
  const document = () =>
    openApiDocument(table, {
      version: deps.version,
      authRequired: keys !== undefined,
      rateLimited: deps.limiter !== undefined,
      cors: cors !== undefined,
      maxHeaderBytes: deps.maxHeaderBytes ?? 0,
      timeoutMs: deps.deadlines?.timeoutMs ?? 0,
    })
  const table = new RouteTable([
    listRoute(deps.listing),
    ...guidRoutes(deps.service, { ...deps.idempotency, keys, replayed: () => metrics.idempotentReplaysTotal.inc() }),
    ...(deps.feed === undefined ? [] : eventsRoutes(deps.feed)),
    ...opsRoutes(deps.readiness, metrics, opsPolicy),
    ...docsRoutes(opsPolicy, document),
  ])

  /**
   * One dispatch for every request: Elysia's compiled fetch (its router, then the observed
   * handler). `systemRouter: false` keeps Elysia's listen from also handing each route to Bun's
   * router through a second, per-route entry, so the socket and `handle` (the tests) run the
   * same function. `standardHostname: false`: Elysia otherwise looks for the path from the 12th
   * character of the URL, assuming a host of 4 characters or more (`Host: x` would be misrouted).
   */
  const elysia = new Elysia({ name: 'guidd', systemRouter: false, handler: { standardHostname: false } }).onError(({ code, error, request }) => {
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
  for (const route of table.routes) {
    const handler = observe(route.method, labelOf(route), route.handle, route.policy)
    // Bound, so Elysia reads no source text: it calls a handler async when its text matches
    // `return f(` or `=> f(` (compose.js isAsync), and the observed handler's does, which
    // wrapped every request, a hot GET's too, in an async function and an await (~0.6 us more
    // per hot GET in-process). Sync, Elysia maps the Response, or the Promise the handler
    // returns (which never rejects: observe answers every error).
    elysia.route(route.method, route.path, handler.bind(undefined))
  }

  const listen = (options: ListenOptions): Server<unknown> => {
    elysia.listen({
      port: options.port,
      hostname: options.hostname,
      // No limit of Bun's own: over it Bun answers a bare 413 (no problem, no request id) before the
      // service runs. The service never buffers more than 16 KiB of a body (readJsonBody checks the
      // Content-Length first and stops a chunked body at the limit), and Bun does not buffer a body
      // nobody reads (measured: 200 MB bodies to every route, the server's RSS flat), so every
      // oversized body gets the service's own 413 problem (test/http/openapi.test.ts).
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      idleTimeout: options.idleTimeoutSeconds,
      error: serverError,
    })
    return elysia.server!
  }
  /** What escapes Elysia itself: the same opaque problem as any 500, with an id to quote. */
  const serverError = (error: Error): Response => {
    const requestId = newRequestId()
    logger.error({ err: error, requestId }, 'unhandled server error')
    return problemResponse(error, undefined, { requestId, bytes: 0 })
  }

  // The server calls Elysia's fetch as it stands after listen's compile: read it per request.
  return { handle: (request) => elysia.fetch(request), listen }
}
