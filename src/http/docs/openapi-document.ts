import type { RoutePolicy } from '../guard'
import { OPEN } from '../observe'
import type { RouteTable } from '../routes'
import { headers, parameters, responseRef, responses } from './components'
import { schemaComponents } from './schemas'

export interface DocumentOptions {
  version: string
  /** Whether bearer keys are configured: guarded operations then require the scheme. */
  authRequired: boolean
  /** Whether a per-client rate limit is configured (429 on the routes that take it). */
  rateLimited: boolean
  /** Whether CORS is on: OPTIONS is then a preflight (204), else 405 like any other method a path lacks. */
  cors: boolean
  maxHeaderBytes: number
  timeoutMs: number
}

type Json = Record<string, any>
type Operation = Json & { responses: Record<string, Json> }

const SECURITY_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  description:
    'An API key from API_KEYS / API_KEYS_FILE, sent as `Authorization: Bearer <key>`. Needed by the /guid routes (and by /metrics and /docs when AUTH_OPS_ENDPOINTS is true); /healthz and /readyz never need one.',
}

const DESCRIPTION = `GUID metadata service: create, read, update and delete GUIDs with their \`user\` and \`expire\`.

- A 2xx answer to a write means the write is durable, and no acknowledged write is ever reverted.
- Errors are RFC 9457 problems (\`application/problem+json\`) with a stable \`type\` per kind of error.
- Every answer carries \`X-Request-Id\` (the request's own when it is 1-128 characters of \`[A-Za-z0-9._:-]\`), except what Bun's HTTP parser answers before the service runs (malformed HTTP; headers over 16 KiB: a bare 431).
- A method a path does not list answers 405 with \`Allow\` (\`urn:guidd:problem:method-not-allowed\`; each path names its methods). A path not listed here answers 404 \`urn:guidd:problem:route-not-found\`, except the documentation itself: \`/docs\` (Swagger UI, with its files under \`/docs/\`) and \`/docs/json\` (this document).
- Request bodies are JSON objects of at most 16 KiB; unknown fields, duplicate members and text that is not well-formed Unicode are refused (400).`

const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

/** A GET operation's HEAD twin: the same answers, headers only (HEAD answers carry no body). */
const headOf = (get: Operation, components: Record<string, Json>): Operation => {
  const withoutBody = (response: Json): Json => {
    const resolved = response.$ref === undefined ? response : components[String(response.$ref).split('/').pop()!]!
    return resolved.headers === undefined ? { description: resolved.description } : { description: resolved.description, headers: resolved.headers }
  }
  return {
    ...get,
    summary: `${get.summary} (headers only)`,
    description: `${String(get.description ?? get.summary).replace(/\.$/, '')}. HEAD answers what GET would, without the body.`,
    operationId: `head${capitalised(String(get.operationId))}`,
    responses: Object.fromEntries(Object.entries(get.responses).map(([status, response]) => [status, withoutBody(response)])),
  }
}

/** OPTIONS on a path while CORS is on: the preflight, answered without a key. */
const preflightOf = (tag: string, operationId: string, parameters: unknown): Operation => ({
  tags: [tag],
  summary: 'CORS preflight',
  description: 'Answered without a key: `Allow`, and the Access-Control-* headers when the Origin is allowed.',
  operationId,
  ...(parameters === undefined ? {} : { parameters }),
  responses: { 204: responseRef('Preflight') },
})

/** Every `#/components/<kind>/<name>` reachable from `value`. */
const collectRefs = (value: unknown, found: Set<string>): void => {
  if (Array.isArray(value)) for (const v of value) collectRefs(v, found)
  else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') found.add(v)
      else collectRefs(v, found)
    }
  }
}

/** The components the paths use, transitively: a component no answer in this configuration uses is left out. */
const usedComponents = (paths: Json, all: Record<string, Record<string, Json>>): Record<string, Record<string, Json>> => {
  const used = new Set<string>()
  let frontier = new Set<string>()
  collectRefs(paths, frontier)
  while (frontier.size > 0) {
    const next = new Set<string>()
    for (const ref of frontier) {
      if (used.has(ref)) continue
      used.add(ref)
      const [, , kind, name] = ref.split('/')
      collectRefs(all[kind!]?.[name!], next)
    }
    frontier = next
  }
  const out: Record<string, Record<string, Json>> = {}
  for (const [kind, entries] of Object.entries(all)) {
    const kept = Object.fromEntries(Object.entries(entries).filter(([name]) => used.has(`#/components/${kind}/${name}`)))
    if (Object.keys(kept).length > 0) out[kind] = kept
  }
  return out
}

