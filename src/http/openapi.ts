import type { TSchema } from '@sinclair/typebox'
import type { DocumentDecoration } from 'elysia'
import { CreateBody, PatchBody, UpsertBody } from '../domain/model'
import { EXAMPLE_EXPIRE, EXAMPLE_GUID, parameterRef, responseRef } from './docs/components'

/**
 * Each route's OpenAPI operation (its `detail`): what the handler itself answers, by $ref to the
 * document's components. What the guard adds (401, 429, 431, the 503 timeout), HEAD, OPTIONS
 * and 500 are added to every operation by `openApiDocument`, from the configuration.
 */

/** The components.schemas name of a request body schema: the route hands over the schema it validates with. */
const BODY_NAMES = new Map<TSchema, string>([
  [CreateBody, 'CreateBody'],
  [UpsertBody, 'UpsertBody'],
  [PatchBody, 'PatchBody'],
])

const requestBody = (schema: TSchema, examples: Record<string, [string, unknown]>) => {
  const name = BODY_NAMES.get(schema)
  if (name === undefined) throw new Error('openapi: a request body schema without a component name')
  return {
    required: true,
    content: {
      'application/json': {
        schema: { $ref: `#/components/schemas/${name}` },
        examples: Object.fromEntries(Object.entries(examples).map(([key, [summary, value]]) => [key, { summary, value }])),
      },
    },
  }
}

const refs = (entries: Record<string, string>) => Object.fromEntries(Object.entries(entries).map(([status, name]) => [status, responseRef(name)]))

/** OpenAPI objects are not Elysia's types; `test/http/openapi.test.ts` lints and validates the result. */
const op = (detail: object): DocumentDecoration => detail as DocumentDecoration

const GUID = parameterRef('Guid')
const IF_MATCH = parameterRef('IfMatch')
const IF_NONE_MATCH = parameterRef('IfNoneMatch')
const IDEMPOTENCY_KEY = parameterRef('IdempotencyKey')

