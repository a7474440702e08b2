import { etagOf, noneMatchFails } from '../domain/etag'
import { CreateBody, PatchBody, type StoredRecord, UpsertBody } from '../domain/model'
import type { GuidService } from '../data/guid-service'
import type { Preconditions } from '../domain/decisions'
import { readJsonBody } from './body'
import type { RoutePolicy } from './guard'
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

/** The /guid routes: thin: take plain values out of the request, call the service. */
export const guidRoutes = (service: GuidService): Route[] => [
  {
    method: 'POST',
    path: '/guid',
    policy: GUARDED,
    operation: docs.create(CreateBody),
    handle: async (call) => {
      const record = await service.create(validate(CreateBody, await readJsonBody(call.request)))
      return recordResponse(201, record, call, NO_STORE, `/guid/${record.guid}`)
    },
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
    handle: async (call) => {
      const body = validate(UpsertBody, await readJsonBody(call.request))
      const { record, created } = await service.upsert(call.params.guid ?? '', body, preconditions(call.request.headers))
      return recordResponse(created ? 201 : 200, record, call, NO_STORE, created ? `/guid/${record.guid}` : undefined)
    },
  },
  {
    method: 'PATCH',
    path: '/guid/:guid',
    policy: GUARDED,
    operation: docs.patch(PatchBody),
    handle: async (call) => {
      const body = validate(PatchBody, await readJsonBody(call.request))
      return recordResponse(200, await service.patch(call.params.guid ?? '', body, preconditions(call.request.headers)), call, NO_STORE)
    },
  },
  {
    method: 'DELETE',
    path: '/guid/:guid',
    policy: GUARDED,
    operation: docs.remove,
    handle: async (call) => {
      await service.remove(call.params.guid ?? '', preconditions(call.request.headers))
      return empty(204, call, { 'cache-control': NO_STORE })
    },
  },
]
