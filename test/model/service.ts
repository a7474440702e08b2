import type { Started } from '../support/process'
import { startGuidd } from '../support/guidd-process'

/**
 * The real service under test: `bun run src/main.ts` on a free port, restartable on the
 * same data (kill -9, then start again with the same environment). One per mode, shared by
 * every run of that mode; each run uses GUIDs of its own, so runs do not see each other.
 */

/** The default lifetime the model assumes for a create without `expire` (README: 30 days). */
export const DEFAULT_TTL_SECONDS = 2_592_000

/** How long a (re)start may take to answer /readyz 200 (a loaded 2-core machine; Redis claims included). */
const READY_TIMEOUT_MS = 20_000

export class Service {
  private current: Started | undefined
  /** Every process started, so cleanup stops each by its PID. */
  private readonly all: Started[] = []
  restarts = 0

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {}

  get base(): string {
    if (this.current === undefined) throw new Error(`${this.name}: the service is not running`)
    return `http://127.0.0.1:${this.current.port}`
  }

  get pid(): number | undefined {
    return this.current?.proc.pid
  }

  async start(): Promise<void> {
    const env = {
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      // Empty is unset: nothing of the runner's own environment changes what is tested.
      API_KEYS: '',
      API_KEYS_FILE: '',
      MONGODB_URL: '',
      REDIS_URL: '',
      RATE_LIMIT_PER_SECOND: '0',
      DEFAULT_TTL_SECONDS: String(DEFAULT_TTL_SECONDS),
      // Sweep often, so expired rows are deleted from the store while the model runs.
      SWEEP_INTERVAL_MS: '1000',
      ...this.env,
    }
    // Its own wait for /readyz: the same one follows a fault, and its failure tells the last answer.
    this.current = await startGuidd({ env, name: `guidd (${this.name})`, started: this.all, ready: null })
    await this.waitReady()
  }

  /** kill -9, then start again on the same data. */
  async crashAndRestart(): Promise<void> {
    await this.current?.kill9()
    this.current = undefined
    this.restarts++
    await this.start()
  }

  /** Stops it as an operator does (SIGTERM: it drains and exits), runs `between`, and starts it again on the same data. */
  async stopAndStart(between: () => Promise<void>): Promise<void> {
    const code = await this.current?.stop(10_000)
    if (code !== 0) throw new Error(`${this.name}: SIGTERM ended it with ${code}, not 0\n${this.output()}`)
    this.current = undefined
    await between()
    await this.start()
  }

  /** Waits, bounded, until /readyz answers 200 (after a start, or a fault is lifted). */
  async waitReady(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let last = ''
    for (;;) {
      try {
        const r = await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(2_000) })
        last = `${r.status} ${await r.text()}`
        if (r.status === 200) return
      } catch (error) {
        last = String(error)
      }
      if (Date.now() > deadline) throw new Error(`${this.name}: /readyz did not answer 200 within ${timeoutMs} ms (last: ${last})\n${this.output()}`)
      await Bun.sleep(50)
    }
  }

  /** The current process's output, for failure messages. */
  output(): string {
    const text = this.current?.output() ?? ''
    return text.length > 4_000 ? `…${text.slice(-4_000)}` : text
  }

  async stop(): Promise<void> {
    for (const s of this.all) await s.stop(2_000)
    this.current = undefined
  }
}
