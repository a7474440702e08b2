import { spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { type Finished, runToExit } from './process'

/**
 * The container suites (test/container/): podman through scripts/container, which holds the
 * flags this machine kind needs and builds the stand-in base images. Everything a suite creates
 * carries this run's label and is removed by name or ID at the end, even after a failure.
 */

const root = join(import.meta.dir, '..', '..')
const SCRIPT = join(root, 'scripts', 'container')

/** The image scripts/container builds from the Dockerfile. */
export const IMAGE = 'localhost/guidd:test'
/** A cold build: debootstrap (about a minute), the stand-ins, `bun install`, FerretDB's Go build (minutes). */
export const BUILD_TIMEOUT_MS = 15 * 60_000
/** Names of this run's containers, volumes and compose projects start with it. */
export const RUN = `guidd-t${process.pid}`
/** Every container and volume this run creates carries this label, for the sweep at the end. */
export const LABEL = `guidd.test.run=${RUN}`

const have = (cmd: string): boolean => spawnSync(cmd, ['--version']).status === 0

/**
 * Whether the container suites run: yes with podman, runc and debootstrap installed; when one
 * is missing they are skipped with a SKIPPED line, except under CI=true, where they fail.
 */
export const containerSuites = (name: string): boolean => {
  const missing = ['podman', 'runc', 'debootstrap'].filter((cmd) => !have(cmd))
  if (missing.length === 0) return true
  const hint = `${missing.join(', ')} not installed (apt-get install podman runc debootstrap)`
  if (process.env.CI === 'true') throw new Error(`${name}: ${hint}; CI=true does not skip`)
  console.log(`SKIPPED: ${name} (${hint})`)
  return false
}

const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })

/**
 * A free port for podman to publish, below the kernel's ephemeral range (32768 and up here):
 * podman binds it seconds after the pick, and on a busy machine an ephemeral port (what port 0
 * gives) is soon taken by some outgoing connection's local end.
 */
export const publishPort = async (): Promise<number> => {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (await bindable(port)) return port
  }
  throw new Error('no free port in 20000-31999')
}

/** podman with the machine's flags (scripts/container podman), bounded. */
export const podman = (args: string[], timeoutMs = 60_000): Promise<Finished> => runToExit({ cmd: [SCRIPT, 'podman', ...args], timeoutMs })

