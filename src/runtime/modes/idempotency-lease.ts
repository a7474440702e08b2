import type { Config } from '../config'

/**
 * How long an Idempotency-Key claim holds without an answer, where other instances see it
 * (Redis, MongoDB): past the request's own deadline (REQUEST_TIMEOUT_MS, 10 s when it is
 * off), so only the claim of a request whose instance died is taken over by a retry.
 */
export const idempotencyLeaseMs = (config: Config): number => (config.REQUEST_TIMEOUT_MS > 0 ? config.REQUEST_TIMEOUT_MS : 10_000) + 1_000
