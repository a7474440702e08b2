import { TIMED_OUT, withTimeout } from '../domain/clock'

/** One thing /readyz asks: throws (or rejects) when it is not ready, with the reason. */
export interface ReadinessCheck {
  name: string
  check(): Promise<void>
}

export interface ReadinessReport {
  ready: boolean
  checks: Record<string, string>
}

const CHECK_TIMEOUT_MS = 2_000

/** Runs every check concurrently, each bounded in time; ready only when all pass and we are not draining. */
export class Readiness {
  draining = false
  constructor(private readonly checks: readonly ReadinessCheck[]) {}

  async report(): Promise<ReadinessReport> {
    const checks: Record<string, string> = {}
    if (this.draining) checks.lifecycle = 'draining'
    await Promise.all(
      this.checks.map(async (c) => {
        try {
          if ((await withTimeout(c.check(), CHECK_TIMEOUT_MS)) === TIMED_OUT) throw new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)
          checks[c.name] = 'ok'
        } catch (error) {
          checks[c.name] = (error as Error).message || 'failed'
        }
      }),
    )
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks }
  }
}
