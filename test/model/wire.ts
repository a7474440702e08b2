import { bodyBytes, type Segment } from './body'

/** One request as sent: method, path, headers, and the body's segments (null: no body). */
export interface Req {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  headers: Record<string, string>
  body: Segment[] | null
}

/** One answer as received, with when the request was sent (t0) and its answer read (t1), in ms. */
export interface Observed {
  status: number
  etag: string | null
  location: string | null
  contentType: string | null
  retryAfter: string | null
  /** `Idempotent-Replayed`: the answer kept under the request's Idempotency-Key. */
  replayed: string | null
  /** `Link` (a listing's next page). */
  link: string | null
  text: string
  /** The body parsed as JSON, when it is JSON. */
  json: any
  t0: number
  t1: number
}

/** Longer than the service's own REQUEST_TIMEOUT_MS (10 s), so a stuck request shows as its 503 first. */
const REQUEST_TIMEOUT_MS = 15_000

export const send = async (base: string, req: Req): Promise<Observed> => {
  const headers: Record<string, string> = { ...req.headers }
  let body: Uint8Array<ArrayBuffer> | undefined
  if (req.body !== null) {
    body = bodyBytes(req.body)
    headers['content-type'] = 'application/json'
  }
  const t0 = Date.now()
  const res = await fetch(`${base}${req.path}`, { method: req.method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const text = await res.text()
  const t1 = Date.now()
  let json: any
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  return {
    status: res.status,
    etag: res.headers.get('etag'),
    location: res.headers.get('location'),
    contentType: res.headers.get('content-type'),
    retryAfter: res.headers.get('retry-after'),
    replayed: res.headers.get('idempotent-replayed'),
    link: res.headers.get('link'),
    text,
    json,
    t0,
    t1,
  }
}

/** A short line for transcripts: status, ETag, body. */
export const summary = (o: Observed): string => `${o.status}${o.etag ? ` ETag ${o.etag}` : ''}${o.text ? ` ${o.text.length > 300 ? `${o.text.slice(0, 300)}…` : o.text}` : ''}`
