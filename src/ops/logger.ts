import pino from 'pino'

export type Logger = pino.Logger

/** Anything pino can write lines to. */
export interface Destination {
  write(line: string): unknown
}

/**
 * Log lines gathered in memory and written together once per event-loop turn, after the
 * requests of that turn are answered: a line costs its serialisation plus an array push
 * (~1.6 us in all, `npm run bench:log`) instead of a write each. The batch is written
 * synchronously (sonic-boom, sync, which retries EAGAIN and partial writes): an
 * asynchronous write still in flight when the process exits is lost, which a test saw
 * happen to the `draining` and `stopped` lines, while a synchronous one is never lost and
 * keeps the lines in order. Memory holds at most one turn's lines.
 */
export class BatchedDestination implements Destination {
  private lines: string[] = []
  private scheduled = false
  private readonly out: { write(chunk: string): boolean; flushSync(): void }

  constructor(fd = 1) {
    this.out = pino.destination({ dest: fd, sync: true }) as never
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

  /** Writes every line still held: on shutdown, before process.exit. */
  flushSync(): void {
    try {
      this.drain()
    } catch {
      // stdout is gone: nothing more can be done.
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