export const docs = {
  create: (schema: TSchema) =>
    op({
      tags: ['guid'],
      summary: 'Create a GUID (generated when none is given)',
      description: 'Creates a GUID with its `user` and `expire` (default: 30 days from now). 409 when the GUID exists and has not expired.',
      operationId: 'createGuid',
      parameters: [IDEMPOTENCY_KEY],
      requestBody: requestBody(schema, {
        generated: ['A generated GUID, expiring in 30 days', { user: 'Cylance, Inc.' }],
        given: ['A given GUID (any accepted form), expiring at an RFC 3339 instant', { guid: EXAMPLE_GUID, user: 'Cylance, Inc.', expire: '2100-01-01T00:00:00Z' }],
      }),
      responses: refs({ 201: 'Created', 400: 'BadRequest', 409: 'Conflict', 413: 'PayloadTooLarge', 415: 'UnsupportedMediaType', 422: 'KeyReused', 503: 'Unavailable' }),
    }),
  list: op({
    tags: ['guid'],
    summary: "List a user's GUIDs",
    description:
      'One page of the user\'s live GUIDs in ascending GUID order, each as GET answers it (without its ETag: GET or HEAD a GUID for it). Keyset pages: pass `next` back as `cursor` (or follow `Link: rel="next"`) until `next` is null; a GUID that exists unchanged through the walk appears exactly once. Reflects every write acknowledged before the request, in every mode.',
    operationId: 'listGuids',
    parameters: [parameterRef('ListUser'), parameterRef('Limit'), parameterRef('Cursor')],
    responses: refs({ 200: 'Page', 400: 'BadQuery', 503: 'Unavailable' }),
  }),
  get: op({
    tags: ['guid'],
    summary: 'Read a GUID',
    description: 'The record and its ETag; 304 when If-None-Match names the current ETag. An expired GUID is 404.',
    operationId: 'getGuid',
    parameters: [GUID, IF_NONE_MATCH],
    responses: refs({ 200: 'Record', 304: 'NotModified', 400: 'InvalidGuid', 404: 'NotFound', 503: 'Unavailable' }),
  }),
  upsert: (schema: TSchema) =>
    op({
      tags: ['guid'],
      summary: 'Create or update a GUID',
      description:
        "Creates the GUID of the path (201; `user` is then required) or updates it (200). If-Match makes it update-only at that ETag; If-None-Match: * makes it create-only. A `guid` in the body must name the path's GUID.",
      operationId: 'upsertGuid',
      parameters: [GUID, IF_MATCH, IF_NONE_MATCH, IDEMPOTENCY_KEY],
      requestBody: requestBody(schema, {
        create: ['Create (or update) with an expiry as a digit string', { user: 'Cylance, Inc.', expire: String(EXAMPLE_EXPIRE) }],
        update: ['Update the expiry only', { expire: EXAMPLE_EXPIRE }],
      }),
      responses: refs({
        200: 'Updated',
        201: 'Created',
        400: 'BadRequest',
        409: 'InFlight',
        412: 'PreconditionFailed',
        413: 'PayloadTooLarge',
        415: 'UnsupportedMediaType',
        422: 'KeyReused',
        503: 'Unavailable',
      }),
    }),
  patch: (schema: TSchema) =>
    op({
      tags: ['guid'],
      summary: 'Update a GUID',
      description: 'Changes `user`, `expire` or both (at least one). With If-Match, only at that ETag.',
      operationId: 'patchGuid',
      parameters: [GUID, IF_MATCH, IDEMPOTENCY_KEY],
      requestBody: requestBody(schema, {
        user: ['Change the user', { user: 'Someone Else' }],
        expire: ['Change the expiry (an RFC 3339 instant with an offset)', { expire: '2100-06-30T12:00:00+02:00' }],
      }),
      responses: refs({
        200: 'Updated',
        400: 'BadRequest',
        404: 'NotFound',
        409: 'InFlight',
        412: 'PreconditionFailed',
        413: 'PayloadTooLarge',
        415: 'UnsupportedMediaType',
        422: 'KeyReused',
        503: 'Unavailable',
      }),
    }),
  remove: op({
    tags: ['guid'],
    summary: 'Delete a GUID',
    description: 'Deletes the GUID; with If-Match, only at that ETag. Its versions go on rising: a later create of the same GUID never reuses an ETag.',
    operationId: 'deleteGuid',
    parameters: [GUID, IF_MATCH, IDEMPOTENCY_KEY],
    responses: refs({ 204: 'Deleted', 400: 'BadRequest', 404: 'NotFound', 409: 'InFlight', 412: 'PreconditionFailed', 422: 'KeyReused', 503: 'Unavailable' }),
  }),
  events: op({
    tags: ['events'],
    summary: 'Follow every change: Server-Sent Events, or pages of JSON',
    description: [
      'The change feed: `created`, `updated`, `deleted` and `expired` (recorded once, within seconds after `expire`), in the order they happened; per GUID in version order; each only once its write is durable.',
      '',
      '**Stream** (`Accept: text/event-stream`, what EventSource sends; the default): every event is a `message` whose `id:` is its opaque position and whose `data:` is the JSON of the `FeedEvent` below without `id`. The stream starts with `retry:` and an `id:` alone (the position it starts after), sends a `: heartbeat` comment every 15 s when idle, and resumes right after `Last-Event-ID` (or `?after=`): no event missed, none repeated. Without a position it starts at the head (new changes only). A consumer that takes nothing for 30 s while events wait is disconnected; it resumes from its last id.',
      '',
      '**Pages** (`Accept: application/json`): `{items, next}`, at most `limit` events after `after` (without `after`: from the oldest event kept); pass `next` as the next `after`. `next` moves past events a filter skipped.',
      '',
      'A position older than EVENTS_RETENTION_SECONDS is 410: list the GUIDs again, then follow from the head. Each instance serves at most MAX_EVENT_STREAMS streams (503 beyond).',
    ].join('\n'),
    operationId: 'events',
    parameters: [
      {
        in: 'query',
        name: 'after',
        required: false,
        description: 'Resume right after this position (an `id` the feed handed out). Last-Event-ID, when sent, takes precedence.',
        schema: { type: 'string', maxLength: 256 },
        example: '1a2b3c4d.42',
      },
      { in: 'query', name: 'guid', required: false, description: "Only this GUID's events (any accepted GUID form).", schema: { type: 'string', maxLength: 64 }, example: EXAMPLE_GUID },
      {
        in: 'query',
        name: 'user',
        required: false,
        description: 'Only events of GUIDs with this `user` (for deleted and expired: the user the GUID had).',
        schema: { type: 'string', minLength: 1, maxLength: 512 },
        example: 'Cylance, Inc.',
      },
      { in: 'query', name: 'limit', required: false, description: 'Pages: most events per page, 1 to 1000 (default 100).', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
      { in: 'header', name: 'Last-Event-ID', required: false, description: 'What EventSource sends on reconnecting: resume right after this position.', schema: { type: 'string', maxLength: 256 } },
    ],
    responses: refs({ 200: 'Events', 400: 'InvalidQuery', 410: 'Gone', 503: 'Unavailable' }),
  }),
  healthz: op({ tags: ['ops'], summary: 'Liveness: the process answers', operationId: 'healthz', responses: refs({ 200: 'Alive' }) }),
  readyz: op({
    tags: ['ops'],
    summary: 'Readiness: every backend answers and the service is not draining',
    operationId: 'readyz',
    responses: refs({ 200: 'Ready', 503: 'NotReady' }),
  }),
  metrics: op({ tags: ['ops'], summary: 'Prometheus metrics', operationId: 'metrics', responses: refs({ 200: 'Metrics' }) }),
}
