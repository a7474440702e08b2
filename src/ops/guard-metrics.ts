import type { Registry } from 'prom-client'
import { registerCollector } from './collector'

/** What the sizes of the guards' state are read from at scrape time. */
export interface GuardSources {
  apiKeys: () => number
  rateLimitClients: () => number
}

/**
 * Counts of requests the guards in front of the handlers turned away (auth, rate limit,
 * header size, timeout): plain numbers bumped on the request path, read at scrape time.
 */
export class GuardMetrics {
  authMissing = 0
  authInvalid = 0
  rateLimited = 0
  timeouts = 0
  headersTooLarge = 0
  keyReloads = 0
  keyReloadFailures = 0

  constructor(registry: Registry, sources: GuardSources) {
    registerCollector(registry, 'guidd_auth_failures_total', 'Requests refused 401: no bearer key (reason="missing") or a key that matches none (reason="invalid").', 'counter', () => [
      { value: this.authMissing, labels: { reason: 'missing' } },
      { value: this.authInvalid, labels: { reason: 'invalid' } },
    ])
    registerCollector(registry, 'guidd_rate_limited_total', 'Requests refused 429 by the per-client rate limit.', 'counter', () => [{ value: this.rateLimited, labels: {} }])
    registerCollector(registry, 'guidd_request_timeouts_total', 'Requests answered 503 timeout because they outlived REQUEST_TIMEOUT_MS.', 'counter', () => [{ value: this.timeouts, labels: {} }])
    registerCollector(registry, 'guidd_request_headers_too_large_total', 'Requests refused 431 because their headers exceeded MAX_HEADER_BYTES.', 'counter', () => [
      { value: this.headersTooLarge, labels: {} },
    ])
    registerCollector(registry, 'guidd_api_keys', 'Bearer keys currently accepted.', 'gauge', () => [{ value: sources.apiKeys(), labels: {} }])
    registerCollector(registry, 'guidd_api_key_reloads_total', 'API key reloads (SIGHUP), by result.', 'counter', () => [
      { value: this.keyReloads, labels: { result: 'ok' } },
      { value: this.keyReloadFailures, labels: { result: 'failed' } },
    ])
    registerCollector(registry, 'guidd_rate_limit_clients', 'Clients whose rate-limit buckets are remembered.', 'gauge', () => [{ value: sources.rateLimitClients(), labels: {} }])
  }
}
