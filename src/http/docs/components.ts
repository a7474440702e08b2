import { LIMIT_PATTERN } from '../../domain/listing'
import { catalogue, type ErrorCode, PROBLEM_TYPE_BASE } from '../problems'
import { MAX_BODY_BYTES } from '../body'
import { ETAG_PATTERN, GUID_INPUT_PATTERN, IDEMPOTENCY_KEY_PATTERN, REQUEST_ID_PATTERN } from './schemas'

/**
 * components.headers, .parameters and .responses of the OpenAPI document: every answer the
 * service gives, once, referenced by the operations. Problem responses narrow the shared
 * Problem schema to their own `type`s and status, and show one example per type.
 */

type Json = Record<string, unknown>

export const EXAMPLE_GUID = '9094E4C980C74043A4B586B420E69DDF'
/** 2100-01-01T00:00:00Z: an expiry the live service accepts for the next 74 years. */
export const EXAMPLE_EXPIRE = 4102444800
const EXAMPLE_REQUEST_ID = '5156df71-9b68-3'
/** What a record answer looks like: a version as the service now makes them (seconds * 1e6 + n). */
const EXAMPLE_ETAG = '"1764633600000001"'
/** A listing cursor (src/http/list-query.ts encodeCursor) after EXAMPLE_GUID for 'Cylance, Inc.'. */
const EXAMPLE_CURSOR = 'AcRzkkLrHdY7kJTkyYDHQEOktYa0IOad3w'

export const headerRef = (name: string): Json => ({ $ref: `#/components/headers/${name}` })
export const responseRef = (name: string): Json => ({ $ref: `#/components/responses/${name}` })
export const parameterRef = (name: string): Json => ({ $ref: `#/components/parameters/${name}` })
const schemaRef = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })

const text = (description: string, pattern?: string, example?: string, required = true): Json => ({
  description,
  required,
  schema: pattern === undefined ? { type: 'string' } : { type: 'string', pattern },
  ...(example === undefined ? {} : { example }),
})

export const headers = (): Record<string, Json> => ({
  'X-Request-Id': text(
    "The request id: the request's own X-Request-Id when it is 1-128 characters of `[A-Za-z0-9._:-]`, generated otherwise. Quote it when reporting a problem.",
    REQUEST_ID_PATTERN,
    EXAMPLE_REQUEST_ID,
  ),
  ETag: text('The record\'s version, as a strong entity tag: `"<version>"`. Send it back in If-Match / If-None-Match.', ETAG_PATTERN, EXAMPLE_ETAG),
  Location: text("The created GUID's URL, with the GUID in canonical form.", '^/guid/[0-9A-F]{32}$', `/guid/${EXAMPLE_GUID}`),
  'Retry-After': text('Seconds to wait before retrying.', '^[0-9]+$', '1'),
  Allow: text('The methods the path allows, comma-separated.', undefined, 'GET, HEAD, POST, PATCH, DELETE'),
  'WWW-Authenticate': text('The bearer challenge: `Bearer realm="guidd"`, plus `error="invalid_token"` when a key was sent that matches none.', undefined, 'Bearer realm="guidd"'),
  'Idempotent-Replayed': text("Present (`true`) when this answer is the one kept under the request's Idempotency-Key, replayed: the request did not run again.", '^true$', 'true', false),
  Link: text(
    'The next page of the listing: `</guid?user=...&limit=...&cursor=...>; rel="next"`. Absent on the last page.',
    '^<[^>]+>; rel="next"$',
    `</guid?user=Cylance%2C%20Inc.&limit=100&cursor=${EXAMPLE_CURSOR}>; rel="next"`,
    false,
  ),
  'RateLimit-Limit': text('The bucket size: requests a client may make at once.', '^[0-9]+$', '100'),
  'RateLimit-Remaining': text('Requests left now: 0.', '^[0-9]+$', '0'),
  'RateLimit-Reset': text('Seconds until a request is allowed again.', '^[0-9]+$', '1'),
  'RateLimit-Policy': text('Bucket size and the seconds it takes to refill: `<burst>;w=<seconds>`.', '^[0-9]+;w=[0-9]+$', '100;w=10'),
})

