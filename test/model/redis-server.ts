import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { createClient } from 'redis'

/**
 * A redis-server of the model suite's own, durable before every reply (AOF with
 * `appendfsync always`), so a kill -9 of Redis itself loses no acknowledged write and the
 * model can demand every one back after Redis restarts on the same directory and port.
 */
export interface ModelRedis {
  url: string
  pid(): number
  /** kill -9, then start again on the same port and AOF. */
  crashAndRestart(): Promise<void>
  stop(): Promise<void>
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

const spawnRedis = (port: number, dir: string): Subprocess =>
  Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'], {
    stdout: 'ignore',
    stderr: 'ignore',
  })

/** PING until it answers, bounded; false when the process died or time ran out. */
const answers = async (url: string, proc: Subprocess, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && proc.exitCode === null) {
    const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 200 } })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.ping()
      await client.quit()
      return true
    } catch {
      client.destroy?.()
      await Bun.sleep(20)
    }
  }
  return false
}

export const startModelRedis = async (): Promise<ModelRedis> => {
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'guidd-model-redis-'))
    const port = await freePort()
    const url = `redis://127.0.0.1:${port}`
    let proc = spawnRedis(port, dir)
    live.add(proc)
    const kill = async () => {
      proc.kill('SIGKILL')
      await proc.exited
      live.delete(proc)
    }
    if (await answers(url, proc, 5_000)) {
      return {
        url,
        pid: () => proc.pid,
        crashAndRestart: async () => {
          await kill()
          // The same port: the service keeps its REDIS_URL and reconnects by itself.
          for (let tries = 0; ; tries++) {
            proc = spawnRedis(port, dir)
            live.add(proc)
            if (await answers(url, proc, 5_000)) return
            await kill()
            if (tries >= 3) throw new Error(`redis-server did not restart on port ${port}`)
          }
        },
        stop: async () => {
          await kill()
          rmSync(dir, { recursive: true, force: true })
        },
      }
    }
    await kill()
    rmSync(dir, { recursive: true, force: true })
    // The port was taken between finding it and binding it: try another, a few times.
    if (attempt >= 3) throw new Error(`redis-server did not start on port ${port}`)
  }
}
