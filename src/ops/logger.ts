import pino from 'pino'

export type Logger = pino.Logger

/** JSON lines on stdout (or the given stream). Never log bodies, keys or user values at info. */
export const createLogger = (level: string, destination?: pino.DestinationStream): Logger =>
  pino({ level, base: { service: 'guidd' }, timestamp: pino.stdTimeFunctions.isoTime }, destination)
