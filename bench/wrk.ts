import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** wrk from Debian's package; installed on first use when missing (root, apt reachable). */
export const ensureWrk = (): void => {
  if (spawnSync('wrk', ['--version']).error === undefined) return
  console.log('# wrk not found: installing Debian package wrk')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  const r = spawnSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'inherit', env })
  if (r.status !== 0) throw new Error('could not install wrk')
}

export interface WrkResult {
  rps: number
  p50ms: number
  p99ms: number
  maxMs: number
  errors: number
  requests: number
}

const toMs = (v: string): number => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim())
  if (!m) return Number.NaN
  const n = Number(m[1])
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n
}

/**
 * Runs wrk against `url` with an optional Lua script body; parses req/s, p50, p99, max and
 * errors (non-2xx/3xx and socket errors). Asynchronous, so the bench can sample the service's
 * metrics while the load runs.
 */
export const runWrk = async (opts: { url: string; lua?: string; connections: number; seconds: number; cpu?: string; dir: string; name: string }): Promise<WrkResult> => {
  // A long timeout: a slow store (FerretDB) then shows in the latencies, not as lost requests.
  const args = ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '15s', '--latency']
  if (opts.lua) {
    const file = join(opts.dir, `${opts.name}.lua`)
    writeFileSync(file, opts.lua)
    args.push('-s', file)
  }
  args.push(opts.url)
  const cmd = opts.cpu ? 'taskset' : 'wrk'
  const full = opts.cpu ? ['-c', opts.cpu, 'wrk', ...args] : args
  const proc = Bun.spawn([cmd, ...full], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const timer = setTimeout(() => proc.kill('SIGKILL'), (opts.seconds + 30) * 1000)
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  if (code !== 0) throw new Error(`wrk failed (${code}): ${err || out}`)
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1] ?? ''
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1] ?? ''
  const max = /Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? ''
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((n, v) => n + Number(v), 0) : 0)
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
  return { rps, p50ms: toMs(p50), p99ms: toMs(p99), maxMs: toMs(max), errors, requests }
}

const jsonHeaders = 'wrk.headers["Content-Type"] = "application/json"\n'

export const luaPost = (body: string): string => `wrk.method = "POST"\n${jsonHeaders}wrk.body = '${body}'\n`

/** PATCH spread over a pool of GUIDs, one picked at random per request. */
export const luaPatchPool = (guids: readonly string[], body: string): string =>
  `local guids = {${guids.map((g) => `"${g}"`).join(',')}}\n` +
  `local headers = { ["Content-Type"] = "application/json" }\n` +
  `math.randomseed(42)\n` +
  `request = function()\n  return wrk.format("PATCH", "/guid/" .. guids[math.random(#guids)], headers, '${body}')\nend\n`
