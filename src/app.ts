import { swagger } from '@elysiajs/swagger'
import { Elysia } from 'elysia'
import { AppError } from './errors'
import type { GuidService } from './guid/service'
import { guidRoutes } from './http/guid-routes'
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
  /** Answers one request: what Bun.serve calls, and what in-process tests call. */
  handle(request: Request): Promise<Response>
  readonly elysia: Elysia<any, any, any, any, any, any, any>
}

/**
 * Builds the HTTP app; no I/O of its own. Around Elysia it adds what every response
 * needs: the request id, problem+json for every error, the metrics observation.
 */
export const createApp = (deps: AppDeps): App => {
  const { metrics, logger } = deps
  const requestIds = new WeakMap<Request, string>()

  const elysia = new Elysia({ name: 'guidd' })
    .onError(({ code, error, request }) => {
      const path = pathOf(request.url)
      const requestId = requestIds.get(request) ?? requestIdOf(request)
      if (code === 'NOT_FOUND') {
        const allow = allowedMethods(path)
        const problem = allow
          ? new AppError('method-not-allowed', `${request.method} is not allowed on ${path}; use ${allow}.`, { headers: { allow } })
          : new AppError('route-not-found', `No route ${path}; see /docs.`)
        return problemResponse(problem, path, requestId)
      }
      if (code === 'PARSE') return problemResponse(new AppError('malformed-json', 'The body could not be parsed.'), path, requestId)
      if (!(error instanceof AppError)) logger.error({ err: error, requestId, method: request.method, path }, 'request failed')
      return problemResponse(error, path, requestId)
    })
    .use(
      swagger({
        path: '/docs',
        exclude: ['/docs', '/docs/json'],
        documentation: {
          info: {
            title: 'guidd',
            version: deps.version ?? '0.1.0',
            description: 'GUID metadata service: create, read, update and delete GUIDs with their user and expiry. Errors are RFC 9457 problem details.',
          },
          tags: [
            { name: 'guid', description: 'The GUID resource' },
            { name: 'ops', description: 'Health, readiness, metrics' },
          ],
        },
      }),
    )
    .use(opsRoutes(deps.readiness, metrics))
    .use(guidRoutes(deps.service))

  const handle = async (request: Request): Promise<Response> => {
    const started = performance.now()
    const requestId = requestIdOf(request)
    requestIds.set(request, requestId)
    const response = await elysia.handle(request)
    response.headers.set('x-request-id', requestId)
    metrics.observeRequest(request.method, routeOf(pathOf(request.url)), response.status, (performance.now() - started) / 1000)
    return response
  }

  return { handle, elysia }
}
