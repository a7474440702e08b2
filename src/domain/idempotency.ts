import { createHash } from 'node:crypto'
import { invalid } from './errors'

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): the key as the service takes
 * it, and the fingerprint that tells a repeat of a request from another request under the
 * same key.
 */

export const IDEMPOTENCY_KEY_MAX = 255

const HEADER = 'Idempotency-Key'

/**
 * The key of an `Idempotency-Key` value: an RFC 8941 sf-string (`"..."`: printable ASCII,
 * with `\"` and `\\` the only escapes) of 1 to 255 characters once unescaped, and nothing
 * else (no parameters, no other item type). Anything else is a 400: a client that sends a
 * key it believes protects its retries must learn at once that it does not.
 */
export const parseIdempotencyKey = (raw: string): string => {
  // HTTP has already stripped the field value's surrounding whitespace: none is allowed here (as the OpenAPI pattern says).
  const value = raw
  const bad = (why: string) => invalid(HEADER, `${HEADER} must be a structured-field string of 1 to ${IDEMPOTENCY_KEY_MAX} characters, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324": ${why}`)
  if (value.length < 2 || value[0] !== '"' || value[value.length - 1] !== '"') throw bad('it is not in double quotes')
  let key = ''
  let closed = false
  for (let i = 1; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 0x5c) {
      const next = value[++i]
      if (next !== '"' && next !== '\\') throw bad('a backslash escapes only " and \\')
      key += next
    } else if (c === 0x22) {
      if (i !== value.length - 1) throw bad('an unescaped " ends the string early')
      closed = true
    } else if (c < 0x20 || c > 0x7e) throw bad('only printable ASCII characters are allowed')
    else key += value[i]
  }
  if (!closed) throw bad('it is not in double quotes')
  if (key.length === 0) throw bad('it is empty')
  if (key.length > IDEMPOTENCY_KEY_MAX) throw bad(`it has ${key.length} characters`)
  return key
}

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
