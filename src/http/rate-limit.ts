import { LRUCache } from 'lru-cache'
import type { Clock } from '../domain/clock'
import { type RateLimit, ratePolicy } from '../data/rate-limit'

interface Bucket {
  tokens: number
  /** When `tokens` was last brought up to date (clock ms). */
  at: number
}

export interface RateLimitOptions {
  /** Tokens added per second: the sustained request rate. */
  perSecond: number
  /** Bucket size: the requests a client may make at once. */
  burst: number
  /** Most clients remembered; the least recently seen are forgotten (and start again full). */
  maxClients: number
  clock: Clock
}

/**
 * A token bucket per client (an API key's id, else the client address). Buckets are kept
 * in an LRU bounded by client count, so a crowd of addresses cannot grow memory without
 * bound; time comes from the injected clock, so tests advance it instead of waiting.
 */
export class RateLimiter implements RateLimit {
  private readonly buckets: LRUCache<string, Bucket>
  private readonly perMs: number
  readonly burst: number
  /** `RateLimit-Policy` (IETF draft): the bucket size and the seconds it takes to refill. */
  readonly policy: string

  constructor(private readonly options: RateLimitOptions) {
    if (!(options.perSecond > 0) || !(options.burst >= 1) || !(options.maxClients >= 1)) throw new TypeError('RateLimiter needs perSecond > 0, burst >= 1 and maxClients >= 1')
    this.buckets = new LRUCache({ max: options.maxClients })
    this.perMs = options.perSecond / 1000
    this.burst = options.burst
    this.policy = ratePolicy(options.burst, options.perSecond)
  }

  /** Clients currently remembered. */
  get size(): number {
    return this.buckets.size
  }

  /** Takes a token for `client`: 0 when it had one, else the milliseconds until it will. */
  take(client: string): number {
    const now = this.options.clock.now()
    const bucket = this.buckets.get(client)
    if (bucket === undefined) {
      this.buckets.set(client, { tokens: this.burst - 1, at: now })
      return 0
    }
    const tokens = Math.min(this.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.perMs)
    bucket.at = now
    if (tokens >= 1) {
      bucket.tokens = tokens - 1
      return 0
    }
    bucket.tokens = tokens
    return Math.ceil((1 - tokens) / this.perMs)
  }
}
