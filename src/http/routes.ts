/**
 * The route table as the HTTP edge sees it: used for 405 + Allow and for the bounded
 * `route` label of metrics (never the raw path, whose cardinality is unbounded).
 */
const ALLOW: Record<string, string> = {
  '/guid': 'POST',
  '/guid/:guid': 'GET, HEAD, POST, PATCH, DELETE',
  '/healthz': 'GET, HEAD',
  '/readyz': 'GET, HEAD',
  '/metrics': 'GET, HEAD',
  '/docs': 'GET, HEAD',
  '/docs/json': 'GET, HEAD',
}

export const pathOf = (url: string): string => {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start === -1) return '/'
  const query = url.indexOf('?', start)
  return query === -1 ? url.slice(start) : url.slice(start, query)
}

/** The route pattern a path belongs to, or 'unmatched'. */
export const routeOf = (path: string): string => {
  if (path.startsWith('/guid/') && path.length > 6 && path.indexOf('/', 6) === -1) return '/guid/:guid'
  if (path in ALLOW) return path
  return path.startsWith('/docs/') ? '/docs/*' : 'unmatched'
}

/** The methods a known route allows, or undefined for an unknown path. */
export const allowedMethods = (path: string): string | undefined => ALLOW[routeOf(path)]