export const parameters = (): Record<string, Json> => ({
  IdempotencyKey: {
    in: 'header',
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes the write safe to retry (draft-ietf-httpapi-idempotency-key-header): a structured-field string of 1 to 255 printable ASCII characters, in double quotes (`\\"` and `\\\\` escape). The first request runs; its answer (status, body, ETag, Location) is kept for IDEMPOTENCY_TTL_SECONDS and replayed with `Idempotent-Replayed: true` to the same request sent again under the key (same method, path, If-Match, If-None-Match and body; member order and spacing aside); another request under the key is 422; while the first runs, 409 with Retry-After. 5xx answers are not kept. Scoped by the caller\'s API key.',
    schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN },
    example: '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
  },
  ListUser: {
    in: 'query',
    name: 'user',
    required: true,
    description: 'Whose GUIDs to list: the `user` exactly as stored, 1 to 256 characters.',
    schema: { type: 'string', minLength: 1, maxLength: 256 },
    example: 'Cylance, Inc.',
  },
  Limit: {
    in: 'query',
    name: 'limit',
    required: false,
    description: 'Most GUIDs in the page: 1 to 1000 in plain digits, default 100.',
    // A string with a pattern, not an integer: the service takes exactly these digits (no `+5`, no `005`).
    schema: { type: 'string', pattern: LIMIT_PATTERN, default: '100' },
    example: '100',
  },
  Cursor: {
    in: 'query',
    name: 'cursor',
    required: false,
    description: "Where the page starts: the previous page's `next`, unchanged. Bound to its user: another user's cursor, or a malformed one, is 400.",
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    example: EXAMPLE_CURSOR,
  },
  Guid: {
    in: 'path',
    name: 'guid',
    required: true,
    description: 'The GUID: 32 hex digits or hyphenated 8-4-4-4-12, any letter case, the hyphenated form optionally in braces (`%7B...%7D` in a URL). Answers always carry the canonical form.',
    schema: { type: 'string', pattern: GUID_INPUT_PATTERN },
    example: EXAMPLE_GUID,
  },
  IfMatch: {
    in: 'header',
    name: 'If-Match',
    required: false,
    description:
      "Apply the change only if the record's current ETag is one of these (strong comparison), or `*` for any existing record; 412 otherwise. When the GUID does not exist, PATCH and DELETE answer 404 and POST /guid/{guid} answers 412.",
    schema: { type: 'string' },
    example: EXAMPLE_ETAG,
  },
  IfNoneMatch: {
    in: 'header',
    name: 'If-None-Match',
    required: false,
    description: 'On GET and HEAD: answer 304 when the current ETag is one of these (weak comparison). On POST /guid/{guid}: `*` makes it create-only (412 when the GUID exists).',
    schema: { type: 'string' },
    example: EXAMPLE_ETAG,
  },
})

type Example = readonly [ErrorCode, string, Array<{ path: string; message: string }>?]

const problemExample = ([code, detail, errors]: Example): Json => {
  const row = catalogue[code]
  const value: Json = { type: PROBLEM_TYPE_BASE + code, title: row.title, status: row.status, detail, requestId: EXAMPLE_REQUEST_ID }
  if (errors !== undefined) value.errors = errors
  return { summary: row.title, value }
}

