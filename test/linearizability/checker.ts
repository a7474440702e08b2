import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { type Finished, runToExit } from '../support/process'

/**
 * The Go linearizability checker (test/linearizability/checker, Porcupine): built once per
 * version of its sources into $HOME/.cache/guidd/, so later runs reuse the binary.
 */

const SOURCES = join(import.meta.dir, 'checker')
/** The first build downloads Porcupine from the Go module proxy and compiles it. */
const BUILD_TIMEOUT_MS = 240_000

export const goAvailable = (): boolean => spawnSync('go', ['version']).status === 0

/**
 * Whether suites that need the checker run: yes when Go is installed; when it is not, they
 * are skipped with a SKIPPED line, except under CI=true, where they fail instead.
 */
export const checkerSuites = (name: string): boolean => {
  if (goAvailable()) return true
  if (process.env.CI === 'true') throw new Error(`${name}: go is not installed, and CI=true does not skip`)
  console.log(`SKIPPED: ${name} (go is not installed; the linearizability checker is built with it)`)
  return false
}

/** A hash of go.mod, go.sum and the Go files: a new binary whenever one of them changes. */
const sourceHash = (): string => {
  const hash = createHash('sha256')
  const files = readdirSync(SOURCES)
    .filter((f) => f === 'go.mod' || f === 'go.sum' || f.endsWith('.go'))
    .sort()
  for (const f of files)
    hash
      .update(`${f}\0`)
      .update(readFileSync(join(SOURCES, f)))
      .update('\0')
  return hash.digest('hex').slice(0, 16)
}

let built: Promise<string> | undefined

/** The checker's path, built first when this version of it is not in the cache yet. */
export const checkerBinary = (): Promise<string> => {
  built ??= (async () => {
    const cache = join(homedir(), '.cache', 'guidd')
    const binary = join(cache, `linearizability-checker-${sourceHash()}`)
    if (existsSync(binary)) return binary
    mkdirSync(cache, { recursive: true })
    // Built beside its final name and renamed: a concurrent run never sees half a binary.
    const partial = `${binary}.${process.pid}.tmp`
    const result = await runToExit({
      cmd: ['go', 'build', '-o', partial, '.'],
      cwd: SOURCES,
      env: { GOFLAGS: '-mod=mod -buildvcs=false' },
      timeoutMs: BUILD_TIMEOUT_MS,
    })
    if (result.code !== 0) throw new Error(`go build of the linearizability checker failed (${result.code}):\n${result.stdout}${result.stderr}`)
    renameSync(partial, binary)
    // Older versions of the checker are of no further use.
    for (const f of readdirSync(cache)) {
      if (f.startsWith('linearizability-checker-') && !f.endsWith('.tmp') && join(cache, f) !== binary) rmSync(join(cache, f), { force: true })
    }
    return binary
  })()
  return built
}

/** Exit codes of the checker. */
export const CHECKER_EXIT = { linearizable: 0, notLinearizable: 1, badInput: 2, noVerdict: 3 } as const

/** Runs the checker on a history file, writing visualisations (on failure) into `outDir`. */
export const runChecker = async (historyPath: string, outDir: string, args: string[] = []): Promise<Finished> =>
  runToExit({ cmd: [await checkerBinary(), '-out', outDir, ...args, historyPath], timeoutMs: 180_000 })
