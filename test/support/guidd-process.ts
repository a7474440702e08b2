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
  /** For its output and failure messages, e.g. `guidd (redis mode)`. */
  name: string
  /** Its whole configuration; an empty value is unset, so none of the runner's own settings leak in. */
  env: Record<string, string>
  /** Every process started, for the suite's afterAll to stop by PID (pushed before the wait, so a server that never gets ready is stopped too). */
  started: Started[]
  /** The endpoint that must answer 200 before it is used: `/healthz` (listening) or `/readyz` (its stores answer). */
  ready?: '/healthz' | '/readyz'
}

/** `http://127.0.0.1:<port>` of a started server. */
export const urlOf = (server: Started): string => `http://127.0.0.1:${server.port}`

/** Starts guidd and waits, bounded, until `ready` answers 200. */
export const startGuidd = async (o: GuiddOptions): Promise<Started> => {
  const server = await startProcess({ cmd: GUIDD_CMD, cwd: root, name: o.name, env: o.env })
  o.started.push(server)
  await waitForHttp(`${urlOf(server)}${o.ready ?? '/healthz'}`, server)
  return server
}
