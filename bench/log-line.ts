/**
 * `npm run bench:log`: what one request log line costs the request path. Writes N lines through
 * the service's own logger and destination (pino + BatchedDestination on stdout, which should
 * be sent to /dev/null or a file) and reports the time per line, the event-loop turns included,
 * so the deferred batched write is counted too.
 *
 *   npm run --silent bench:log > /dev/null
 */
import { createLogger, flushLogger } from '../src/ops/logger'
import { requestLog } from '../src/ops/request-log'

const N = Number(Bun.env.BENCH_LINES ?? 200_000)
const TURN = 100 // lines per event-loop turn, as a busy server would log between writes
const logger = createLogger('info')
const log = requestLog(logger)!

const run = async (): Promise<number> => {
  const started = performance.now()
  for (let i = 0; i < N; i += TURN) {
    for (let j = 0; j < TURN; j++) log('5156df71-9b68-1a2b', 'GET', '/guid/:guid', 200, 0.000123, 74, '192.0.2.7')
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  flushLogger(logger)
  return ((performance.now() - started) * 1000) / N
}

await run() // warm-up
const rounds = [await run(), await run(), await run()]
const noop = performance.now()
for (let i = 0; i < N; i += TURN) await new Promise<void>((resolve) => setImmediate(resolve))
const turnCost = ((performance.now() - noop) * 1000) / N
console.error(`request log line: ${Math.min(...rounds).toFixed(2)} us per line (best of 3 x ${N}; event-loop turns alone ${turnCost.toFixed(2)} us per line), Bun ${Bun.version}`)
