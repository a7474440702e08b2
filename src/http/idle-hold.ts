import type { Deadlines } from './deadlines'

/** Sets the idle timeout of a request's connection (main.ts: Bun's `server.timeout(request, seconds)`; 0: none). */
export type SetIdleTimeout = (request: Request, seconds: number) => void

/**
 * Bun checks idle timeouts in 4-second steps (docs/operations.md): a timeout of S seconds
 * closes a silent connection between S - 4 and S seconds after its last byte.
 */
const BUN_IDLE_STEP_SECONDS = 4
/** The most Bun accepts for an idle timeout. */
const BUN_IDLE_MAX_SECONDS = 255

/**
 * IDLE_TIMEOUT_SECONDS is for clients that go silent. While the service works on a request the
 * connection is silent too, and Bun would close it as idle (from S - 4 s on, before the 503
 * timeout that REQUEST_TIMEOUT_MS promises, which fires up to a deadline tick late): the client
 * got no answer at all, and a client that sent it on a kept-alive connection sent it again
 * (found by the model-based tests: a GET with no answer in 15 s while MongoDB was down). So a
 * request whose handler goes on past its first turn holds its connection open until its
 * deadline can have fired, and gives it back to IDLE_TIMEOUT_SECONDS once answered. An event
 * stream's connection is exempt for good (it is silent between heartbeats by design).
 */
export class IdleHold {
  private readonly exempted = new WeakSet<Request>()
  private readonly holdSeconds: number

  constructor(
    private readonly set: SetIdleTimeout,
    private readonly idleSeconds: number,
    deadlines: Pick<Deadlines, 'timeoutMs' | 'tickMs'>,
  ) {
    const seconds = Math.ceil((deadlines.timeoutMs + deadlines.tickMs) / 1000) + BUN_IDLE_STEP_SECONDS
    this.holdSeconds = seconds > BUN_IDLE_MAX_SECONDS ? 0 : Math.max(seconds, idleSeconds)
  }

  /** No idle timeout for this request's connection (an event stream). */
  readonly exempt = (request: Request): void => {
    this.exempted.add(request)
    this.set(request, 0)
  }

  /** The request's answer is not ready yet: its connection stays open until its deadline has fired. */
  hold(request: Request): void {
    if (!this.exempted.has(request)) this.set(request, this.holdSeconds)
  }

  /** Answered: the connection is the client's again, silent for IDLE_TIMEOUT_SECONDS at most. */
  release(request: Request): void {
    if (!this.exempted.has(request)) this.set(request, this.idleSeconds)
  }
}
