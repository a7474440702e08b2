import pino from 'pino'
import { LogSink } from './log-sink'

export type Logger = pino.Logger

/** Anything pino can write lines to; `writeRequest`, when there, takes the droppable request lines. */
export interface Destination {
  write(line: string): unknown
  writeRequest?(line: string): void
}

/**
 * pino's own line shape, untouched, so that pino-pretty, `--minimumLevel` and log shippers
 * read it as they read any pino service: numeric `level` (30 = info, 40 = warn, 50 = error),
 * `time` in epoch milliseconds, `pid`, `hostname`, `name: "guidd"`, then the event's fields
 * and `msg`. Never log bodies, keys or user values at info. Without a destination, lines go
 * to stdout through a LogSink, whose dropping episodes the logger itself tells at warn.
 */
export const createLogger = (level: string, destination: Destination = new LogSink()): Logger => {
  const logger = pino({ level, name: 'guidd' }, destination as pino.DestinationStream)
  if (destination instanceof LogSink) {
    // At warn even when LOG_LEVEL is quieter (not when silent): lines were lost, an operator must know.
    const told = level === 'silent' ? logger : logger.child({}, { level: 'warn' })
    destination.onShedding = (dropping, dropped) => {
      if (dropping) told.warn('log sink is not keeping up; dropping request log lines')
      else told.warn({ dropped }, 'log sink caught up; request log lines are written again')
    }
  }
  return logger
}

/** Where the logger writes: request-log.ts writes its prebuilt lines there too. */
export const destinationOf = (logger: Logger): Destination => (logger as unknown as Record<symbol, Destination>)[pino.symbols.streamSym]!

/** The logger's bindings as pino serialises them into every line: `,"pid":1,"hostname":"h","name":"guidd"`. */
export const bindingsJsonOf = (logger: Logger): string => (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? ''

/** Lines the logger's sink dropped so far (0 for a destination that never drops). */
export const droppedLinesOf = (logger: Logger): number => {
  const destination = destinationOf(logger)
  return destination instanceof LogSink ? destination.droppedLines : 0
}

/**
 * Waits, at most `timeoutMs`, until every line logged so far is written (before process.exit:
 * the last lines of a shutdown or a fatal error). False when the sink is still stuck.
 */
export const flushLogger = (logger: Logger, timeoutMs: number): Promise<boolean> => {
  const destination = destinationOf(logger)
  return destination instanceof LogSink ? destination.flushWithin(timeoutMs) : Promise.resolve(true)
}

/** At exit (nothing asynchronous runs any more): writes what is gathered, if it can be in order. */
export const flushLoggerSync = (logger: Logger): void => {
  const destination = destinationOf(logger)
  if (destination instanceof LogSink) destination.flushSync()
}
