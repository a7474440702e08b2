import { invalid } from './errors'

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): the key as the service takes it.
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
