import type { Logger } from './logger'

/**
 * Whether a part that takes writes (the SQLite file, the MongoDB server, the Redis journal)
 * can write right now, as the writes themselves found. A failure starts an incident: it is
 * logged once with its cause, then only counted; the first write that succeeds again (or a
 * readiness probe that does) ends it with one line giving the count. While it lasts,
 * `/readyz` names the part, so a load balancer sends the instance no traffic.
 */
export class WriteHealth {
  private incident: { since: number; failures: number; reason: string } | undefined

  constructor(
    readonly part: string,
    private readonly logger: Logger,
    /** A small real write, tried by the readiness check during an incident (no traffic may come to end it otherwise). */
    private readonly probe?: () => Promise<void>,
  ) {}

  get failing(): boolean {
    return this.incident !== undefined
  }

  failed(error: unknown): void {
    if (this.incident !== undefined) {
      this.incident.failures++
      return
    }
    const reason = error instanceof Error ? error.message : String(error)
    this.incident = { since: Date.now(), failures: 1, reason }
    this.logger.error({ err: error, part: this.part }, `${this.part} cannot write: answering 503 to writes until it can`)
  }

  succeeded(): void {
    const incident = this.incident
    if (incident === undefined) return
    this.incident = undefined
    this.logger.warn({ part: this.part, failures: incident.failures, seconds: (Date.now() - incident.since) / 1000 }, `${this.part} writes again after ${incident.failures} failed writes`)
  }

  /** For /readyz: throws while writes fail, unless a probe write now succeeds. */
  async check(): Promise<void> {
    const incident = this.incident
    if (incident === undefined) return
    if (this.probe !== undefined) {
      try {
        await this.probe()
        this.succeeded()
        return
      } catch {
        // Still failing: report the incident as it began.
      }
    }
    throw new Error(`cannot write (${incident.failures} failed writes since ${new Date(incident.since).toISOString()}): ${incident.reason}`)
  }
}
