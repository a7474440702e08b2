import { toAppError } from '../errors'
import { etagOf } from '../guid/etag'
import type { StoredRecord } from '../guid/model'

export const json = (status: number, body: unknown, requestId: string, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers } })

// Records are immutable (a write makes a new object), so a record's JSON can be kept
// with it: a hot GET then serialises nothing.
const bodies = new WeakMap<StoredRecord, string>()
const bodyOf = (r: StoredRecord): string => {
  let body = bodies.get(r)
  if (body === undefined) {
    body = JSON.stringify({ guid: r.guid, user: r.user, expire: r.expire })
    bodies.set(r, body)
  }
  return body
}

/** A record as a response: its public JSON (never the version), its ETag, its caching rule. */
export const recordResponse = (status: number, r: StoredRecord, requestId: string, cacheControl: string, location?: string): Response => {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    etag: etagOf(r.version),
    'cache-control': cacheControl,
    'x-request-id': requestId,
  }
  if (location !== undefined) headers.location = location
  return new Response(bodyOf(r), { status, headers })
}

/** RFC 9457 problem details for any error; unknown errors become opaque 500s. */
export const problemResponse = (error: unknown, instance: string, requestId: string): Response => {
  const appError = toAppError(error)
  return new Response(JSON.stringify(appError.toProblem(instance, requestId)), {
    status: appError.status,
    headers: { 'content-type': 'application/problem+json', 'x-request-id': requestId, ...appError.options.headers },
  })
}
