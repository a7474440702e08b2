import { afterAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Config } from '../../src/runtime/config'
import { buildBinary } from '../support/binary'
import { children, freePort } from '../support/children'
import { ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { pidExists } from '../support/process'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'

/**
 * The README's start blocks cannot rot: every fenced block marked `sh readme-test` is run as
 * printed, in bash, against the services it names, which this test starts itself (its own
 * redis-server and FerretDB on free ports with temp dirs, the binary built into a temp dir)
 * and hands to the block through the variables the block reads with defaults (PORT,
 * REDIS_PORT, MONGO_PORT). The lines that would start those services, `npm ci` (done before
 * `npm test`) and `npm run build` are left out. The `curl` at the end must print the
 * `# -> ` line below it, and guidd must have started in the mode the block is about.
 * test/README.md, "The README's start blocks".
 */

const root = join(import.meta.dir, '..', '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-readme-'))
/** Every PID a block left running, stopped (with its descendants) by PID whatever happens. */
const leftRunning = new Set<number>()

interface Block {
  heading: string
  script: string
  /** What the last `curl` must print, one entry per `# -> ` line; `…` stands for anything. */
  expected: string[]
}

const blocks = (): Block[] => {
  const found: Block[] = []
  let heading = ''
  const lines = readme.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith('### ')) heading = lines[i]!.slice(4)
    if (lines[i] !== '```sh readme-test') continue
    const body: string[] = []
    while (lines[++i] !== '```') {
      if (i >= lines.length) throw new Error(`README: the block under "${heading}" is not closed`)
      body.push(lines[i]!)
    }
    const expected = body.filter((l) => l.startsWith('# -> ')).map((l) => l.slice(5))
    found.push({ heading, script: body.join('\n'), expected })
  }
  return found
}

/** The lines this test does itself, with what it does instead. */
const PROVIDED: Array<{ line: RegExp; by: string }> = [
  { line: /^npm ci$/, by: 'the checkout npm test runs in' },
  { line: /^npm run build$/, by: 'the binary built into a temp dir' },
  { line: /^redis-server .*&$/, by: "the test's own redis-server" },
  { line: /scripts\/ferretdb &$/, by: "the test's own FerretDB" },
]

/** The PIDs of every descendant of `pid`, deepest last (read from the kernel through pgrep -P). */
const descendants = (pid: number): number[] => {
  const direct = (spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout ?? '').split(/\s+/).filter(Boolean).map(Number)
  return direct.flatMap((child) => [child, ...descendants(child)])
}

/** SIGTERM to each PID and its descendants, then SIGKILL to whatever is left after `graceMs`. */
const stopTrees = async (pids: Iterable<number>, graceMs = 10_000): Promise<void> => {
  const all = [...pids].flatMap((pid) => [pid, ...descendants(pid)])
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of all) {
      try {
        process.kill(pid, sig)
      } catch {
        // gone already
      }
    }
  }
  signal('SIGTERM')
  const deadline = Date.now() + graceMs
  while (all.some(pidExists) && Date.now() < deadline) await Bun.sleep(50)
  signal('SIGKILL')
}

afterAll(async () => {
  await stopTrees(leftRunning, 2_000)
  rmSync(dir, { recursive: true, force: true })
})

/** Runs `script` in bash, bounded; returns what it printed and the PIDs of the jobs it left in the background. */
const runBlock = async (script: string, cwd: string, env: Record<string, string>, timeoutMs: number) => {
  const marker = '__readme_test_jobs__'
  // The EXIT trap names the background jobs (guidd, a server) even when a line fails.
  const prologue = `set -e\ntrap 'echo ${marker} $(jobs -p)' EXIT\n`
  const proc = Bun.spawn(['bash', '-c', prologue + script], { cwd, env, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  children.add(proc)
  let stdout = ''
  let stderr = ''
  // Not read to the end: the jobs the block leaves running hold the pipes open.
  const pump = async (stream: ReadableStream<Uint8Array>, into: (s: string) => void) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) into(decoder.decode(chunk, { stream: true }))
  }
  void pump(proc.stdout, (s) => (stdout += s))
  void pump(proc.stderr, (s) => (stderr += s))
  let timer: ReturnType<typeof setTimeout> | undefined
  const timedOut = await Promise.race([proc.exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)))])
  clearTimeout(timer)
  if (timedOut) {
    for (const pid of descendants(proc.pid)) leftRunning.add(pid)
    proc.kill('SIGKILL')
    await proc.exited
  }
  children.delete(proc)
  // The trap's line comes last; wait for it to be read (bounded).
  const deadline = Date.now() + 2_000
  while (!timedOut && !stdout.includes(marker) && Date.now() < deadline) await Bun.sleep(10)
  const jobs = (new RegExp(`${marker}([ 0-9]*)`).exec(stdout)?.[1] ?? '').split(' ').filter(Boolean).map(Number)
  for (const pid of jobs) leftRunning.add(pid)
  return { code: timedOut ? null : proc.exitCode, stdout: stdout.replace(new RegExp(`${marker}.*\\n?`), ''), stderr, jobs, timedOut }
}

