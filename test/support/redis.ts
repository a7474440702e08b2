import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { createClient } from 'redis'
import { children, diesWithParent, freePort } from './children'

/** A redis-server of the test run's own: a free port, a temp dir, stopped by its PID. */
export interface TestRedis {
  url: string
  port: number
  pid: number
  /** A fresh key prefix, so suites sharing a server never see each other's keys. */
  prefix(): string
  stop(): Promise<void>
  /** SIGKILL now (a crash), keeping its dir (the AOF) for `restart`. */
  kill9(): Promise<void>
  /** Starts it again on the same port and dir (after `kill9`) and waits until it answers PING. */
  restart(): Promise<void>
}

export interface RedisOptions {
  /** AOF fsync policy: `everysec` (the default, as in production) or `always` (no acknowledged write lost to a crash). */
  appendfsync?: 'always' | 'everysec'
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

let prefixes = 0

const spawnRedis = (port: number, dir: string, appendfsync: string): Subprocess => {
  const proc = Bun.spawn(diesWithParent(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', appendfsync]), {
    // Its log is never read: a pipe nobody drains would stall the server once full.
    stdout: 'ignore',
    stderr: 'ignore',
  })
  children.add(proc)
  return proc
}

/** Waits, bounded, until the server at `url` answers PING; false when it exited or the time ran out. */
const answersPing = async (url: string, proc: Subprocess, timeoutMs: number): Promise<boolean> => {
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
      await client.destroy?.()
      await Bun.sleep(20)
    }
  }
  return false
}

/** Starts redis-server (AOF on, everysec unless told) and waits, bounded, until it answers PING. */
export const startRedis = async (options: RedisOptions = {}): Promise<TestRedis> => {
  const appendfsync = options.appendfsync ?? 'everysec'
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'guidd-redis-'))
    const port = await freePort()
    let proc = spawnRedis(port, dir, appendfsync)
    const url = `redis://127.0.0.1:${port}`
    const kill9 = async () => {
      proc.kill('SIGKILL')
      await proc.exited
      children.delete(proc)
    }
    const stop = async () => {
      await kill9()
      rmSync(dir, { recursive: true, force: true })
    }
    const restart = async () => {
      proc = spawnRedis(port, dir, appendfsync)
      if (!(await answersPing(url, proc, 10_000))) throw new Error(`redis-server did not restart on port ${port}`)
    }
    if (await answersPing(url, proc, 5_000)) {
      return {
        url,
        port,
        get pid() {
          return proc.pid
        },
        prefix: () => `t${process.pid}-${++prefixes}:`,
        stop,
        kill9,
        restart,
      }
    }
    await stop()
    // The port was taken between finding it and binding it: try another, a few times.
    if (attempt >= 3) throw new Error(`redis-server did not start on port ${port}`)
  }
}
