import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { createClient } from 'redis'

/** A redis-server of the test run's own: a free port, a temp dir, stopped by its PID. */
export interface TestRedis {
  url: string
  port: number
  pid: number
  /** A fresh key prefix, so suites sharing a server never see each other's keys. */
  prefix(): string
  stop(): Promise<void>
}

export const redisAvailable = (): boolean => spawnSync('redis-server', ['--version']).status === 0

/**
 * Whether the Redis suites run: yes when redis-server is installed; when it is not, they
 * are skipped with a SKIPPED line, except under CI=true, where they fail instead.
 */
export const redisSuites = (name: string): boolean => {
  if (redisAvailable()) return true
  if (process.env.CI === 'true') throw new Error(`${name}: redis-server is not installed, and CI=true does not skip (apt-get install redis-server)`)
  console.log(`SKIPPED: ${name} (redis-server is not installed; apt-get install redis-server)`)
  return false
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })

const live = new Set<Subprocess>()
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL')
})

let prefixes = 0

/** Starts redis-server (AOF on, everysec) and waits, bounded, until it answers PING. */
export const startRedis = async (): Promise<TestRedis> => {
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'guidd-redis-'))
    const port = await freePort()
    const proc = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'], {
      stdout: 'pipe',
      stderr: 'pipe',
    })
    live.add(proc)
    const url = `redis://127.0.0.1:${port}`
    const stop = async () => {
      proc.kill('SIGKILL')
      await proc.exited
      live.delete(proc)
      rmSync(dir, { recursive: true, force: true })
    }
    const deadline = Date.now() + 5_000
    while (Date.now() < deadline && proc.exitCode === null) {
      const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 200 } })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.ping()
        await client.quit()
        return { url, port, pid: proc.pid, prefix: () => `t${process.pid}-${++prefixes}:`, stop }
      } catch {
        await client.destroy?.()
        await Bun.sleep(20)
      }
    }
    await stop()
    // The port was taken between finding it and binding it: try another, a few times.
    if (attempt >= 3) throw new Error(`redis-server did not start on port ${port}`)
  }
}
