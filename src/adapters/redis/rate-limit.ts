import { TIMED_OUT, withTimeout } from '../../domain/clock'
import { type RateLimit, ratePolicy } from '../../data/rate-limit'
import { type ScriptClient, Script } from './scripts'

/**
 * GCRA (the generic cell rate algorithm): one key per client holding its theoretical arrival
 * time (TAT, ms on Redis' clock). A request is allowed when, after adding one emission
 * interval T = 1000 / rate, the TAT is at most burst * T ahead of now: the same decisions as a
 * token bucket of `burst` tokens refilled at `rate`, in one number. Redis' own clock (TIME)
 * decides, so instances whose clocks differ still share one limit; the key expires when the
 * bucket would be full again, so idle clients cost nothing.
 * KEYS: the client's key. ARGV: T (ms), burst. Returns 0 (allowed) or the ms until allowed.
 */
export const GCRA_TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local window = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next = tat + interval
if next - now > window then return math.ceil(next - window - now) end
redis.call('SET', KEYS[1], next, 'PX', math.max(1, math.ceil(next - now)))
return 0
`

export interface RedisRateLimitOptions {
  client: ScriptClient
  /** REDIS_PREFIX. */
  prefix: string
  perSecond: number
  burst: number
  timeoutMs: number
  /** This instance's own buckets: what decides while Redis does not answer. */
  fallback: RateLimit
  /** Told when Redis stops deciding (the first failure of a run) and when it decides again. */
  onFallback?(failing: boolean, error?: unknown): void
}

/**
 * The per-client limit shared by every instance on one Redis (or Redis Cluster): one GCRA
 * bucket per client in Redis, so N instances do not give a client N times its limit.
 *
 * A Redis outage must not turn rate limiting into errors: while Redis fails (or does not
 * answer within `timeoutMs`), this instance decides with its own local buckets (fail open
 * to the local limit), so a client gets at most one limit per instance until Redis is back.
 */
export class RedisRateLimit implements RateLimit {
  private readonly script = new Script(GCRA_TAKE)
  private readonly interval: string
  private failing = false
  readonly burst: number
  readonly policy: string

  constructor(private readonly o: RedisRateLimitOptions) {
    if (!(o.perSecond > 0) || !(o.burst >= 1)) throw new TypeError('RedisRateLimit needs perSecond > 0 and burst >= 1')
    this.interval = String(1000 / o.perSecond)
    this.burst = o.burst
    this.policy = ratePolicy(o.burst, o.perSecond)
  }

  /** Clients whose local (fallback) buckets this instance holds; the shared ones live in Redis. */
  get size(): number {
    return this.o.fallback.size
  }

  /** The client's key: its own hash tag, so on a cluster every client's bucket may sit on any slot. */
  keyOf(client: string): string {
    return `${this.o.prefix}rl:{${encodeURIComponent(client)}}`
  }

  async take(client: string): Promise<number> {
    try {
      const reply = await withTimeout(this.script.run(this.o.client, [this.keyOf(client)], [this.interval, String(this.burst)]), this.o.timeoutMs)
      if (reply === TIMED_OUT) throw new Error(`no answer within ${this.o.timeoutMs} ms`)
      if (this.failing) {
        this.failing = false
        this.o.onFallback?.(false)
      }
      return Number(reply)
    } catch (error) {
      if (!this.failing) {
        this.failing = true
        this.o.onFallback?.(true, error)
      }
      return this.o.fallback.take(client)
    }
  }
}
