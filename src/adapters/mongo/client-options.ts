import type { MongoClientOptions } from 'mongodb'

/**
 * The driver's timeouts guidd runs with, unless MONGODB_URL sets its own (an option given
 * in code would beat the URL's, so only those the URL leaves out are passed).
 *
 * - serverSelectionTimeoutMS 3 s: /readyz and requests answer 503 within seconds, not 30 s.
 * - socketTimeoutMS 5 s: an operation on a server that died mid-operation fails instead of
 *   never settling (seen under Bun: the GUID's actor then waited forever).
 * - connectTimeoutMS 2 s: it also bounds each heartbeat of the driver's monitor. A monitor
 *   whose connection went silent (the server gone without the socket closing, seen under
 *   Bun) holds the server "unknown" until its heartbeat times out, and every request is 503
 *   meanwhile, with the database back: 30 s at the driver's default (test/e2e/mongo-stranded-monitor).
 */
export const DRIVER_TIMEOUTS = { serverSelectionTimeoutMS: 3_000, socketTimeoutMS: 5_000, connectTimeoutMS: 2_000 } as const satisfies MongoClientOptions

/** The options of `defaults` that the URL's query does not set (option names are case-insensitive there). */
export const unlessInUrl = (url: string, defaults: Readonly<MongoClientOptions>): MongoClientOptions => {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : ''
  const given = new Set(query.split('&').map((pair) => decodeURIComponent(pair.split('=')[0] ?? '').toLowerCase()))
  return Object.fromEntries(Object.entries(defaults).filter(([name]) => !given.has(name.toLowerCase())))
}
