import type { Subprocess } from 'bun'
// The tests' free port and child-process registry (killed by PID should the bench exit first).
import { children as live, freePort } from '../test/support/children'

/**
 * A process under benchmark: started on a port chosen here, its stdout and stderr written to
 * a file (the request log at info is ~20 MB/s under load: a pipe read by the bench, as the
 * tests' startProcess does, would measure the bench's own reading), stopped by its PID.
 */
export interface BenchProcess {
  pid: number
  port: number
  base: string
  stop(): Promise<void>
}

/** Polls /healthz every `everyMs` until it answers 200; resolves with the ms since `since`. */
export const firstHealthy = async (base: string, proc: Subprocess, since: number, timeoutMs = 15_000, everyMs = 1): Promise<number> => {
  for (;;) {
    try {
      const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1_000) })
      if (r.status === 200) return performance.now() - since
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${base}: the process exited (${proc.exitCode ?? proc.signalCode}) before answering`)
    if (performance.now() - since > timeoutMs) throw new Error(`${base}: no 200 on /healthz within ${timeoutMs} ms`)
    await Bun.sleep(everyMs)
  }
}

export const startBench = async (opts: { cmd: string[]; env: Record<string, string>; cwd: string; output: string }): Promise<BenchProcess> => {
  const port = await freePort()
  const proc = Bun.spawn(opts.cmd, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env, PORT: String(port), HOST: '127.0.0.1' },
    stdin: 'ignore',
    stdout: Bun.file(opts.output),
    stderr: Bun.file(`${opts.output}.err`),
  })
  live.add(proc)
  const base = `http://127.0.0.1:${port}`
  await firstHealthy(base, proc, performance.now(), 30_000, 25)
  return {
    pid: proc.pid,
    port,
    base,
    stop: async () => {
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
      await proc.exited
      clearTimeout(timer)
      live.delete(proc)
    },
  }
}

/** One metric's value from a Prometheus text scrape (the first sample of that name). */
export const metricOf = (text: string, name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)

export const scrape = async (base: string): Promise<string> => (await fetch(`${base}/metrics`)).text()
