import { createServer } from 'node:net'
import type { Subprocess } from 'bun'

/** A TCP port that was free a moment ago on 127.0.0.1 (never a fixed one). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })

/**
 * `cmd` run so that the kernel kills it (SIGKILL) when this test process dies, however it dies:
 * `bun test` runs no 'exit' handler, and a run killed from outside reaches no afterAll, so
 * without this its redis-server and FerretDB children lived on, holding ports and CPU.
 * setpriv (util-linux) sets the parent-death signal and execs `cmd`: the PID is still `cmd`'s.
 */
export const diesWithParent = (cmd: string[]): string[] => (HAS_SETPRIV ? ['setpriv', '--pdeathsig', 'KILL', ...cmd] : cmd)
const HAS_SETPRIV = Bun.which('setpriv') !== null

/**
 * The child processes the test run started and has not stopped: killed by PID if the run
 * exits first (a failed assertion, a timeout), so no server outlives its suite.
 */
export const children = new Set<Subprocess>()
process.on('exit', () => {
  for (const p of children) p.kill('SIGKILL')
})
