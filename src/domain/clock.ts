/** Time as the service sees it. Injected everywhere so tests never wait for time to pass. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** Whole Unix seconds, the unit of `expire`. */
export const nowSeconds = (clock: Clock): number => Math.floor(clock.now() / 1000)

/** A clock that only moves when told to; for tests and benchmarks. */
export class ManualClock implements Clock {
  constructor(private ms: number = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.ms
  }
  advance(ms: number): void {
    this.ms += ms
  }
  set(ms: number): void {
    this.ms = ms
  }
}

/** What `withTimeout` answers when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol('timed out')

/** `promise`'s outcome, or TIMED_OUT once `ms` have passed; the timer never keeps the process alive. */
export const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms)
    timer.unref?.()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** One instant by which several steps must be done (a shutdown): each asks what is left. */
export class Deadline {
  private readonly at: number

  constructor(
    ms: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.at = clock.now() + ms
  }

  get remainingMs(): number {
    return Math.max(0, this.at - this.clock.now())
  }
}
