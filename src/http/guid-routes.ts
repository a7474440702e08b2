import { etagOf, noneMatchFails } from '../domain/etag'
import { CreateBody, PatchBody, type StoredRecord, toPublic, UpsertBody } from '../domain/model'
import type { GuidService } from '../data/guid-service'
import type { Preconditions, WriteResult } from '../domain/decisions'
import type { RoutePolicy } from './guard'
import { type IdempotencyDeps, idempotent, type KeptAnswer } from './idempotency'
import type { Call } from './observe'
import { docs } from './openapi'
import { empty, recordResponse } from './respond'
import type { Route } from './routes'
import { validate } from './validate'

const preconditions = (headers: Headers): Preconditions => ({
  ifMatch: headers.get('if-match') ?? undefined,
  ifNoneMatch: headers.get('if-none-match') ?? undefined,
})

// Reads may be cached but must be revalidated (ETag); writes' answers are never stored.
const REVALIDATE = 'no-cache'
const NO_STORE = 'no-store'

/** Every /guid route: a bearer key when keys are configured, and the per-client rate limit. */
const GUARDED: RoutePolicy = { auth: true, limit: true }

const answerGet = (call: Call, record: StoredRecord): Response => {
  const ifNoneMatch = call.request.headers.get('if-none-match')
  if (ifNoneMatch !== null && noneMatchFails(ifNoneMatch, record.version)) {
    return empty(304, call, { etag: etagOf(record.version), 'cache-control': REVALIDATE })
  }
  return recordResponse(200, record, call, REVALIDATE)
}

/** A write's record answer as an Idempotency-Key keeps it: what recordResponse sends. */
const kept = (status: number, record: StoredRecord, location?: string): KeptAnswer =>
  location === undefined ? { status, body: JSON.stringify(toPublic(record)), etag: etagOf(record.version) } : { status, body: JSON.stringify(toPublic(record)), etag: etagOf(record.version), location }

const upserted = ({ record, created }: WriteResult): [number, string | undefined] => (created ? [201, `/guid/${record.guid}`] : [200, undefined])

/** The /guid routes: thin: take plain values out of the request, call the service. Writes take an Idempotency-Key. */
export const guidRoutes = (service: GuidService, idempotency: IdempotencyDeps): Route[] => [
  {
    method: 'POST',
    path: '/guid',
    policy: GUARDED,
    operation: docs.create(CreateBody),
    handle: idempotent(idempotency, {
      generates: true,
      run: async (_call, body, keyed) => service.create(validate(CreateBody, await body()), keyed),
      render: (record) => kept(201, record, `/guid/${record.guid}`),
      respond: (call, record) => recordResponse(201, record, call, NO_STORE, `/guid/${record.guid}`),
    }),
  },
  {
    method: 'GET',
    path: '/guid/:guid',
    policy: GUARDED,
    operation: docs.get,
    handle: (call) => {
      const found = service.get(call.params.guid ?? '')
      return found instanceof Promise ? found.then((record) => answerGet(call, record)) : answerGet(call, found)
    },
  },
  {
    method: 'POST',
    path: '/guid/:guid',
    policy: GUARDED,
    operation: docs.upsert(UpsertBody),
    handle: idempotent(idempotency, {
      run: async (call, body, keyed) => service.upsert(call.params.guid ?? '', validate(UpsertBody, await body()), preconditions(call.request.headers), keyed),
      render: (result) => {
        const [status, location] = upserted(result)
        return kept(status, result.record, location)
      },
      respond: (call, result) => {
        const [status, location] = upserted(result)
        return recordResponse(status, result.record, call, NO_STORE, location)
      },
    }),
  },
  {
    method: 'PATCH',
    path: '/guid/:guid',
    policy: GUARDED,
    operation: docs.patch(PatchBody),
    handle: idempotent(idempotency, {
      run: async (call, body, keyed) => service.patch(call.params.guid ?? '', validate(PatchBody, await body()), preconditions(call.request.headers), keyed),
      render: (record) => kept(200, record),
      respond: (call, record) => recordResponse(200, record, call, NO_STORE),
    }),
  },
  {
    method: 'DELETE',
    path: '/guid/:guid',
    policy: GUARDED,
    operation: docs.remove,
    handle: idempotent(idempotency, {
      run: (call, _body, keyed) => service.remove(call.params.guid ?? '', preconditions(call.request.headers), keyed),
      render: () => ({ status: 204, body: null }),
      respond: (call) => empty(204, call, { 'cache-control': NO_STORE }),
    }),
  },
]
