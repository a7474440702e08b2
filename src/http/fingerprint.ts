import { createHash } from 'node:crypto'

/**
 * The fingerprint that tells a repeat of a request from another request under the same
 * Idempotency-Key.
 */

/** JSON with every object's members in key order: two bodies that differ only in member order or spacing are one body. */
const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value)
}

/** A request as its key remembers it: the parts that change what it does. */
export interface RequestShape {
  method: string
  /** The path with its GUID canonical: `/guid/9094e4c9-...` and `/guid/9094E4C9...` are one resource. */
  path: string
  ifMatch: string | null
  ifNoneMatch: string | null
  /** The body's bytes (empty when none). */
  body: Uint8Array
}

/**
 * SHA-256 of method, path, preconditions and the body normalised (canonical JSON when it
 * parses; the bytes themselves otherwise, so a malformed body is still one request).
 */
export const fingerprintOf = (r: RequestShape): string => {
  let body: string
  try {
    body = `json:${canonicalJson(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(r.body)))}`
  } catch {
    body = `bytes:${Buffer.from(r.body).toString('base64')}`
  }
  return createHash('sha256')
    .update([r.method, r.path, r.ifMatch ?? '', r.ifNoneMatch ?? '', r.body.length === 0 ? '' : body].join('\n'))
    .digest('hex')
}