/** What the guard and the wrapper may answer on a route, whatever its handler does. */
const addCommonResponses = (operation: Operation, policy: RoutePolicy | undefined, options: DocumentOptions): void => {
  const r = operation.responses
  if (policy?.auth && options.authRequired) r[401] = responseRef('Unauthorized')
  if (policy?.limit && options.rateLimited) r[429] = responseRef('RateLimited')
  r[431] = responseRef('HeaderTooLarge')
  r[500] = responseRef('Internal')
  if (r[503] === undefined && options.timeoutMs > 0 && policy !== undefined) r[503] = responseRef('Timeout')
  operation.responses = Object.fromEntries(Object.entries(r).sort(([a], [b]) => Number(a) - Number(b)))
  if (options.authRequired && !(policy?.auth ?? false)) operation.security = []
}

/**
 * The OpenAPI 3.1 document of the app's routes: each route's `detail` (src/http/openapi.ts),
 * HEAD where the route table allows it, OPTIONS on every path, and what the configuration
 * adds (the bearer scheme, 401, 429, the request timeout), over components built from the
 * TypeBox schemas that validate. Only the components this configuration uses are listed.
 */
export const openApiDocument = (table: RouteTable, options: DocumentOptions): object => {
  const allResponses = responses(options)
  const paths: Record<string, Record<string, Operation>> = {}
  for (const route of table.routes) {
    if (route.operation === undefined) continue
    const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}')
    const method = route.method.toLowerCase()
    const operation = structuredClone(route.operation) as Operation
    addCommonResponses(operation, route.policy ?? OPEN, options)
    paths[path] ??= {}
    paths[path][method] = operation
  }
  const items: Record<string, Json> = {}
  for (const [path, methods] of Object.entries(paths)) {
    const allow = table.allowedMethods(path.replace('{guid}', '0')) ?? ''
    const get = methods.get
    if (get !== undefined && allow.includes('HEAD')) methods.head = headOf(get, allResponses)
    // OpenAPI has no place for "any other method" but prose: 405 problem with Allow (Schemathesis's
    // unsupported_method check and test/support/openapi-conformance.ts hold the service to it).
    const item: Json = { description: `Any other method answers 405 \`urn:guidd:problem:method-not-allowed\` with \`Allow: ${allow}\`.` }
    if (options.cors) {
      const first = Object.values(methods)[0]!
      const name = path
        .split('/')
        .filter((segment) => segment !== '')
        .map((segment) => (segment.startsWith('{') ? 'Item' : capitalised(segment)))
        .join('')
      // A preflight is about the route, not the resource: any value of a path parameter is answered alike.
      const anyValue = path.includes('{guid}') ? [{ in: 'path', name: 'guid', required: true, description: 'Any value: a preflight does not read it.', schema: { type: 'string' } }] : undefined
      const preflight = preflightOf(first.tags[0], `options${name}`, anyValue)
      addCommonResponses(preflight, undefined, options)
      methods.options = preflight
    }
    items[path] = { ...item, ...methods }
  }
  const components = usedComponents(items, { schemas: schemaComponents(), responses: allResponses, headers: headers(), parameters: parameters() })
  return {
    openapi: '3.1.0',
    // No `license`: the project has none, and Swagger UI links a license identifier to spdx.org,
    // where LicenseRef-UNLICENSED is a dead page.
    info: {
      title: 'guidd',
      version: options.version,
      description: DESCRIPTION,
    },
    servers: [{ url: '/', description: 'This service: the document is served by the API it describes.' }],
    security: options.authRequired ? [{ bearerAuth: [] }] : [],
    tags: [
      { name: 'guid', description: 'The GUID resource' },
      { name: 'events', description: 'The change feed' },
      { name: 'ops', description: 'Health, readiness, metrics' },
    ],
    paths: items,
    components: options.authRequired ? { ...components, securitySchemes: { bearerAuth: SECURITY_SCHEME } } : components,
  }
}
