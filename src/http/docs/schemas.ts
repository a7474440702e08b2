import { type TSchema, Type } from '@sinclair/typebox'
import { FeedEvent } from '../../domain/change'
import { CreateBody, Expire, ExpireInput, Guid, GuidInput, GuidRecord, MAX_EXPIRE, PatchBody, USER_MAX_LENGTH, UpsertBody, User } from '../../domain/model'

/**
 * The document's JSON Schemas (OpenAPI 3.1 uses JSON Schema 2020-12), made from the TypeBox
 * schemas that validate requests, minus what only the service's validator understands, plus
 * what the service checks in code after the schema (so the document refuses what the server
 * refuses). `test/http/openapi.test.ts` checks the patterns below against the code they describe.
 */

/**
 * A GUID as the service accepts it (`canonicalGuid`): 32 hex digits, or 8-4-4-4-12, bare or
 * in a pair of braces; any letter case.
 */
export const GUID_INPUT_PATTERN = '^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}|\\{[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\\})$'

/**
 * `expire` as a string (`parseExpire`): up to 12 digits, or an RFC 3339 date-time with an offset.
 * The calendar (2026-02-30), the future and 9999-12-31T23:59:59Z are checked past the pattern (400).
 */
export const EXPIRE_STRING_PATTERN = '^(?:[0-9]{1,12}|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2}))$'

/** What every response's X-Request-Id and every problem's requestId look like. */
export const REQUEST_ID_PATTERN = '^[A-Za-z0-9._:-]{1,128}$'

/** An Idempotency-Key the service takes (domain/idempotency.ts parseIdempotencyKey): an sf-string of 1 to 255 characters. */
export const IDEMPOTENCY_KEY_PATTERN = '^"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\["\\\\]){1,255}"$'

/** A strong ETag: the record's version in quotes. */
export const ETAG_PATTERN = '^"[0-9]+"$'

type Json = Record<string, unknown>

/** Keywords of the service's validator only (its messages; the code-point counting format). */
const VALIDATOR_ONLY = new Set(['errorMessage', 'format'])

/** A TypeBox schema as plain JSON Schema: no symbols, no validator-only keywords, in every subschema. */
const plain = (schema: unknown): unknown => {
  if (Array.isArray(schema)) return schema.map(plain)
  if (typeof schema !== 'object' || schema === null) return schema
  const out: Json = {}
  for (const [key, value] of Object.entries(schema)) {
    if (VALIDATOR_ONLY.has(key)) continue
    if (key === 'properties') out[key] = Object.fromEntries(Object.entries(value as Json).map(([name, sub]) => [name, plain(sub)]))
    else if (key === 'anyOf' || key === 'oneOf' || key === 'allOf' || key === 'items' || key === 'not' || key === 'additionalProperties') out[key] = plain(value)
    else out[key] = value
  }
  return out
}

/** What the service checks in code, beyond its TypeBox schema, said in JSON Schema. */
const REFINED: Record<string, (schema: Json) => Json> = {
  GuidInput: (s) => ({ ...s, pattern: GUID_INPUT_PATTERN, maxLength: undefined }),
  // JSON Schema's maxLength counts code points, as the service's `user` format does.
  User: (s) => ({ ...s, maxLength: USER_MAX_LENGTH }),
  ExpireInput: (s) => ({
    ...s,
    anyOf: [
      { type: 'integer', maximum: MAX_EXPIRE },
      { type: 'string', pattern: EXPIRE_STRING_PATTERN },
    ],
  }),
  // The validator's minProperties lets `{"guid": ...}` alone through; the service then refuses it.
  // One branch per field that makes the body useful, each a whole object (precise types when generated).
  PatchBody: ({ description, examples, minProperties: _, ...object }) => ({
    description,
    examples,
    anyOf: [
      { ...object, required: ['user'] },
      { ...object, required: ['expire'] },
    ],
  }),
}

/** Named in components.schemas; a property equal to one of the first five becomes a $ref to it. */
const FROM_MODEL: Record<string, TSchema> = { Guid, GuidInput, User, Expire, ExpireInput, GuidRecord, CreateBody, UpsertBody, PatchBody, FeedEvent }
const LEAVES = ['Guid', 'GuidInput', 'User', 'Expire', 'ExpireInput']

