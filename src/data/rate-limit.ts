/**
 * A per-client rate limit, as the HTTP guard asks it: local token buckets (src/http/rate-limit.ts),
 * or one bucket per client shared by every instance (src/adapters/redis/rate-limit.ts).
 */
export interface RateLimit {
  /** Bucket size: the requests a client may make at once. */
  readonly burst: number
  /** `RateLimit-Policy` (IETF draft): the bucket size and the seconds it takes to refill. */
  readonly policy: string
  /** Clients whose buckets this instance holds (for /metrics). */
  readonly size: number
  /**
   * Takes a token for `client`: 0 when it had one, else the milliseconds until it will.
   * Synchronous where the bucket is local; a promise that never rejects where it is shared.
   */
  take(client: string): number | Promise<number>
}

/** `RateLimit-Policy` for a bucket of `burst` refilled at `perSecond`. */
export const ratePolicy = (burst: number, perSecond: number): string => `${burst};w=${Math.max(1, Math.ceil(burst / perSecond))}`
