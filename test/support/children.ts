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
 * The child processes the test run started and has not stopped: killed by PID if the run
 * exits first (a failed assertion, a timeout), so no server outlives its suite.
 */
export const children = new Set<Subprocess>()
process.on('exit', () => {
  for (const p of children) p.kill('SIGKILL')
})