/** podman that must succeed: its stdout, trimmed. */
export const podmanOk = async (args: string[], timeoutMs = 60_000): Promise<string> => {
  const run = await podman(args, timeoutMs)
  if (run.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${run.code}:\n${run.stdout}${run.stderr}`)
  return run.stdout.trim()
}

/** podman-compose (scripts/container compose), bounded. */
export const compose = (args: string[], timeoutMs = 120_000): Promise<Finished> => runToExit({ cmd: [SCRIPT, 'compose', ...args], cwd: root, timeoutMs })

const script = async (what: 'build' | 'standins'): Promise<void> => {
  const started = performance.now()
  const run = await runToExit({ cmd: [SCRIPT, what], timeoutMs: BUILD_TIMEOUT_MS })
  if (run.code !== 0) throw new Error(`scripts/container ${what} failed (${run.code}):\n${run.stderr.slice(-8_000)}`)
  console.log(`scripts/container ${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

let built: Promise<void> | undefined
let standins: Promise<void> | undefined
/** The image, built once per test run (podman's layer cache makes a rebuild of unchanged sources quick). */
export const buildImage = (): Promise<void> => {
  built ??= script('build')
  return built
}
/** The compose services' stand-ins too (redis, mongo = FerretDB, nginx). */
export const buildStandins = (): Promise<void> => {
  standins ??= buildImage().then(() => script('standins'))
  return standins
}

/** Polls `url` until it answers 200, bounded; the last answer or error goes into the failure. */
export const waitFor200 = async (url: string, timeoutMs: number, describe: () => Promise<string> = async () => ''): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      last = `${res.status} ${await res.text()}`
      if (res.status === 200) return
    } catch (error) {
      last = String(error)
    }
    await Bun.sleep(100)
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})\n${await describe()}`)
}

/** The user ID a container's main process runs as, read from the host's /proc (root runs podman). */
export const containerUid = async (name: string): Promise<number> => {
  const pid = await podmanOk(['inspect', '--format', '{{.State.Pid}}', name])
  const status = await Bun.file(`/proc/${pid}/status`).text()
  const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status)
  if (!uids) throw new Error(`no Uid line in /proc/${pid}/status`)
  return Number(uids[1])
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes what an earlier run left when it was killed before its afterAll (a SIGKILL, a CI
 * timeout): containers, volumes and networks whose run label or compose project names a test
 * process that no longer exists. (bun test runs no process 'exit' handlers, so a run cannot
 * clean up after its own death.)
 */
export const sweepOrphans = async (): Promise<string[]> => {
  const dead = (name: string | undefined): boolean => {
    const pid = /^guidd-t(\d+)(?:-compose)?$/.exec(name ?? '')?.[1]
    return pid !== undefined && Number(pid) !== process.pid && !alive(Number(pid))
  }
  const runs = new Set<string>()
  for (const [kind, key] of [
    ['ps', 'guidd.test.run'],
    ['ps', 'io.podman.compose.project'],
    ['volume', 'guidd.test.run'],
    ['volume', 'io.podman.compose.project'],
  ] as const) {
    const args = kind === 'ps' ? ['ps', '-a'] : ['volume', 'ls']
    const listed = await podman([...args, '--filter', `label=${key}`, '--format', `{{ index .Labels "${key}" }}`])
    for (const name of listed.stdout.split('\n')) if (dead(name)) runs.add(name)
  }
  const networks = (await podman(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n')
  for (const net of networks) if (dead(/^(.*)_default$/.exec(net)?.[1])) runs.add(net.replace(/_default$/, ''))
  const problems: string[] = []
  for (const run of runs) {
    const key = run.endsWith('-compose') ? 'io.podman.compose.project' : 'guidd.test.run'
    const rm = await podman(['rm', '-f', '-v', '--depend', '--ignore', '-t', '0', '--filter', `label=${key}=${run}`], 120_000)
    const volumes = await podman(['volume', 'prune', '-f', '--filter', `label=${key}=${run}`])
    if (rm.code !== 0 || volumes.code !== 0) problems.push(`${run}: ${rm.stderr}${volumes.stderr}`)
    if (key === 'io.podman.compose.project') await podman(['network', 'rm', '-f', `${run}_default`])
    console.log(`removed what the killed test run ${run} left`)
  }
  return problems
}

/** The volumes (named and anonymous) mounted by a compose project's containers. */
export const volumesOf = async (project: string): Promise<string[]> => {
  const ids = (await podman(['ps', '-a', '-q', '--filter', `label=io.podman.compose.project=${project}`])).stdout.split('\n').filter(Boolean)
  if (ids.length === 0) return []
  const mounts = await podman(['inspect', '--format', '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', ...ids])
  return [...new Set(mounts.stdout.split(/\s+/).filter(Boolean))]
}

/**
 * Removes every container and volume of this run: those named, then anything left with the
 * run's label or compose project. Bounded; a failure here is reported, not thrown over the test's.
 */
export const sweep = async (opts: { containers?: string[]; volumes?: string[]; projects?: string[] } = {}): Promise<string[]> => {
  const problems: string[] = []
  const filters = [`label=${LABEL}`, ...(opts.projects ?? []).map((p) => `label=io.podman.compose.project=${p}`)]
  const ids = new Set(opts.containers ?? [])
  for (const filter of filters) {
    const found = await podman(['ps', '-a', '-q', '--filter', filter])
    for (const id of found.stdout.split('\n').filter(Boolean)) ids.add(id)
  }
  // -v: the image declares VOLUME /data, so each container has an anonymous volume unless given one.
  if (ids.size > 0) {
    const rm = await podman(['rm', '-f', '-v', '--depend', '--ignore', '-t', '2', ...ids], 120_000)
    if (rm.code !== 0) problems.push(`podman rm: ${rm.stderr}`)
  }
  const volumes = new Set(opts.volumes ?? [])
  for (const filter of filters) {
    const found = await podman(['volume', 'ls', '-q', '--filter', filter])
    for (const v of found.stdout.split('\n').filter(Boolean)) volumes.add(v)
  }
  for (const v of volumes) {
    const rm = await podman(['volume', 'rm', '-f', v])
    if (rm.code !== 0 && !/no such volume/i.test(rm.stderr)) problems.push(`podman volume rm ${v}: ${rm.stderr}`)
  }
  for (const p of opts.projects ?? []) {
    const net = await podman(['network', 'rm', '-f', `${p}_default`])
    if (net.code !== 0 && !/unable to find|no such network|not found/i.test(net.stderr)) problems.push(`podman network rm ${p}_default: ${net.stderr}`)
  }
  return problems
}
