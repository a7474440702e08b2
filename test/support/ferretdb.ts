import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { MongoClient } from 'mongodb'
import { runToExit } from './process'
import { children, diesWithParent, freePort } from './children'

/**
 * A FerretDB (MongoDB wire protocol over SQLite) of the test run's own, run by
 * scripts/ferretdb: a free port, a temp data dir, stopped by its PID. It can be stopped and
 * started again on the same port and data, for outage tests.
 */
export interface TestFerretdb {
  /** `mongodb://127.0.0.1:<port>/`; stays the same across stop() and start(). */
  url: string
  port: number
  dataDir: string
  /** PID of the running server (scripts/ferretdb execs it), or null while stopped. */
  pid(): number | null
  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`); the data stays. */
  stop(graceMs?: number): Promise<void>
  /** Starts it again on the same port and data, and waits until it answers a ping. */
  start(): Promise<void>
  /** Stops it and deletes the data dir. */
  dispose(): Promise<void>
  /** What it printed (the last 64 KiB), for failure messages. */
  output(): string
}

const root = join(import.meta.dir, '..', '..')
const SCRIPT = join(root, 'scripts', 'ferretdb')
/** Where scripts/ferretdb keeps the binary it builds (keep in step with the script). */
export const FERRETDB_BINARY = join(homedir(), '.cache', 'guidd', 'ferretdb-v1.24.2', 'ferretdb')

/** The first build compiles FerretDB and its SQLite (a few minutes on 2 cores); later runs find the binary. */
export const FERRETDB_BUILD_TIMEOUT_MS = 10 * 60_000
/** From spawn to the first answered ping, once the binary exists. */
const START_TIMEOUT_MS = 15_000
const OUTPUT_KEPT = 64 * 1024

const goAvailable = (): boolean => spawnSync('go', ['version']).status === 0

/**
 * Whether the FerretDB suites run: yes when the binary is built or Go can build it; when
 * neither, they are skipped with a SKIPPED line, except under CI=true, where they fail.
 */
export const ferretdbSuites = (name: string): boolean => {
  if (existsSync(FERRETDB_BINARY) || goAvailable()) return true
  const hint = 'Go is not installed, and scripts/ferretdb builds FerretDB with it (https://go.dev/dl/)'
  if (process.env.CI === 'true') throw new Error(`${name}: ${hint}; CI=true does not skip`)
  console.log(`SKIPPED: ${name} (${hint})`)
  return false
}

/** Builds the binary when missing, bounded by its own generous timeout; a no-op once built. */
export const buildFerretdb = async (timeoutMs = FERRETDB_BUILD_TIMEOUT_MS): Promise<void> => {
  if (existsSync(FERRETDB_BINARY)) return
  const started = performance.now()
  const run = await runToExit({ cmd: ['bash', SCRIPT, 'build'], timeoutMs })
  if (run.code !== 0) throw new Error(`scripts/ferretdb build failed (${run.code}):\n${run.stdout}${run.stderr}`)
  console.log(`FerretDB built in ${((performance.now() - started) / 1000).toFixed(0)} s`)
}

/** Whether a MongoDB-wire server at `url` answers a ping with the real driver, within a short bound. */
const answersPing = async (url: string): Promise<boolean> => {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500, socketTimeoutMS: 1_000 })
  try {
    await client.connect()
    await client.db('admin').command({ ping: 1 })
    return true
  } catch {
    return false
  } finally {
    await client.close().catch(() => {})
  }
}

/**
 * Builds FerretDB if needed, starts it on a free port with a fresh temp data dir, and waits
 * (bounded) until it answers a ping. Retries another port a few times should the one found
 * be taken before FerretDB binds it.
 */
export const startFerretdb = async (): Promise<TestFerretdb> => {
  await buildFerretdb()
  const dataDir = mkdtempSync(join(tmpdir(), 'guidd-ferretdb-'))
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const server = ferretdbOn(port, dataDir)
    try {
      await server.start()
      return server
    } catch (error) {
      await server.stop(0)
      if (attempt >= 3) {
        rmSync(dataDir, { recursive: true, force: true })
        throw error
      }
    }
  }
}

const ferretdbOn = (port: number, dataDir: string): TestFerretdb => {
  const url = `mongodb://127.0.0.1:${port}/`
  let proc: Subprocess<'ignore', 'pipe', 'pipe'> | null = null
  let text = ''
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true })
      if (text.length > OUTPUT_KEPT) text = text.slice(-OUTPUT_KEPT)
    }
  }

  const stop = async (graceMs = 5_000): Promise<void> => {
    const p = proc
    if (p === null) return
    proc = null
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM')
      const timer = setTimeout(() => p.kill('SIGKILL'), graceMs)
      await p.exited
      clearTimeout(timer)
    }
    children.delete(p)
  }

  const start = async (): Promise<void> => {
    if (proc !== null) throw new Error('FerretDB is already running')
    const p = Bun.spawn(diesWithParent(['bash', SCRIPT]), {
      cwd: root,
      env: { ...process.env, PORT: String(port), DATA_DIR: dataDir },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    })
    proc = p
    children.add(p)
    void pump(p.stdout)
    void pump(p.stderr)
    const deadline = Date.now() + START_TIMEOUT_MS
    while (!(await answersPing(url))) {
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`FerretDB exited (${p.exitCode ?? p.signalCode}) before answering on port ${port}:\n${text}`)
      if (Date.now() > deadline) throw new Error(`FerretDB did not answer a ping on port ${port} within ${START_TIMEOUT_MS} ms:\n${text}`)
      await Bun.sleep(50)
    }
  }

  return {
    url,
    port,
    dataDir,
    pid: () => proc?.pid ?? null,
    stop,
    start,
    dispose: async () => {
      await stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
    output: () => text,
  }
}
