import type { Logger } from './logger'

/** One answered request, as the request log sees it: no path (it holds GUIDs), no body, no header. */
export type LogRequest = (requestId: string, method: string, route: string, status: number, seconds: number, bytes: number, client: string | undefined) => void

/**
 * The request log: one JSON line per answered request at info, with the route pattern (never
 * the raw path), the status, the duration, the body bytes and the client address. Undefined
 * when info is not logged, so the request path skips it with one check.
 */
export const requestLog = (logger: Logger): LogRequest | undefined => {
  if (!logger.isLevelEnabled('info')) return undefined
  return (requestId, method, route, status, seconds, bytes, client) =>
    logger.info({ requestId, method, route, status, durationMs: Math.round(seconds * 1e6) / 1e3, bytes, client: client ?? 'unknown' }, 'request')
}
