import pino from 'pino'

export type Logger = pino.Logger

/** Anything pino can write lines to. */
export interface Destination {
  write(line: string): unknown
}

/**
 * Log lines gathered in memory and handed to an asynchronous sonic-boom (pino.destination
 * with sync: false) once per event-loop turn: one write per turn instead of one per line.
 * A line then costs its serialisation plus an array push (~1 us in all, measured by
 * `npm run bench:log`). Bounded: past MAX_BUFFERED bytes unwritten (a stuck stdout),
 * sonic-boom drops lines rather than grow memory. flushSync() on shutdown writes everything.
 */
export class BatchedDestination implements Destination {
  private static readonly MAX_BUFFERED = 16 * 1024 * 1024
  private lines: string[] = []
  private scheduled = false
  private readonly out: pino.DestinationStream & { flushSync(): void; write(chunk: string): boolean }

  constructor(fd = 1) {
    this.out = pino.destination({ dest: fd, sync: false, maxLength: BatchedDestination.MAX_BUFFERED }) as never
  }

  write(line: string): boolean {
    this.lines.push(line)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.drain)
    }
    return true
  }

  private readonly drain = (): void => {
    this.scheduled = false
    if (this.lines.length === 0) return
    const text = this.lines.join('')
    this.lines = []
    this.out.write(text)
  }

  /** Writes every line still held, synchronously: on shutdown, before process.exit. */
  flushSync(): void {
    this.drain()
    try {
      this.out.flushSync()
    } catch {
      // Nothing was pending, or stdout is gone: nothing more can be done.
    }
  }
}

/**
 * JSON lines: `level` as a word, `time` in ISO 8601, `service`. Never log bodies, keys or user
 * values at info. Without a destination, lines go to stdout through a BatchedDestination.
 */
export const createLogger = (level: string, destination: Destination = new BatchedDestination()): Logger =>
  pino(
    {
      level,
      base: { service: 'guidd' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination as pino.DestinationStream,
  )

/** Writes out what the logger's destination still holds (a BatchedDestination's buffer). */
export const flushLogger = (logger: Logger): void => {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { flushSync?: () => void } | undefined
  stream?.flushSync?.()
}