/** `expected` with each `…` as "anything", as a whole-line pattern. */
// Anchored at the line's start only: guidd, running in the background, writes its request log
// to the same stdout, and its line for the curl's own request can land between the curl's body
// and the newline that ends it (seen in CI: `{"guid":...}{"level":30,...}`).
const linePattern = (expected: string): RegExp =>
  new RegExp(
    `^${expected
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}`,
  )

/** The process environment without any of guidd's settings, so the runner's own cannot leak into a block. */
const cleanEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !(name in Config.properties)) env[name] = value
  return env
}

const all = blocks()

test('the README marks a start block for each way to run guidd but docker compose', () => {
  expect(all.map((b) => b.heading)).toEqual(['Embedded (the default)', 'Redis mode', 'Redis + MongoDB', 'MongoDB-only', 'The compiled binary'])
  for (const b of all) expect({ heading: b.heading, expected: b.expected.length }).toEqual({ heading: b.heading, expected: 1 })
  // docker compose cannot run here (no engine): its block is shown, not marked (test/README.md).
  expect(readme).toContain('### docker compose')
  expect(readme).toMatch(/```sh\ndocker compose up -d\n/)
})

describe('README start blocks', () => {
  for (const block of all) {
    const needs = {
      redis: /^redis-server /m.test(block.script),
      ferretdb: /scripts\/ferretdb &$/m.test(block.script),
      binary: /^\.\/dist\/guidd /m.test(block.script),
    }
    const name = `README start block: ${block.heading}`
    const runs = (!needs.redis || redisSuites(name)) && (!needs.ferretdb || ferretdbSuites(name))
    const mode = /REDIS_URL=/.test(block.script) ? 'redis' : /MONGODB_URL=/.test(block.script) ? 'mongodb' : 'embedded'
    const store = /MONGODB_URL=/.test(block.script) ? 'mongodb' : 'sqlite'

    test.skipIf(!runs)(
      `${block.heading}: its last curl answers as shown, guidd in ${mode} mode over ${store}`,
      async () => {
        const own = mkdtempSync(join(dir, 'block-'))
        const env: Record<string, string> = { ...cleanEnv(), TMPDIR: own, SQLITE_PATH: join(own, 'data', 'guidd.sqlite') }
        let redis: TestRedis | undefined
        let ferretdb: TestFerretdb | undefined
        let cwd = root
        try {
          if (needs.redis) {
            redis = await startRedis()
            env.REDIS_PORT = String(redis.port)
          }
          if (needs.ferretdb) {
            ferretdb = await startFerretdb()
            env.MONGO_PORT = String(ferretdb.port)
          }
          if (needs.binary) {
            // The block runs where `./dist/guidd` is the binary just built, not the checkout's dist/.
            cwd = join(own, 'run')
            mkdirSync(join(cwd, 'dist'), { recursive: true })
            await buildBinary(join(cwd, 'dist', 'guidd'))
          }
          // Chosen once the services listen, so that none of them takes it first.
          env.PORT = String(await freePort())
          const lines = block.script.split('\n')
          const kept = lines.filter((line) => !PROVIDED.some((p) => p.line.test(line)))
          // Each service the block needs was named by a line this test replaced.
          expect(lines.length - kept.length).toBe(lines.filter((l) => /^npm ci$|^npm run build$/.test(l)).length + Number(needs.redis) + Number(needs.ferretdb))

          const run = await runBlock(kept.join('\n'), cwd, env, 90_000)
          const context = `${block.heading}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`
          expect({ code: run.code, context }).toEqual({ code: 0, context })
          expect(run.jobs.length).toBeGreaterThan(0)

          // The block's curl and the guidd it started in the background write to one stdout: a
          // request log line can land right after curl's body, before curl's closing newline
          // (seen: the answer, then `{"level":30,...}` on the same line). A log line starts a line of its own.
          const out = run.stdout.replace(/(?<=.)(?=\{"level":\d+,"time":)/g, '\n').split('\n')
          for (const expected of block.expected) {
            expect({ expected, found: out.some((line) => linePattern(expected).test(line)), context }).toEqual({ expected, found: true, context })
          }
          const listening = out.find((line) => line.includes('"msg":"guidd listening"'))
          expect(listening).toBeDefined()
          expect(JSON.parse(listening!)).toMatchObject({ mode, store, port: Number(env.PORT) })
        } finally {
          await stopTrees(leftRunning)
          leftRunning.clear()
          await redis?.stop()
          await ferretdb?.dispose()
        }
      },
      needs.ferretdb ? 15 * 60_000 : 240_000,
    )
  }
})
