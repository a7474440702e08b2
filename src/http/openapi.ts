import { type TSchema, Type } from '@sinclair/typebox'
import type { DocumentDecoration } from 'elysia'
import { catalogue, type ErrorCode, PROBLEM_TYPE_BASE } from '../errors'
import { GuidRecord } from '../guid/model'

/** OpenAPI fragments for the routes' `detail`, built from the same TypeBox schemas that validate. */

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'Stable URI naming the error kind.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.Optional(Type.String({ description: 'The request path.' })),
    requestId: Type.Optional(Type.String({ description: 'Same as the X-Request-Id response header.' })),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { description: 'RFC 9457 problem details.' },
)

const EXAMPLE_GUID = '9094E4C980C74043A4B586B420E69DDF'
const EXAMPLE_RECORD = { guid: EXAMPLE_GUID, user: 'Cylance, Inc.', expire: 1893456000 }

const headers = {
  etag: { description: 'The record version, strong: `"<version>"`.', schema: { type: 'string', example: '"1"' } },
  location: { description: 'Where the created GUID lives.', schema: { type: 'string', example: `/guid/${EXAMPLE_GUID}` } },
  requestId: { description: 'Echoed from the request when sane, generated otherwise.', schema: { type: 'string' } },
  allow: { description: 'Methods the route allows.', schema: { type: 'string' } },
  retryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'string', example: '1' } },
} as const

export const responseHeaders = headers

/**
 * An error response: every problem type it may carry, named in its description and shown by
 * one example each (Swagger UI offers them in a drop-down).
 */
export const problems = (kinds: ReadonlyArray<readonly [ErrorCode, string]>, extraHeaders: Record<string, unknown> = {}) => ({
  description: kinds.map(([code]) => `\`${PROBLEM_TYPE_BASE}${code}\`: ${catalogue[code].title}.`).join(' '),
  headers: { 'X-Request-Id': headers.requestId, ...extraHeaders },
  content: {
    'application/problem+json': {
      schema: ProblemSchema,
      examples: Object.fromEntries(kinds.map(([code, detail]) => [code, problemExample(code, detail)])),
    },
  },
})

const problemExample = (code: ErrorCode, detail: string) => {
  const row = catalogue[code]
  return {
    summary: row.title,
    value: { type: PROBLEM_TYPE_BASE + code, title: row.title, status: row.status, detail, instance: `/guid/${EXAMPLE_GUID}`, requestId: '4f1c2b1e-5a60-4c1f-9d5e-0f6f7f0c2a11' },
  }
}

/** Adds problem kinds to an operation's response for their status, creating it when absent. */
export const addProblems = (responses: Record<string, any>, kinds: ReadonlyArray<readonly [ErrorCode, string]>, extraHeaders: Record<string, unknown> = {}): void => {
  const status = String(catalogue[kinds[0]![0]].status)
  const existing = responses[status]
  if (existing?.content?.['application/problem+json']?.examples === undefined) {
    responses[status] = problems(kinds, extraHeaders)
    return
  }
  const fresh = problems(kinds, extraHeaders)
  existing.description = `${existing.description} ${fresh.description}`
  existing.headers = { ...existing.headers, ...extraHeaders }
  Object.assign(existing.content['application/problem+json'].examples, fresh.content['application/problem+json'].examples)
}

const recordBody = (description: string, extraHeaders: Record<string, unknown> = {}) => ({
  description,
  headers: { ETag: headers.etag, 'X-Request-Id': headers.requestId, ...extraHeaders },
  content: { 'application/json': { schema: GuidRecord, example: EXAMPLE_RECORD } },
})

const requestBody = (schema: TSchema, examples: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema, examples: Object.fromEntries(Object.entries(examples).map(([k, v]) => [k, { value: v }])) } },
})

const conditional = (name: 'If-Match' | 'If-None-Match', description: string) => ({ in: 'header', name, required: false, description, schema: { type: 'string', example: '"1"' } }) as const

const guidParam = {
  in: 'path',
  name: 'guid',
  required: true,
  description: 'The GUID: 32 hex digits or hyphenated 8-4-4-4-12, any case, optionally in braces.',
  schema: { type: 'string', example: EXAMPLE_GUID },
} as const

const INVALID_GUID = ['invalid-guid', 'guid must be 32 hexadecimal digits or the hyphenated 8-4-4-4-12 form, optionally in braces'] as const
const NOT_FOUND = ['not-found', `GUID ${EXAMPLE_GUID} does not exist or has expired.`] as const
const PRECONDITION = ['precondition-failed', 'If-Match does not match the current ETag "2".'] as const

