/**
 * `npm run bench:log`: what the request log costs the request path, two ways.
 *
 * 1. One line: N request lines through the service's own logger and destination (stdout,
 *    which should be sent to /dev/null or a file), the event-loop turns included so the
 *    deferred batched write is counted too.
 * 2. A hot GET in-process (app.handle, no socket) with the request log off (LOG_LEVEL=warn), on
 *    (info, every line) and sampled (LOG_SAMPLE_2XX=0.1), interleaved rounds, best of each.
 *    The log goes to /dev/null; the event loop turns every TURN requests, as a busy server's
 *    would, so the batched write happens inside the timed loop.
 *
 *   npm run --silent bench:log > /dev/null
 */
import { openSync } from 'node:fs'
import { LogSink } from '../src/ops/log-sink'
import { createLogger, flushLogger, type Logger } from '../src/ops/logger'
import { type LogRequest, requestLog } from '../src/ops/request-log'
import { createTestApp, type TestApp } from '../test/support/app'

const N = Number(Bun.env.BENCH_LINES ?? 100_000)
const REQUESTS = Number(Bun.env.BENCH_REQUESTS ?? 50_000)
const ROUNDS = Number(Bun.env.BENCH_ROUNDS ?? 5)
const TURN = 100 // lines (requests) per event-loop turn, as a busy server would log between writes
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

const lineCost = async (): Promise<string> => {
  // The same line through pino's own serialisation (what request-log.ts did before it built
  // the line itself), for comparison.
  const viaPino = createLogger('info')
  const viaPinoLog = (requestId: string, method: string, route: string, status: number, seconds: number, bytes: number, client: string | undefined) =>
    viaPino.info({ requestId, method, route, status, durationMs: Math.round(seconds * 1e6) / 1e3, bytes, client }, 'request')
  const logger = createLogger('info')
  const variants: Array<[string, LogRequest, Logger]> = [
    ['pino logger.info({...}), same fields', viaPinoLog, viaPino],
    ['request-log.ts (prebuilt line)', requestLog(logger)!, logger],
  ]
  const run = async ([, log, owner]: [string, LogRequest, Logger]): Promise<number> => {
    const started = performance.now()
    for (let i = 0; i < N; i += TURN) {
      for (let j = 0; j < TURN; j++) log('5156df71-9b68-1a2b', 'GET', '/guid/:guid', 200, 0.000123, 74, '192.0.2.7')
      await turn()
    }
    await flushLogger(owner, 10_000)
    return ((performance.now() - started) * 1e6) / N
  }
  for (const v of variants) await run(v) // warm-up
  const best = variants.map(() => Infinity)
  for (let round = 0; round < ROUNDS; round++) for (let v = 0; v < variants.length; v++) best[v] = Math.min(best[v]!, await run(variants[v]!))
  const noop = performance.now()
  for (let i = 0; i < N; i += TURN) await turn()
  const turnCost = ((performance.now() - noop) * 1e6) / N
  const rows = variants.map(([name], v) => `| ${name} | ${best[v]!.toFixed(0)} |`)
  return [`one request log line to stdout, best of ${ROUNDS} x ${N} (event-loop turns alone: ${turnCost.toFixed(0)} ns per line)`, '| line built by | ns per line |', '|---|---:|', ...rows].join('\n')
}

const getCost = async (): Promise<string> => {
  const devNull = (level: string) => ({ logger: createLogger(level, new LogSink({ fd: openSync('/dev/null', 'w') })), clientAddress: () => '192.0.2.7' })
  const variants: Array<[string, TestApp]> = [
    ['log off (LOG_LEVEL=warn)', await createTestApp({}, devNull('warn'))],
    ['log on (LOG_LEVEL=info)', await createTestApp({}, devNull('info'))],
    ['log on, LOG_SAMPLE_2XX=0.1', await createTestApp({ LOG_SAMPLE_2XX: '0.1' }, devNull('info'))],
  ]
  const headers = { host: '127.0.0.1:8888', 'user-agent': 'wrk', accept: '*/*' }
  const urls: string[] = []
  for (const [, app] of variants) {
    const res = await app.req('POST', '/guid', { user: 'hot' }, headers)
    urls.push(`http://localhost/guid/${((await res.json()) as { guid: string }).guid}`)
  }
  const best = variants.map(() => Infinity)
  for (let round = 0; round < ROUNDS; round++) {
    for (let v = 0; v < variants.length; v++) {
      const handle = variants[v]![1].runtime.app.handle
      const url = urls[v]!
      const started = performance.now()
      for (let i = 0; i < REQUESTS; i += TURN) {
        for (let j = 0; j < TURN; j++) await handle(new Request(url, { headers }))
        await turn()
      }
      best[v] = Math.min(best[v]!, ((performance.now() - started) * 1e6) / REQUESTS)
    }
  }
  for (const [, app] of variants) await app.close()
  const rows = variants.map(([name], v) => `| ${name} | ${best[v]!.toFixed(0)} | ${Math.round(1e9 / best[v]!)} | +${(best[v]! - best[0]!).toFixed(0)} |`)
  return [`hot GET in-process, best of ${ROUNDS} x ${REQUESTS}`, '| configuration | ns per GET | GETs/s | vs off |', '|---|---:|---:|---:|', ...rows].join('\n')
}

console.error(`${await lineCost()}\n\n${await getCost()}\n\nBun ${Bun.version}`)
