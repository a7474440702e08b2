import { swagger } from '@elysiajs/swagger'
import { Elysia } from 'elysia'
import { AppError } from './errors'
import type { GuidService } from './guid/service'
import { guidRoutes } from './http/guid-routes'
import { observer } from './http/observe'
import { opsRoutes } from './http/ops-routes'
import { problemResponse } from './http/respond'
import { requestIdOf } from './http/request-id'
import { allowedMethods, pathOf, routeOf } from './http/routes'
import type { Logger } from './ops/logger'
import type { Metrics } from './ops/metrics'
import type { Readiness } from './ops/readiness'

export interface AppDeps {
  service: GuidService
  metrics: Metrics
  readiness: Readiness
  logger: Logger
  version?: string
}

export interface App {
  /** Answers one request in-process: what tests call. */
  handle(request: Request): Promise<Response>
  /** The Elysia instance; main.ts listens with it. */
  readonly elysia: Elysia<any, any, any, any, any, any, any>
}

/** /docs (Swagger UI) and /docs/json (OpenAPI 3), with the request id every response carries. */
const docsPlugin = (version: string, metrics: Metrics) =>
  new Elysia({ name: 'docs' })
    .onAfterHandle(({ request, set }) => {
      set.headers['x-request-id'] = requestIdOf(request)
      metrics.observeRequest(request.method, routeOf(pathOf(request.url)), Number(set.status ?? 200), 0)
    })
    .use(
      swagger({
        path: '/docs',
        exclude: ['/docs', '/docs/json'],
        documentation: {
          info: {
            title: 'guidd',
            version,
            description: 'GUID metadata service: create, read, update and delete GUIDs with their user and expiry. Errors are RFC 9457 problem details (`application/problem+json`) with a stable `type` per kind.',
          },
          tags: [
            { name: 'guid', description: 'The GUID resource' },
            { name: 'ops', description: 'Health, readiness, metrics' },
          ],
        },
      }),
    )

/**
 * Builds the HTTP app; no I/O of its own. Route handlers are wrapped by `observe` (request
 * id, problem+json, metrics); what never reaches a handler (unknown path, wrong method,
 * unparsable request) is answered by onError in the same shape.
 */
export const createApp = (deps: AppDeps): App => {
  const { metrics, logger } = deps
  const observe = observer({
    metrics,
    onUnexpected: (error, call) => logger.error({ err: error, requestId: call.requestId, method: call.request.method, route: call.route }, 'request failed'),
  })

  const elysia = new Elysia({ name: 'guidd' })
    .onError(({ code, error, request }) => {
      const path = pathOf(request.url)
      const requestId = requestIdOf(request)
      let problem: unknown = error
      if (code === 'NOT_FOUND') {
        const allow = allowedMethods(path)
        problem = allow
          ? new AppError('method-not-allowed', `${request.method} is not allowed on ${path}; use ${allow}.`, { headers: { allow } })
          : new AppError('route-not-found', `No route ${path}; see /docs.`)
      } else if (code === 'PARSE') {
        problem = new AppError('malformed-json', 'The body could not be parsed.')
      } else if (!(error instanceof AppError)) {
        logger.error({ err: error, requestId, method: request.method, path }, 'request failed outside a handler')
      }
      const response = problemResponse(problem, path, requestId)
      metrics.observeRequest(request.method, routeOf(path), response.status, 0)
      return response
    })
    .use(docsPlugin(deps.version ?? '0.1.0', metrics))
    .use(opsRoutes(deps.readiness, metrics, observe))
    .use(guidRoutes(deps.service, observe))

  return { handle: (request) => elysia.handle(request), elysia }
}
