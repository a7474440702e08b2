/**
 * Response headers every answer carries, and the stricter set of the docs pages. They are
 * written into each response's header literal where it is built (not added afterwards):
 * one more entry in an object being built anyway costs nothing measurable.
 */
export const NOSNIFF = 'nosniff'

/** The docs page loads only its own files: no CDN, no inline script, no framing. */
export const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export const DOCS_HEADERS = {
  'x-content-type-options': NOSNIFF,
  'content-security-policy': DOCS_CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const

/**
 * Bytes of the request's header section as sent: `name: value\r\n` per field. Bun's parser
 * already refuses more than 16 KiB in all (plain 431); this lets a lower limit answer a
 * problem+json 431 with a request id.
 */
export const headerBytes = (headers: Headers): number => {
  let total = 0
  for (const [name, value] of headers) total += name.length + value.length + 4
  return total
}
