import type { Subprocess } from 'bun'
import { children, diesWithParent } from './children'

/** A child process that announced the port it listens on. Stopped by its PID, always. */
export interface Started {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  port: number
  /** Everything it printed so far (stdout and stderr), for assertions and failure messages. */
  output(): string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>
  /** SIGKILL now (a crash). */
  kill9(): Promise<void>
}

const PORT_LINE = /"port":(\d+)|listening (\d+)/

/** Spawns `cmd` with PORT=0 (unless given) and waits, bounded, for it to print its port. */
export const startProcess = async (opts: { cmd: string[]; env?: Record<string, string>; cwd?: string; name?: string; timeoutMs?: number }): Promise<Started> => {
  const proc = Bun.spawn(diesWithParent(opts.cmd), {
    cwd: opts.cwd,
    env: { ...process.env, PORT: '0', ...opts.env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  children.add(proc)
  let text = ''
  let resolvePort: (port: number) => void = () => {}
  const portFound = new Promise<number>((resolve) => (resolvePort = resolve))
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true })
      const m = PORT_LINE.exec(text)
      if (m) resolvePort(Number(m[1] ?? m[2]))
    }
  }
  void pump(proc.stdout)
  void pump(proc.stderr)
  const timeoutMs = opts.timeoutMs ?? 15_000
  let timer: ReturnType<typeof setTimeout> | undefined
  const port = await Promise.race([
    portFound,
    proc.exited.then((code) => Promise.reject(new Error(`${opts.name ?? opts.cmd.join(' ')} exited (${code}) before listening:\n${text}`))),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${opts.name ?? 'process'} printed no port within ${timeoutMs} ms:\n${text}`)), timeoutMs))),
  ]).finally(() => clearTimeout(timer))

  const stop = async (graceMs = 10_000): Promise<number | null> => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      children.delete(proc)
      return proc.exitCode
    }
    proc.kill('SIGTERM')
    const t = setTimeout(() => proc.kill('SIGKILL'), graceMs)
    const code = await proc.exited
    clearTimeout(t)
    children.delete(proc)
    return code
  }
  const kill9 = async () => {
    proc.kill('SIGKILL')
    await proc.exited
    children.delete(proc)
  }
  return { proc, port, output: () => text, stop, kill9 }
}

/** Polls `url` until it answers `status`, bounded by `timeoutMs`. */
export const waitForHttp = async (url: string, started: Started, status = 200, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1_000) })
      if (r.status === status) return
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms:\n${started.output()}`)
    await Bun.sleep(25)
  }
}

export interface Finished {
  /** Exit code, or null when a signal ended it. */
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `cmd` to its end, bounded: SIGKILL (and a throw) after `timeoutMs`. For CLIs and bad-config starts. */
export const runToExit = async (opts: { cmd: string[]; env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<Finished> => {
  const proc = Bun.spawn(opts.cmd, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  children.add(proc)
  const timeoutMs = opts.timeoutMs ?? 15_000
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    proc.kill('SIGKILL')
  }, timeoutMs)
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    if (timedOut) throw new Error(`${opts.cmd.join(' ')} did not exit within ${timeoutMs} ms:\n${stdout}${stderr}`)
    return { code: proc.signalCode === null ? code : null, stdout, stderr }
  } finally {
    clearTimeout(timer)
    children.delete(proc)
  }
}

/** Whether a process with this PID exists (signal 0 checks without signalling). */
export const pidExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
