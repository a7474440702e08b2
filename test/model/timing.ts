/**
 * Real time, as the model sees it. A record with `expire` E (Unix seconds) is live while the
 * server's clock reads less than E seconds, i.e. before the instant E * 1000 ms. A request
 * is decided at some moment between the client sending it (t0) and reading the answer (t1),
 * on the same machine clock; answers that fall within SLACK_MS of an expire boundary may
 * go either way, and the model then follows the answer (which can only ever move a record
 * from live to gone, never back).
 */

/**
 * How close to a boundary an answer may go either way. The service and the suite read one
 * clock, so this only absorbs a coarse or cached clock in the service.
 */
export const SLACK_MS = 500

/** A truth about the server at the moment it decided: certain, or either. */
export type Maybe = 'yes' | 'no' | 'either'

/** Whether a record expiring at `expire` was still live when a request sent at t0 and answered at t1 was decided. */
export const liveDuring = (expire: number, t0: number, t1: number): Maybe => {
  const boundary = expire * 1000
  if (t1 < boundary - SLACK_MS) return 'yes'
  if (t0 >= boundary + SLACK_MS) return 'no'
  return 'either'
}

/**
 * Whether `expire`, sent in a request, lay in the future when the server parsed it. Exact
 * (no slack): the client computed it from the same clock just before sending, so the only
 * doubt is whether the second ticked over while the request was on its way.
 */
export const futureDuring = (expire: number, t0: number, t1: number): Maybe => {
  const boundary = expire * 1000
  if (t1 < boundary) return 'yes'
  if (t0 >= boundary) return 'no'
  return 'either'
}

/** Both answers of a Maybe, as the booleans a decision may assume. */
export const assumptions = (m: Maybe): boolean[] => (m === 'yes' ? [true] : m === 'no' ? [false] : [true, false])

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
