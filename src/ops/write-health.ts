import { type Clock, systemClock } from '../domain/clock'
import type { Logger } from './logger'

/**
 * How long writes must go without a failure before an incident ends. A nearly full disk
 * lets some writes through (a checkpoint frees a little room) between failures; without
 * this, each such success would end the incident and the next failure would log anew.
 */
const QUIET_MS = 1_000

/**
 * Whether a part that takes writes (the SQLite file, the MongoDB server, the Redis journal)
 * can write right now, as the writes themselves found. A failure starts an incident: it is
 * logged once with its cause, then only counted; a write that succeeds (or a readiness
 * probe that does) once no write has failed for QUIET_MS ends it, with one line giving the
 * count. While it lasts, `/readyz` names the part, so a load balancer sends the instance no
 * traffic.
 */
export class WriteHealth {
  private incident: { since: number; lastFailure: number; failures: number; reason: string } | undefined

  constructor(
    readonly part: string,
    private readonly logger: Logger,
    /** A small real write, tried by the readiness check during an incident (no traffic may come to end it otherwise). */
    private readonly probe?: () => Promise<void>,
    private readonly clock: Clock = systemClock,
  ) {}

  get failing(): boolean {
    return this.incident !== undefined
  }

  failed(error: unknown): void {
    const now = this.clock.now()
    if (this.incident !== undefined) {
      this.incident.failures++
      this.incident.lastFailure = now
      return
    }
    const reason = error instanceof Error ? error.message : String(error)
    this.incident = { since: now, lastFailure: now, failures: 1, reason }
    this.logger.error({ err: error, part: this.part }, `${this.part} cannot write: answering 503 to writes until it can`)
  }

  succeeded(): void {
    const incident = this.incident
    if (incident === undefined) return
    const now = this.clock.now()
    if (now - incident.lastFailure < QUIET_MS) return
    this.incident = undefined
    this.logger.warn({ part: this.part, failures: incident.failures, seconds: (now - incident.since) / 1000 }, `${this.part} writes again after ${incident.failures} failed writes`)
  }

  /** For /readyz: throws while writes fail, unless a probe write now succeeds and the quiet period has passed. */
  async check(): Promise<void> {
    const incident = this.incident
    if (incident === undefined) return
    if (this.probe !== undefined) {
      try {
        await this.probe()
        this.succeeded()
      } catch (error) {
        this.failed(error)
      }
    }
    if (this.incident !== undefined) throw new Error(`cannot write (${incident.failures} failed writes since ${new Date(incident.since).toISOString()}): ${incident.reason}`)
  }
}
