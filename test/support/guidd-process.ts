import { join } from 'node:path'
import { type Started, startProcess, waitForHttp } from './process'

/**
 * The service as a real process, as the end-to-end tests start it: `bun run src/main.ts`
 * from the repo root on a free port. One place for the command and the wait, so every mode's
 * test starts it the same way.
 */

const root = join(import.meta.dir, '..', '..')
/** The command that runs the service from source, for every test that starts it as a process. */
export const GUIDD_CMD = [process.execPath, 'run', join(root, 'src', 'main.ts')]

export interface GuiddOptions {
  /** For its output and failure messages, e.g. `guidd (redis mode)`; `guidd` by default. */
  name?: string
  /** Its configuration (PORT is 0 unless given); an empty value is unset, so none of the runner's own settings leak in. */
  env: Record<string, string>
  /** Every process started, for the suite's afterAll to stop by PID (pushed before the wait, so a server that never gets ready is stopped too). */
  started?: Started[]
  /**
   * The endpoint that must answer 200 before it is used: `/healthz` (listening, the default) or
   * `/readyz` (its stores answer); null: return once it printed its port (the caller waits its own way).
   */
  ready?: '/healthz' | '/readyz' | null
  /** The executable and its directory: the source from the repo root unless given (the binary's test runs dist/guidd from an empty directory). */
  cmd?: string[]
  cwd?: string
  /** Bound on the wait for `ready` (10 s by default). */
  readyTimeoutMs?: number
}

/** A started guidd and its `http://127.0.0.1:<port>`. */
export interface Guidd extends Started {
  base: string
}

/** `http://127.0.0.1:<port>` of a started server. */
export const urlOf = (server: Started): string => `http://127.0.0.1:${server.port}`

/** The one way the tests start guidd as a process: spawned, registered for cleanup, then waited for (bounded) until `ready` answers 200. */
export const startGuidd = async (o: GuiddOptions): Promise<Guidd> => {
  const server = await startProcess({ cmd: o.cmd ?? GUIDD_CMD, cwd: o.cwd ?? root, name: o.name ?? 'guidd', env: o.env })
  o.started?.push(server)
  const base = urlOf(server)
  const ready = o.ready === undefined ? '/healthz' : o.ready
  if (ready !== null) await waitForHttp(`${base}${ready}`, server, 200, o.readyTimeoutMs)
  return Object.assign(server, { base })
}
