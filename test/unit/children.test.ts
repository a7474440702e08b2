import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { eventually } from '../support/eventually'
import { redisSuites } from '../support/redis'

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

test.skipIf(!redisSuites('children'))(
  'a redis-server a test run started dies with the run, even when the run is killed before any clean-up',
  async () => {
    const support = join(import.meta.dir, '..', 'support', 'redis.ts')
    const run = Bun.spawn(
      [process.execPath, '-e', `const { startRedis } = await import(${JSON.stringify(support)}); const r = await startRedis(); console.log('pid', r.pid); await Bun.sleep(60_000)`],
      {
        stdout: 'pipe',
        stderr: 'inherit',
      },
    )
    let redisPid = 0
    try {
      let text = ''
      void (async () => {
        for await (const chunk of run.stdout) text += new TextDecoder().decode(chunk)
      })()
      await eventually(
        'the run prints its redis-server PID',
        () => {
          redisPid = Number(/pid (\d+)/.exec(text)?.[1] ?? 0)
          return redisPid > 0
        },
        { timeoutMs: 10_000 },
      )
      expect(alive(redisPid)).toBe(true)
      run.kill('SIGKILL')
      await run.exited
      await eventually('the redis-server is gone', () => !alive(redisPid), { timeoutMs: 5_000 })
    } finally {
      run.kill('SIGKILL')
      if (redisPid > 0 && alive(redisPid)) process.kill(redisPid, 'SIGKILL')
    }
  },
  30_000,
)
