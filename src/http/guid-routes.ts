import { Elysia } from 'elysia'
import { etagOf, noneMatchFails } from '../guid/etag'
import { CreateBody, PatchBody, type StoredRecord, UpsertBody } from '../guid/model'
import type { GuidService, Preconditions } from '../guid/service'
import { readJsonBody } from './body'
import type { Call, Observe } from './observe'
import { docs } from './openapi'
import { recordResponse } from './respond'
import { validate } from './validate'

const preconditions = (headers: Headers): Preconditions => ({
  ifMatch: headers.get('if-match') ?? undefined,
  ifNoneMatch: headers.get('if-none-match') ?? undefined,
})

// Reads may be cached but must be revalidated (ETag); writes' answers are never stored.
const REVALIDATE = 'no-cache'
const NO_STORE = 'no-store'

const answerGet = ({ request, requestId }: Call, record: StoredRecord): Response => {
  const ifNoneMatch = request.headers.get('if-none-match')
  if (ifNoneMatch !== null && noneMatchFails(ifNoneMatch, record.version)) {
    return new Response(null, { status: 304, headers: { etag: etagOf(record.version), 'cache-control': REVALIDATE, 'x-request-id': requestId } })
  }
  return recordResponse(200, record, requestId, REVALIDATE)
}

/** The /guid routes (SPEC §3): thin: take plain values out of the request, call the service. */
export const guidRoutes = (service: GuidService, observe: Observe) =>
  new Elysia({ name: 'guid-routes' })
    .post(
      '/guid',
      observe('POST', '/guid', async ({ request, requestId }) => {
        const record = await service.create(validate(CreateBody, await readJsonBody(request)))
        return recordResponse(201, record, requestId, NO_STORE, `/guid/${record.guid}`)
      }),
      { detail: docs.create(CreateBody) },
    )
    .get(
      '/guid/:guid',
      observe('GET', '/guid/:guid', (call) => {
        const found = service.get(call.params.guid ?? '')
        return found instanceof Promise ? found.then((record) => answerGet(call, record)) : answerGet(call, found)
      }),
      { detail: docs.get },
    )
    .post(
      '/guid/:guid',
      observe('POST', '/guid/:guid', async ({ request, params, requestId }) => {
        const body = validate(UpsertBody, await readJsonBody(request))
        const { record, created } = await service.upsert(params.guid ?? '', body, preconditions(request.headers))
        return recordResponse(created ? 201 : 200, record, requestId, NO_STORE, created ? `/guid/${record.guid}` : undefined)
      }),
      { detail: docs.upsert(UpsertBody) },
    )
    .patch(
      '/guid/:guid',
      observe('PATCH', '/guid/:guid', async ({ request, params, requestId }) => {
        const body = validate(PatchBody, await readJsonBody(request))
        return recordResponse(200, await service.patch(params.guid ?? '', body, preconditions(request.headers)), requestId, NO_STORE)
      }),
      { detail: docs.patch(PatchBody) },
    )
    .delete(
      '/guid/:guid',
      observe('DELETE', '/guid/:guid', async ({ request, params, requestId }) => {
        await service.remove(params.guid ?? '', preconditions(request.headers))
        return new Response(null, { status: 204, headers: { 'cache-control': NO_STORE, 'x-request-id': requestId } })
      }),
      { detail: docs.remove },
    )
