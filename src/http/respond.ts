import { type AppError, toAppError } from '../errors'
import { etagOf } from '../guid/etag'
import { type StoredRecord, toPublic } from '../guid/model'

const JSON_TYPE = 'application/json'

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': JSON_TYPE, ...headers } })

/** A record as a response: its public JSON, its ETag, and caching rules for its method. */
export const recordResponse = (status: number, record: StoredRecord, headers: Record<string, string> = {}): Response =>
  json(status, toPublic(record), { etag: etagOf(record.version), ...headers })

/** RFC 9457 problem details for any error; unknown errors have already become opaque 500s. */
export const problemResponse = (error: unknown, instance: string, requestId: string): Response => {
  const appError: AppError = toAppError(error)
  return new Response(JSON.stringify(appError.toProblem(instance, requestId)), {
    status: appError.status,
    headers: { 'content-type': 'application/problem+json', ...appError.options.headers },
  })
}
