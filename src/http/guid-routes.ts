import { Elysia } from 'elysia'
import { CreateBody, PatchBody, UpsertBody } from '../guid/model'
import { etagOf, noneMatchFails } from '../guid/etag'
import type { GuidService, Preconditions } from '../guid/service'
import { readJsonBody } from './body'
import { docs } from './openapi'
import { recordResponse } from './respond'
import { validate } from './validate'

const preconditions = (headers: Headers): Preconditions => ({
  ifMatch: headers.get('if-match') ?? undefined,
  ifNoneMatch: headers.get('if-none-match') ?? undefined,
})

const NO_STORE = { 'cache-control': 'no-store' }
const created = (guid: string) => ({ ...NO_STORE, location: `/guid/${guid}` })

/** The /guid routes (SPEC §3): thin: take plain values out of the request, call the service. */
export const guidRoutes = (service: GuidService) =>
  new Elysia({ name: 'guid-routes' })
    .post(
      '/guid',
      async ({ request }) => {
        const record = await service.create(validate(CreateBody, await readJsonBody(request)))
        return recordResponse(201, record, created(record.guid))
      },
      { detail: docs.create(CreateBody) },
    )
    .get(
      '/guid/:guid',
      async ({ params, request }) => {
        const record = await service.get(params.guid)
        const ifNoneMatch = request.headers.get('if-none-match')
        if (ifNoneMatch !== null && noneMatchFails(ifNoneMatch, record.version)) {
          return new Response(null, { status: 304, headers: { etag: etagOf(record.version), 'cache-control': 'no-cache' } })
        }
        return recordResponse(200, record, { 'cache-control': 'no-cache' })
      },
      { detail: docs.get },
    )
    .post(
      '/guid/:guid',
      async ({ params, request }) => {
        const body = validate(UpsertBody, await readJsonBody(request))
        const { record, created: isNew } = await service.upsert(params.guid, body, preconditions(request.headers))
        return recordResponse(isNew ? 201 : 200, record, isNew ? created(record.guid) : NO_STORE)
      },
      { detail: docs.upsert(UpsertBody) },
    )
    .patch(
      '/guid/:guid',
      async ({ params, request }) => {
        const body = validate(PatchBody, await readJsonBody(request))
        return recordResponse(200, await service.patch(params.guid, body, preconditions(request.headers)), NO_STORE)
      },
      { detail: docs.patch(PatchBody) },
    )
    .delete(
      '/guid/:guid',
      async ({ params, request }) => {
        await service.remove(params.guid, preconditions(request.headers))
        return new Response(null, { status: 204, headers: NO_STORE })
      },
      { detail: docs.remove },
    )
