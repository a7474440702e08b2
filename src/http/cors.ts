/** What a browser script may send and read across origins: the API's own request and response headers. */
const ALLOW_HEADERS = 'Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-Id'
const EXPOSE_HEADERS = 'ETag, Location, Link, Idempotent-Replayed, Retry-After, X-Request-Id, WWW-Authenticate, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy'
const MAX_AGE = '600'

/**
 * CORS, off unless CORS_ORIGINS names origins (or `*`). No credentials mode: the API
 * authenticates with a bearer header, never cookies, so `*` is safe to offer.
 */
export class Cors {
  private readonly any: boolean
  private readonly origins: ReadonlySet<string>

  constructor(setting: string) {
    const list = setting
      .split(',')
      .map((o) => o.trim().replace(/\/$/, '').toLowerCase())
      .filter((o) => o !== '')
    this.any = list.includes('*')
    this.origins = new Set(list)
  }

  private allows(origin: string): boolean {
    return this.any || this.origins.has(origin.toLowerCase())
  }

  /** Adds the CORS headers an actual response needs (nothing for a request without Origin or from another origin). */
  apply(request: Request, headers: Headers): void {
    const origin = request.headers.get('origin')
    if (this.any) {
      headers.set('access-control-allow-origin', '*')
      headers.set('access-control-expose-headers', EXPOSE_HEADERS)
      return
    }
    headers.append('vary', 'Origin')
    if (origin === null || !this.allows(origin)) return
    headers.set('access-control-allow-origin', origin)
    headers.set('access-control-expose-headers', EXPOSE_HEADERS)
  }

  /** The headers answering a preflight (`OPTIONS` with Access-Control-Request-Method) for a route allowing `allow`. */
  preflight(request: Request, allow: string): Record<string, string> {
    const origin = request.headers.get('origin')
    const headers: Record<string, string> = { allow: `${allow}, OPTIONS`, vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers' }
    if (origin !== null && this.allows(origin)) {
      headers['access-control-allow-origin'] = this.any ? '*' : origin
      headers['access-control-allow-methods'] = allow
      headers['access-control-allow-headers'] = ALLOW_HEADERS
      headers['access-control-max-age'] = MAX_AGE
    }
    return headers
  }
}
