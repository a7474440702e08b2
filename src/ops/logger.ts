import { writeSync } from 'node:fs'
import pino from 'pino'

export type Logger = pino.Logger

/** Anything pino can write lines to. */
export interface Destination {
  write(line: string): unknown
}

/**
 * Writes all of `text` to `fd` synchronously: a short write continues with the rest, and a
 * full non-blocking pipe (EAGAIN) is waited out a millisecond at a time, as sonic-boom does.
 * The string is encoded once, by the write itself; sonic-boom (pino.destination) measured
 * ~0.4 us more per line because it splits batches at 16 KiB and re-encodes each written
 * chunk to a Buffer to find what is left.
 */
export const writeAllSync = (fd: number, text: string): void => {
  let rest: string | Buffer = text
  for (;;) {
    let written: number
    try {
      written = typeof rest === 'string' ? writeSync(fd, rest) : writeSync(fd, rest, 0, rest.length)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
      Bun.sleepSync(1)
      continue
    }
    const total = typeof rest === 'string' ? Buffer.byteLength(rest) : rest.length
    if (written >= total) return
    rest = (typeof rest === 'string' ? Buffer.from(rest) : rest).subarray(written)
  }
}

/**
 * Log lines gathered in memory and written together once per event-loop turn, after the
 * requests of that turn are answered: a line costs its serialisation plus a string append
 * instead of a write each. The batch is written synchronously: an asynchronous write still
 * in flight when the process exits is lost, which a test saw happen to the `draining` and
 * `stopped` lines, while a synchronous one is never lost and keeps the lines in order.
 * Memory holds at most one turn's lines.
 */
export class BatchedDestination implements Destination {
  // One growing string: the engine appends to a rope and flattens it once, at the write.
  private pending = ''
  private scheduled = false

  constructor(private readonly fd = 1) {}

  write(line: string): boolean {
    this.pending += line
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.drain)
    }
    return true
  }

  private readonly drain = (): void => {
    this.scheduled = false
    if (this.pending === '') return
    const text = this.pending
    this.pending = ''
    try {
      writeAllSync(this.fd, text)
    } catch {
      // The output is gone (EPIPE, EBADF): the lines cannot go anywhere, and a service must
      // not stop answering because nobody reads its log.
    }
  }

  /** Writes every line still held: on shutdown, before process.exit. */
  flushSync(): void {
    this.drain()
  }
}

/**
 * pino's own line shape, untouched, so that pino-pretty, `--minimumLevel` and log shippers
 * read it as they read any pino service: numeric `level` (30 = info, 40 = warn, 50 = error),
 * `time` in epoch milliseconds, `pid`, `hostname`, `name: "guidd"`, then the event's fields
 * and `msg`. Never log bodies, keys or user values at info. Without a destination, lines go
 * to stdout through a BatchedDestination.
 */
export const createLogger = (level: string, destination: Destination = new BatchedDestination()): Logger => pino({ level, name: 'guidd' }, destination as pino.DestinationStream)

/** Where the logger writes: request-log.ts writes its prebuilt lines there too. */
export const destinationOf = (logger: Logger): Destination => (logger as unknown as Record<symbol, Destination>)[pino.symbols.streamSym]!

/** The logger's bindings as pino serialises them into every line: `,"pid":1,"hostname":"h","name":"guidd"`. */
export const bindingsJsonOf = (logger: Logger): string => (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? ''

/** Writes out what the logger's destination still holds (a BatchedDestination's buffer). */
export const flushLogger = (logger: Logger): void => {
  ;(destinationOf(logger) as { flushSync?: () => void } | undefined)?.flushSync?.()
}
