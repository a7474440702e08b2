import { bindingsJsonOf, destinationOf, type Logger } from './logger'

/**
 * One answered request, as the request log sees it: no path (it holds GUIDs), no body, no
 * header. `route` is a route pattern or a fixed word like `unmatched`, never user input.
 */
export type LogRequest = (requestId: string, method: string, route: string, status: number, seconds: number, bytes: number, client: string | undefined) => void

export interface RequestLogOptions {
  /** Share of 2xx lines written, 0..1 (LOG_SAMPLE_2XX); every other status is always written. */
  sample2xx?: number
  /** Uniform in [0, 1): which 2xx lines a sample keeps. Tests pass their own. */
  random?: () => number
}

/** Strings from a small fixed set (methods, route patterns) are quoted once and remembered. */
const QUOTED_MAX = 64

/** Printable ASCII without `"` or `\\`: a JSON string as it stands (request ids, addresses). */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** A JSON string literal; the regex check is cheaper than JSON.stringify for the usual plain id (measured). */
const jsonString = (text: string): string => (PLAIN.test(text) ? `"${text}"` : JSON.stringify(text))

/**
 * The request log: one JSON line per answered request at info, in the same shape pino gives
 * every other line (numeric level, epoch-ms time, the logger's pid/hostname/name, msg last),
 * with the request id, method, route pattern (never the raw path), status, duration, body
 * bytes and client address. It is the one line per request, so it is built here as one
 * template string, without pino's intermediate object and per-key serialisation, and handed
 * to the logger's own destination as a request line (gathered for up to 10 ms into one write; dropped,
 * counted, while the sink does not keep up). Undefined when info is
 * not logged, so the request path skips it with one check.
 *
 * With `sample2xx` < 1 only that share of 2xx lines is written, each carrying `"sample":<rate>`
 * so that counts can be scaled back; 1xx, 3xx, 4xx and 5xx lines are always written.
 */
export const requestLog = (logger: Logger, options: RequestLogOptions = {}): LogRequest | undefined => {
  if (!logger.isLevelEnabled('info')) return undefined
  const destination = destinationOf(logger)
  // Request lines are the ones a sink that does not keep up may drop (LogSink.writeRequest).
  const write = destination.writeRequest === undefined ? (line: string) => void destination.write(line) : (line: string) => destination.writeRequest!(line)
  const head = `{"level":${logger.levels.values.info},"time":`
  const bindings = bindingsJsonOf(logger)
  const rate = Math.min(1, Math.max(0, options.sample2xx ?? 1))
  const random = options.random ?? Math.random
  const tail = rate < 1 ? `,"sample":${rate},"msg":"request"}\n` : ',"msg":"request"}\n'
  const quoted = new Map<string, string>()
  const quote = (text: string): string => {
    let json = quoted.get(text)
    if (json === undefined) {
      json = JSON.stringify(text)
      // Methods come from the request line: remember only a bounded few.
      if (quoted.size < QUOTED_MAX) quoted.set(text, json)
    }
    return json
  }
  const sampled = rate < 1
  return (requestId, method, route, status, seconds, bytes, client) => {
    if (sampled && status >= 200 && status < 300 && random() >= rate) return
    write(
      `${head}${Date.now()}${bindings},"requestId":${jsonString(requestId)},"method":${quote(method)},"route":${quote(route)},"status":${status},"durationMs":${Math.round(seconds * 1e6) / 1e3},"bytes":${bytes},"client":${client === undefined ? '"unknown"' : jsonString(client)}${sampled && status >= 200 && status < 300 ? tail : ',"msg":"request"}\n'}`,
    )
  }
}