const Problem = Type.Object(
  {
    type: Type.String({ description: 'Stable URN naming the kind of error: `urn:guidd:problem:<code>`.' }),
    title: Type.String({ description: 'Short summary of the kind of error.' }),
    status: Type.Integer({ description: 'The HTTP status code.' }),
    detail: Type.String({ description: 'What went wrong with this request.' }),
    instance: Type.Optional(Type.String({ description: 'The request path.' })),
    requestId: Type.String({ pattern: REQUEST_ID_PATTERN, description: 'Same as the X-Request-Id response header; the service logged the request under it.' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            path: Type.String({ description: 'JSON Pointer into the body (`/user`), or the parameter name (`guid`).' }),
            message: Type.String(),
          },
          { additionalProperties: false },
        ),
        { description: 'Every bad field, the first problem of each.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'RFC 9457 problem details.' },
)

const Health = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false, description: 'The process is alive.' })

const Ready = Type.Object(
  {
    status: Type.Literal('ready'),
    checks: Type.Object({}, { additionalProperties: Type.Literal('ok'), description: 'Each backend check (the store by name: `sqlite`, `mongodb`; `redis` and `journal` in Redis mode): `ok`.' }),
  },
  { additionalProperties: false, description: 'Every check passed.' },
)

const NotReady = Type.Object(
  {
    status: Type.Literal('unavailable'),
    checks: Type.Object({}, { additionalProperties: Type.String(), description: 'Each check: `ok`, or why it failed; `lifecycle: draining` while the service shuts down.' }),
  },
  { additionalProperties: false, description: 'At least one check failed, or the service is draining.' },
)

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })

/** GET /guid?user=: one page of a user's GUIDs (src/http/list-route.ts). */
const guidPage = (): Json => ({
  type: 'object',
  description: "A page of one user's live GUIDs, in ascending GUID order, each as GET answers its body (the version is not in it: GET or HEAD a GUID for its ETag).",
  properties: {
    items: { type: 'array', items: ref('GuidRecord'), maxItems: 1000 },
    next: { anyOf: [{ type: 'string', pattern: '^[A-Za-z0-9_-]+$' }, { type: 'null' }], description: 'The cursor of the next page (also in `Link: rel="next"`), or null on the last page.' },
  },
  required: ['items', 'next'],
  additionalProperties: false,
})

const withoutUndefined = (o: Json): Json => JSON.parse(JSON.stringify(o))

/** components.schemas: the model's schemas (leaves referenced by $ref), the problem and the probes' answers. */
export const schemaComponents = (): Record<string, Json> => {
  const cleaned = Object.fromEntries(Object.entries(FROM_MODEL).map(([name, schema]) => [name, plain(schema) as Json]))
  const leafJson = new Map(LEAVES.map((name) => [JSON.stringify(cleaned[name]), name]))
  const out: Record<string, Json> = {}
  for (const [name, schema] of Object.entries(cleaned)) {
    let s = schema
    if (s.properties !== undefined) {
      const properties = Object.fromEntries(
        Object.entries(s.properties as Json).map(([key, sub]) => {
          const leaf = leafJson.get(JSON.stringify(sub))
          return [key, leaf === undefined ? sub : ref(leaf)]
        }),
      )
      s = { ...s, properties }
    }
    out[name] = withoutUndefined(REFINED[name]?.(s) ?? s)
  }
  for (const [name, schema] of Object.entries({ Problem, Health, Ready, NotReady })) out[name] = plain(schema) as Json
  const feedEvent = out.FeedEvent!
  out.FeedEvent = { ...feedEvent, properties: { ...(feedEvent.properties as Json), record: { ...ref('GuidRecord'), description: 'The record, for created and updated.' } } }
  out.FeedPage = {
    type: 'object',
    additionalProperties: false,
    required: ['items', 'next'],
    properties: {
      items: { type: 'array', items: ref('FeedEvent') },
      next: { type: 'string', description: 'The position to pass as `after` for the next page (the same as `after` when nothing new was found).' },
    },
  }
  out.GuidPage = guidPage()
  return out
}
