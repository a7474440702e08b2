import type { Server } from 'bun'
import { Deadline, TIMED_OUT, withTimeout } from './domain/clock'
import { backupStore } from './runtime/backup'
import { type Config, ConfigError, loadConfig } from './runtime/config'
import { helpText } from './runtime/help'
import { createLogger, flushLogger, flushLoggerSync } from './ops/logger'
import { createRuntime, type Runtime } from './runtime/runtime'
import { VERSION } from './runtime/version'

/** The process: the only place that reads env, opens sockets and traps signals. */

const healthcheck = async (port: string | undefined, host: string | undefined): Promise<never> => {
  // For container HEALTHCHECKs: the runtime image has no curl.
  const target = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  try {
    const res = await fetch(`http://${target}:${port || 8888}/healthz`, { signal: AbortSignal.timeout(2_000) })
    process.exit(res.ok ? 0 : 1)
  } catch {
    process.exit(1)
  }
}

const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(helpText())
  process.exit(0)
}
if (args.includes('--version')) {
  process.stdout.write(`${VERSION}\n`)
  process.exit(0)
}
if (args[0] === 'backup') {
  if (args.length !== 2 || args[1]!.startsWith('-')) {
    console.error('guidd: usage: guidd backup <dest file>; see guidd --help')
    process.exit(2)
  }
  try {
    process.stdout.write(`${JSON.stringify(backupStore(loadConfig(Bun.env), args[1]!))}\n`)
    process.exit(0)
  } catch (error) {
    console.error(`guidd: backup failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
}
const unknown = args.find((arg) => arg !== '--healthcheck')
if (unknown !== undefined) {
  console.error(`guidd: unknown argument ${unknown}; see guidd --help`)
  process.exit(2)
}
if (args.includes('--healthcheck')) await healthcheck(Bun.env.PORT, Bun.env.HOST)

let config: Config
try {
  config = loadConfig(Bun.env)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(`guidd: ${error.message}`)
  process.exit(2)
}

const logger = createLogger(config.LOG_LEVEL)
// Every planned exit below waits for the log first (flushLogger); this catches any other one,
// writing what is gathered when that can be done in order.
process.on('exit', () => flushLoggerSync(logger))
// Start and stop are logged at info even when LOG_LEVEL is quieter (but not when silent):
// operators and supervisors look for them.
const lifecycle = config.LOG_LEVEL === 'silent' ? logger : logger.child({}, { level: 'info' })

/** How long a fatal error waits for its last lines to be written (a stuck log reader must not hold a dying process). */
const FATAL_FLUSH_MS = 2_000

/** The error is the log's last line, written before the process ends with 1. */
const fatal = async (error: unknown): Promise<never> => {
  lifecycle.fatal({ err: error }, 'guidd stopped by a fatal error')
  // LOG_LEVEL=silent logs nothing, but a process that dies says why somewhere.
  if (config.LOG_LEVEL === 'silent') console.error('guidd stopped by a fatal error:', error)
  await flushLogger(logger, FATAL_FLUSH_MS)
  process.exit(1)
}
process.on('uncaughtException', (error) => void fatal(error))
process.on('unhandledRejection', (error) => void fatal(error))

// The socket's view of the client, for the rate limit and the request log; set once listening.
let server: Server<unknown> | undefined
let runtime: Runtime
try {
  runtime = await createRuntime(config, {
    logger,
    clientAddress: (request) => server?.requestIP(request)?.address,
    // IDLE_TIMEOUT_SECONDS is for stalled clients: event streams (silent between heartbeats) and
    // requests still being worked on set their connection's own (http/idle-hold.ts).
    setIdleTimeout: (request, seconds) => server?.timeout(request, seconds),
  })
} catch (error) {
  if (!(error instanceof ConfigError)) await fatal(error)
  console.error(`guidd: ${(error as ConfigError).message}`)
  await flushLogger(logger, FATAL_FLUSH_MS)
  process.exit(2)
}

try {
  server = runtime.app.listen({ port: config.PORT, hostname: config.HOST, idleTimeoutSeconds: config.IDLE_TIMEOUT_SECONDS })
} catch (error) {
  // A port in use, an address not on this host: nothing to serve with.
  server = await fatal(error) // never returns: the process ends there
}
runtime.start()
lifecycle.info({ port: server.port, host: config.HOST, mode: runtime.mode, store: runtime.store.name }, 'guidd listening')
if (runtime.keys === undefined) {
  lifecycle.warn('API_KEYS and API_KEYS_FILE are unset: the /guid routes are open to anyone who can reach this port')
} else {
  lifecycle.info({ keys: runtime.keys.size, file: config.API_KEYS_FILE !== undefined }, 'bearer keys required on /guid routes')
}

// SIGHUP re-reads API_KEYS_FILE; a file that cannot be used leaves the old keys in force.
process.on('SIGHUP', () => {
  if (config.API_KEYS_FILE === undefined) {
    lifecycle.warn('SIGHUP: no API_KEYS_FILE to reload')
    return
  }
  try {
    lifecycle.info({ keys: runtime.reloadKeys() }, 'API keys reloaded')
  } catch (error) {
    lifecycle.error({ reason: error instanceof ConfigError ? error.problems.join('; ') : 'unexpected failure' }, 'API keys not reloaded; the previous keys stay in force')
  }
})

let stopping = false
const shutdown = async (signal: string): Promise<void> => {
  if (stopping) return
  stopping = true
  lifecycle.info({ signal }, 'draining')
  runtime.readiness.draining = true
  const live = server!
  const deadline = new Deadline(config.SHUTDOWN_TIMEOUT_MS)
  // Event streams never finish on their own: end them, so stop(false) waits only for real requests.
  await runtime.endStreams()
  // Stop accepting and let in-flight requests finish (a body still arriving has not reached
  // an actor yet, so the journal must stay open until the server is done), within the deadline.
  if ((await withTimeout(live.stop(false), deadline.remainingMs)) === TIMED_OUT) {
    lifecycle.warn('shutdown deadline passed with requests in flight; closing their connections')
    await live.stop(true)
  }
  await runtime.close(deadline.remainingMs)
  // The last lines reach the log before the process ends, unless its reader stays stuck past the
  // deadline; `stopped` is the last of them (after the count of any lines dropped meanwhile).
  await flushLogger(logger, Math.max(deadline.remainingMs, 250))
  lifecycle.info('stopped')
  await flushLogger(logger, Math.max(deadline.remainingMs, 250))
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
