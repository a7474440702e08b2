import { type ApiKeys, NO_CREDENTIALS, WRONG_KEY } from './api-keys'
import type { GuardMetrics } from '../ops/guard-metrics'
import { headerBytes } from './headers'
import type { RateLimit } from '../data/rate-limit'
import { problem, type Reply } from './respond'
import { pathOf } from './path'

/** What a route asks of the guard: a bearer key (when keys are configured), the rate limit. */
export interface RoutePolicy {
  readonly auth: boolean
  readonly limit: boolean
}

export interface GuardOptions {
  /** Undefined when no key is configured: every route is open. */
  keys: ApiKeys | undefined
  /** Undefined when RATE_LIMIT_PER_SECOND is 0. */
  limiter: RateLimit | undefined
  /** 0: only Bun's own limit. */
  maxHeaderBytes: number
  metrics: GuardMetrics
}

// RFC 6750 §3: a request with no credentials gets the bare challenge; a wrong key, invalid_token.
const CHALLENGE = { 'www-authenticate': 'Bearer realm="guidd"' }
const CHALLENGE_INVALID = { 'www-authenticate': 'Bearer realm="guidd", error="invalid_token"' }

/**
 * The checks in front of every observed handler, cheapest first: header size (431), rate
 * limit (429, per API key, else per client address, so guessing keys is throttled too), bearer
 * key (401). Answers the refusal, or undefined to let the request through.
 */
export class Guard {
  constructor(private readonly options: GuardOptions) {}

  /** Whether `check` can refuse anything under this policy; when not, observe skips it. */
  active(policy: RoutePolicy): boolean {
    const { keys, limiter, maxHeaderBytes } = this.options
    return maxHeaderBytes > 0 || (policy.auth && keys !== undefined) || (policy.limit && limiter !== undefined)
  }

  /** Whether `check` needs the client address for this policy (it is computed once per request). */
  needsClient(policy: RoutePolicy): boolean {
    return policy.limit && this.options.limiter !== undefined
  }

  /**
   * The refusal, or undefined to let the request through; a promise only when the rate limit's
   * buckets are shared (in Redis), so a local check stays synchronous.
   */
  check(request: Request, policy: RoutePolicy, reply: Reply, client: string | undefined): Response | undefined | Promise<Response | undefined> {
    const { keys, limiter, maxHeaderBytes, metrics } = this.options
    if (maxHeaderBytes > 0 && headerBytes(request.headers) > maxHeaderBytes) {
      metrics.headersTooLarge++
      return problem('header-too-large', `The request headers exceed ${maxHeaderBytes} bytes.`, pathOf(request.url), reply)
    }
    const key = policy.auth && keys !== undefined ? keys.verify(request.headers.get('authorization')) : NO_CREDENTIALS
    if (policy.limit && limiter !== undefined) {
      const waitMs = limiter.take(key >= 0 ? keys!.idOf(key) : `ip:${client ?? 'unknown'}`)
      if (waitMs instanceof Promise) return waitMs.then((ms) => this.afterLimit(ms, limiter, key, request, policy, reply))
      return this.afterLimit(waitMs, limiter, key, request, policy, reply)
    }
    return this.authorize(key, request, policy, reply)
  }

  private afterLimit(waitMs: number, limiter: RateLimit, key: number, request: Request, policy: RoutePolicy, reply: Reply): Response | undefined {
    if (waitMs > 0) {
      this.options.metrics.rateLimited++
      const seconds = String(Math.max(1, Math.ceil(waitMs / 1000)))
      return problem('rate-limited', `Too many requests from this client; retry in ${seconds} s.`, pathOf(request.url), reply, {
        'retry-after': seconds,
        'ratelimit-limit': String(limiter.burst),
        'ratelimit-remaining': '0',
        'ratelimit-reset': seconds,
        'ratelimit-policy': limiter.policy,
      })
    }
    return this.authorize(key, request, policy, reply)
  }

  private authorize(key: number, request: Request, policy: RoutePolicy, reply: Reply): Response | undefined {
    const { keys, metrics } = this.options
    if (key < 0 && policy.auth && keys !== undefined) {
      if (key === WRONG_KEY) {
        metrics.authInvalid++
        return problem('unauthorized', 'The bearer key is not valid.', pathOf(request.url), reply, CHALLENGE_INVALID)
      }
      metrics.authMissing++
      return problem('unauthorized', 'Send a key: Authorization: Bearer <key>.', pathOf(request.url), reply, CHALLENGE)
    }
    return undefined
  }
}