const common = {
  400: problems([['validation', "unknown field 'owner'"], INVALID_GUID, ['malformed-json', "The body is not valid JSON: JSON Parse error: Expected '}'"]]),
  413: problems([['payload-too-large', 'The body exceeds 16384 bytes.']]),
  415: problems([['unsupported-media-type', 'Send the body as JSON with Content-Type: application/json.']]),
  500: problems([['internal', 'The server failed to handle the request; quote the request id when reporting it.']]),
  503: problems(
    [
      ['overloaded', 'Too many requests in flight for this GUID; retry shortly.'],
      ['unavailable', 'The store is not answering; retry shortly.'],
    ],
    { 'Retry-After': headers.retryAfter },
  ),
}

/** TypeBox schemas are JSON Schema, but not the OpenAPI types' SchemaObject; the test on /docs/json checks the result. */
const op = (detail: object): DocumentDecoration => detail as DocumentDecoration

export const docs = {
  create: (schema: TSchema) =>
    op({
      tags: ['guid'],
      summary: 'Create a GUID (generated when none is given)',
      operationId: 'createGuid',
      requestBody: requestBody(schema, { generated: { user: 'Cylance, Inc.' }, given: { guid: EXAMPLE_GUID, user: 'Cylance, Inc.', expire: '2030-01-01T00:00:00Z' } }),
      responses: {
        201: recordBody('Created.', { Location: headers.location }),
        ...common,
        409: problems([['guid-exists', `GUID ${EXAMPLE_GUID} already exists.`]]),
      },
    }),
  get: op({
    tags: ['guid'],
    summary: 'Read a GUID',
    operationId: 'getGuid',
    parameters: [guidParam, conditional('If-None-Match', 'Answer 304 when the ETag still matches.')],
    responses: {
      200: recordBody('The record.'),
      304: { description: 'Not modified: the If-None-Match ETag is current.', headers: { ETag: headers.etag } },
      400: problems([INVALID_GUID]),
      404: problems([NOT_FOUND]),
      500: common[500],
      503: common[503],
    },
  }),
  upsert: (schema: TSchema) =>
    op({
      tags: ['guid'],
      summary: 'Create or update a GUID (the original URL)',
      operationId: 'upsertGuid',
      parameters: [guidParam, conditional('If-Match', 'Update only when the ETag matches (412 otherwise).'), conditional('If-None-Match', '`*`: create only (412 when it exists).')],
      requestBody: requestBody(schema, { create: { user: 'Cylance, Inc.', expire: '1893456000' }, update: { expire: 1893456000 } }),
      responses: {
        200: recordBody('Updated.'),
        201: recordBody('Created.', { Location: headers.location }),
        ...common,
        412: problems([PRECONDITION]),
      },
    }),
  patch: (schema: TSchema) =>
    op({
      tags: ['guid'],
      summary: 'Update a GUID',
      operationId: 'patchGuid',
      parameters: [guidParam, conditional('If-Match', 'Update only when the ETag matches (412 otherwise).')],
      requestBody: requestBody(schema, { user: { user: 'Someone Else' }, expire: { expire: '2031-06-30T12:00:00+02:00' } }),
      responses: {
        200: recordBody('Updated.'),
        ...common,
        404: problems([NOT_FOUND]),
        412: problems([PRECONDITION]),
      },
    }),
  remove: op({
    tags: ['guid'],
    summary: 'Delete a GUID',
    operationId: 'deleteGuid',
    parameters: [guidParam, conditional('If-Match', 'Delete only when the ETag matches (412 otherwise).')],
    responses: {
      204: { description: 'Deleted.' },
      400: problems([INVALID_GUID]),
      404: problems([NOT_FOUND]),
      412: problems([PRECONDITION]),
      500: common[500],
      503: common[503],
    },
  }),
  healthz: op({ tags: ['ops'], summary: 'Liveness: the process answers', responses: { 200: { description: 'Alive.', content: { 'application/json': { example: { status: 'ok' } } } } } }),
  readyz: op({
    tags: ['ops'],
    summary: 'Readiness: every configured backend answers and the write-behind lag is under its limit',
    responses: {
      200: { description: 'Ready.', content: { 'application/json': { example: { status: 'ready', checks: { store: 'ok' } } } } },
      503: {
        description: 'Not ready, with the reason per check.',
        headers: { 'Retry-After': headers.retryAfter },
        content: { 'application/json': { example: { status: 'unavailable', checks: { store: 'database is locked' } } } },
      },
    },
  }),
  metrics: op({
    tags: ['ops'],
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'Prometheus text format 0.0.4.', content: { 'text/plain': { example: 'guidd_http_requests_total{method="GET",route="/guid/:guid",status="200"} 1' } } } },
  }),
}
