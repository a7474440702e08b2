/** A client's X-Request-Id is echoed when it is sane: short, printable, no spaces. */
const SANE = /^[A-Za-z0-9._:\-]{1,128}$/

export const requestIdOf = (request: Request): string => {
  const given = request.headers.get('x-request-id')
  return given !== null && SANE.test(given) ? given : crypto.randomUUID()
}
