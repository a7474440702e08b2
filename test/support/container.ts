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
    const rm = await podman(['rm', '-f', '-v', '--ignore', '-t', '2', ...ids], 120_000)
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