/** A problem response for one status: the types it may carry, each described and shown. */
const problem = (description: string, examples: readonly Example[], extraHeaders: readonly string[] = [], requestIdRequired = true): Json => {
  const status = catalogue[examples[0]![0]].status
  const codes = examples.map(([code]) => code)
  return {
    description: `${description} ${codes.map((code) => `\`${PROBLEM_TYPE_BASE}${code}\`: ${catalogue[code].title}.`).join(' ')}`,
    headers: {
      'X-Request-Id': requestIdRequired ? headerRef('X-Request-Id') : { ...(headers()['X-Request-Id'] as Json), required: false },
      ...Object.fromEntries(extraHeaders.map((name) => [name, headerRef(name)])),
    },
    content: {
      'application/problem+json': {
        schema: {
          allOf: [schemaRef('Problem'), { type: 'object', properties: { type: { type: 'string', enum: codes.map((code) => PROBLEM_TYPE_BASE + code) }, status: { type: 'integer', const: status } } }],
        },
        examples: Object.fromEntries(examples.map((example) => [example[0], problemExample(example)])),
      },
    },
  }
}

const IN_FLIGHT: Example = ['idempotency-key-in-flight', 'The first request with this Idempotency-Key is still running; retry shortly for its answer.']

/** A problem response whose Retry-After only some of its types carry. */
const withOptionalRetryAfter = (response: Json): Json => ({
  ...response,
  headers: {
    ...(response.headers as Json),
    'Retry-After': { ...(headers()['Retry-After'] as Json), required: false, description: 'Seconds to wait before retrying (idempotency-key-in-flight only).' },
  },
})

const GUID_MESSAGE = 'guid must be 32 hexadecimal digits or the hyphenated 8-4-4-4-12 form, optionally in braces'

const record = (description: string, extra: readonly string[] = []): Json => ({
  description,
  headers: Object.fromEntries(['ETag', ...extra, 'X-Request-Id'].map((name) => [name, headerRef(name)])),
  content: { 'application/json': { schema: schemaRef('GuidRecord'), example: { guid: EXAMPLE_GUID, user: 'Cylance, Inc.', expire: EXAMPLE_EXPIRE } } },
})

export interface ResponseOptions {
  /** MAX_HEADER_BYTES; 0: only Bun's own limit. */
  maxHeaderBytes: number
  /** REQUEST_TIMEOUT_MS; 0: no deadline. */
  timeoutMs: number
}

export const responses = (options: ResponseOptions): Record<string, Json> => {
  const unavailable: Example[] = [
    ['overloaded', 'Too many requests in flight for this GUID; retry shortly.'],
    ['unavailable', 'The store cannot take writes right now; retry shortly.'],
  ]
  const timeout: Example = ['timeout', `The request took longer than ${options.timeoutMs} ms; a write may still have been applied: read the GUID before retrying.`]
  if (options.timeoutMs > 0) unavailable.push(timeout)
  // Over 16 KiB of headers, Bun's HTTP parser answers before the service runs; below that, the service's own limit (if set).
  const bunLimit = "Request headers over 16 KiB in all are refused by Bun's HTTP parser before the service runs: a 431 with no body and no X-Request-Id, and the connection is closed."
  const headerTooLarge =
    options.maxHeaderBytes > 0
      ? problem(
          `The request headers are over ${options.maxHeaderBytes} bytes (MAX_HEADER_BYTES, counted as \`name: value\` plus CRLF per field): a problem, as below. ${bunLimit}`,
          [['header-too-large', `The request headers exceed ${options.maxHeaderBytes} bytes.`]],
          [],
          false,
        )
      : { description: `${bunLimit} (MAX_HEADER_BYTES is 0: the service sets no lower limit of its own.)` }
  return {
    Record: record('The record.'),
    Created: record('Created (or, with `Idempotent-Replayed: true`, the answer kept under the Idempotency-Key).', ['Location', 'Idempotent-Replayed']),
    Updated: record('Updated (or, with `Idempotent-Replayed: true`, the answer kept under the Idempotency-Key).', ['Idempotent-Replayed']),
    Page: {
      description: 'A page of the user\'s GUIDs; `Link: rel="next"` names the next page when there is one.',
      headers: { Link: headerRef('Link'), 'X-Request-Id': headerRef('X-Request-Id') },
      content: {
        'application/json': {
          schema: schemaRef('GuidPage'),
          example: { items: [{ guid: EXAMPLE_GUID, user: 'Cylance, Inc.', expire: EXAMPLE_EXPIRE }], next: EXAMPLE_CURSOR },
        },
      },
    },
    BadQuery: problem(
      "A query parameter is invalid (`errors` names it): `user` missing or too long, `limit` out of 1..1000, a malformed cursor or one from another user's listing, an unknown parameter.",
      [['validation', 'cursor belongs to another listing: it was given for another user', [{ path: 'cursor', message: 'cursor belongs to another listing: it was given for another user' }]]],
    ),
    NotModified: { description: 'Not modified: the If-None-Match ETag is current. No body.', headers: { ETag: headerRef('ETag'), 'X-Request-Id': headerRef('X-Request-Id') } },
    Deleted: {
      description: 'Deleted. No body. With `Idempotent-Replayed: true`: the answer kept under the Idempotency-Key.',
      headers: { 'X-Request-Id': headerRef('X-Request-Id'), 'Idempotent-Replayed': headerRef('Idempotent-Replayed') },
    },
    BadRequest: problem('The request is invalid: a field (`errors` lists each, by JSON Pointer), the GUID, or the JSON itself.', [
      ['validation', "unknown field 'owner'", [{ path: '/owner', message: "unknown field 'owner'" }]],
      ['invalid-guid', GUID_MESSAGE, [{ path: '/guid', message: GUID_MESSAGE }]],
      ['malformed-json', "The body is not valid JSON: JSON Parse error: Expected '}'"],
    ]),
    InvalidGuid: problem('The GUID in the path is malformed.', [['invalid-guid', GUID_MESSAGE, [{ path: 'guid', message: GUID_MESSAGE }]]]),
    Unauthorized: problem('No valid bearer key.', [['unauthorized', 'Send a key: Authorization: Bearer <key>.']], ['WWW-Authenticate']),
    NotFound: problem('The GUID does not exist or has expired.', [['not-found', `GUID ${EXAMPLE_GUID} does not exist or has expired.`]]),
    MethodNotAllowed: problem('The path exists, the method does not: `Allow` lists those it has.', [['method-not-allowed', 'OPTIONS is not allowed on /guid; use POST.']], ['Allow']),
    Conflict: withOptionalRetryAfter(
      problem('The GUID exists and has not expired; or the first request under this Idempotency-Key still runs (with Retry-After).', [
        ['guid-exists', `GUID ${EXAMPLE_GUID} already exists; update it with PATCH or POST /guid/${EXAMPLE_GUID}.`],
        [IN_FLIGHT[0], IN_FLIGHT[1]],
      ]),
    ),
    InFlight: problem('The first request under this Idempotency-Key still runs: retry after Retry-After for its answer.', [IN_FLIGHT], ['Retry-After']),
    KeyReused: problem('The Idempotency-Key was used for another request (method, path, If-Match, If-None-Match or body): send a new key.', [
      ['idempotency-key-reused', 'This Idempotency-Key was used for another request (method, path, preconditions or body); send a new key for a new request.'],
    ]),
    PreconditionFailed: problem('If-Match does not match the current ETag (on POST /guid/{guid}, also when the GUID does not exist), or If-None-Match: * met an existing GUID.', [
      ['precondition-failed', `If-Match does not match the current ETag ${EXAMPLE_ETAG}.`],
    ]),
    PayloadTooLarge: problem(`The body is over ${MAX_BODY_BYTES} bytes (by its Content-Length, or as it arrives when sent chunked).`, [
      ['payload-too-large', `The body exceeds ${MAX_BODY_BYTES} bytes.`],
    ]),
    UnsupportedMediaType: problem('The body is not JSON: send `Content-Type: application/json` (or `application/*+json`).', [
      ['unsupported-media-type', 'Send the body as JSON with Content-Type: application/json.'],
    ]),
    RateLimited: problem(
      'This client (its API key, else its address) used up its rate limit.',
      [['rate-limited', 'Too many requests from this client; retry in 1 s.']],
      ['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy'],
    ),
    HeaderTooLarge: headerTooLarge,
    InvalidQuery: problem('A query parameter is invalid (`errors` names it), or unknown.', [
      ['validation', 'limit must be an integer from 1 to 1000', [{ path: 'limit', message: 'limit must be an integer from 1 to 1000' }]],
      ['invalid-guid', GUID_MESSAGE, [{ path: 'guid', message: GUID_MESSAGE }]],
    ]),
    Gone: problem('The position is older than the feed keeps (EVENTS_RETENTION_SECONDS), or from another feed: list the GUIDs again, then follow from the head.', [
      ['position-gone', "Position 1a2b3c4d.42 is older than the feed keeps (86400 s): list the GUIDs again, then follow from the feed's head."],
    ]),
    Events: {
      description: 'The feed: a stream of Server-Sent Events, or (Accept: application/json) one page.',
      headers: { 'X-Request-Id': headerRef('X-Request-Id') },
      content: {
        'text/event-stream': {
          schema: { type: 'string', description: 'Server-Sent Events: `id:` the position, `data:` a FeedEvent without `id`.' },
          example: `retry: 1000\nid: 1a2b3c4d.41\n\nid: 1a2b3c4d.42\ndata: {"type":"created","guid":"${EXAMPLE_GUID}","version":1764633600000001,"record":{"guid":"${EXAMPLE_GUID}","user":"Cylance, Inc.","expire":${EXAMPLE_EXPIRE}}}\n\n: heartbeat\n\n`,
        },
        'application/json': {
          schema: schemaRef('FeedPage'),
          example: {
            items: [{ id: '1a2b3c4d.42', type: 'created', guid: EXAMPLE_GUID, version: 1764633600000001, record: { guid: EXAMPLE_GUID, user: 'Cylance, Inc.', expire: EXAMPLE_EXPIRE } }],
            next: '1a2b3c4d.42',
          },
        },
      },
    },
    Internal: problem('A fault of the service; it logged the cause under the request id.', [['internal', 'The server failed to handle the request; quote the request id when reporting it.']]),
    Unavailable: problem('Retry after Retry-After seconds.', unavailable, ['Retry-After']),
    // For the routes whose handler answers no 503 of its own (healthz, metrics).
    ...(options.timeoutMs > 0 ? { Timeout: problem(`The request outlived REQUEST_TIMEOUT_MS (${options.timeoutMs} ms).`, [timeout], ['Retry-After']) } : {}),
    Alive: { description: 'The process runs.', headers: { 'X-Request-Id': headerRef('X-Request-Id') }, content: { 'application/json': { schema: schemaRef('Health'), example: { status: 'ok' } } } },
    Ready: {
      description: 'Every check passed: the service can take traffic.',
      headers: { 'X-Request-Id': headerRef('X-Request-Id') },
      content: { 'application/json': { schema: schemaRef('Ready'), example: { status: 'ready', checks: { sqlite: 'ok' } } } },
    },
    NotReady: {
      description:
        options.timeoutMs > 0
          ? `Not ready: a check failed or the service is draining (a JSON report), or the checks outlived REQUEST_TIMEOUT_MS (${options.timeoutMs} ms; a problem).`
          : 'Not ready: a check failed, or the service is draining.',
      headers: { 'Retry-After': headerRef('Retry-After'), 'X-Request-Id': headerRef('X-Request-Id') },
      content: {
        'application/json': { schema: schemaRef('NotReady'), example: { status: 'unavailable', checks: { sqlite: 'database is locked' } } },
        ...(options.timeoutMs > 0 ? (problem('', [timeout]).content as Json) : {}),
      },
    },
    Metrics: {
      description: 'Prometheus text exposition format 0.0.4.',
      headers: { 'X-Request-Id': headerRef('X-Request-Id') },
      content: { 'text/plain': { schema: { type: 'string' }, example: 'guidd_http_requests_total{method="GET",route="/guid/:guid",status="200"} 1\n' } },
    },
    Preflight: {
      description: "A CORS preflight: `Allow` lists the path's methods; the Access-Control-* headers are present when the Origin is allowed.",
      headers: {
        Allow: headerRef('Allow'),
        'X-Request-Id': headerRef('X-Request-Id'),
        'Access-Control-Allow-Origin': text('The allowed origin, or `*`.', undefined, '*', false),
        'Access-Control-Allow-Methods': text('The methods the path allows.', undefined, 'POST', false),
        'Access-Control-Allow-Headers': text('The request headers the API reads.', undefined, 'Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-Id', false),
        'Access-Control-Max-Age': text('Seconds a browser may keep this answer.', '^[0-9]+$', '600', false),
      },
    },
  }
}
