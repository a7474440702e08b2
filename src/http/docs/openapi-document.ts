import { filterPaths, registerSchemaPath } from '@elysiajs/swagger/utils'
import { GuidRecord } from '../../guid/model'
import type { RoutePolicy } from '../guard'
import { addProblems, ProblemSchema, responseHeaders } from '../openapi'

/** A route as Elysia lists it (`app.routes`). */
export interface RouteEntry {
  method: string
  path: string
  hooks: { detail?: { hide?: boolean } & Record<string, unknown> } & Record<string, unknown>
}

export interface DocumentOptions {
  version: string
  /** Whether bearer keys are configured: guarded operations then require the scheme. */
  authRequired: boolean
  /** Each route's guard policy, by `METHOD /pattern` (as observe registered it). */
  policyOf: (method: string, route: string) => RoutePolicy | undefined
  maxHeaderBytes: number
  timeoutMs: number
}

const SECURITY_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  description:
    'An API key from API_KEYS / API_KEYS_FILE, sent as `Authorization: Bearer <key>`. Needed by the /guid routes when the service has keys configured (and by /metrics and /docs when AUTH_OPS_ENDPOINTS is true); /healthz and /readyz never need one.',
}

const rateLimitHeaders = {
  'Retry-After': responseHeaders.retryAfter,
  'RateLimit-Limit': { description: 'The bucket size (requests a client may make at once).', schema: { type: 'string', example: '100' } },
  'RateLimit-Remaining': { description: 'Requests left now: 0.', schema: { type: 'string', example: '0' } },
  'RateLimit-Reset': { description: 'Seconds until a request is allowed again.', schema: { type: 'string', example: '1' } },
  'RateLimit-Policy': { description: 'Bucket size and refill window in seconds.', schema: { type: 'string', example: '100;w=10' } },
}

type Operation = { responses?: Record<string, unknown>; security?: unknown[] }

/** The responses a route's guard may give, whatever its handler does, added to its operation. */
const addGuardResponses = (operation: Operation, policy: RoutePolicy, options: DocumentOptions): void => {
  const responses = (operation.responses ??= {})
  if (policy.auth) {
    addProblems(responses, [['unauthorized', 'Send a key: Authorization: Bearer <key>.']], {
      'WWW-Authenticate': { description: 'The bearer challenge: `Bearer realm="guidd"`, with `error="invalid_token"` for a wrong key.', schema: { type: 'string' } },
    })
    if (options.authRequired) operation.security = [{ bearerAuth: [] }]
  }
  if (policy.limit) addProblems(responses, [['rate-limited', 'Too many requests from this client; retry in 1 s.']], rateLimitHeaders)
  if (options.maxHeaderBytes > 0) addProblems(responses, [['header-too-large', `The request headers exceed ${options.maxHeaderBytes} bytes.`]])
  if (options.timeoutMs > 0)
    addProblems(responses, [['timeout', `The request took longer than ${options.timeoutMs} ms; a write may still have been applied: read the GUID before retrying.`]], {
      'Retry-After': responseHeaders.retryAfter,
    })
}

/**
 * The OpenAPI 3 document of the app's routes, from each route's `detail` (built from the same
 * TypeBox schemas that validate), through @elysiajs/swagger's own path registration, plus
 * what the guard adds: the bearer scheme and the 401 / 429 / 431 / 503 responses.
 */
export const openApiDocument = (routes: readonly RouteEntry[], options: DocumentOptions): object => {
  const paths: Record<string, Record<string, Operation>> = {}
  for (const route of routes) {
    if (route.hooks?.detail === undefined || route.hooks.detail.hide === true) continue
    registerSchemaPath({ schema: paths as never, path: route.path, method: route.method as never, hook: route.hooks as never, models: {} })
    const policy = options.policyOf(route.method, route.path)
    const openApiPath = route.path.replace(/:([A-Za-z_]+)/g, '{$1}')
    const operation = paths[openApiPath]?.[route.method.toLowerCase()]
    if (policy !== undefined && operation !== undefined) addGuardResponses(operation, policy, options)
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'guidd',
      version: options.version,
      description:
        'GUID metadata service: create, read, update and delete GUIDs with their user and expiry. Errors are RFC 9457 problem details (`application/problem+json`) with a stable `type` per kind.',
    },
    tags: [
      { name: 'guid', description: 'The GUID resource' },
      { name: 'ops', description: 'Health, readiness, metrics' },
    ],
    paths: filterPaths(paths, { excludeStaticFile: true, exclude: [] }),
    components: {
      securitySchemes: { bearerAuth: SECURITY_SCHEME },
      schemas: { Problem: ProblemSchema, GuidRecord },
    },
  }
}
