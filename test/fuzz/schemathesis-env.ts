import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { runToExit } from '../support/process'

/**
 * Schemathesis (PyPI) in a virtualenv of its own under $HOME/.cache/guidd/, made on first use
 * and reused by every later run: one pinned version, so a run is reproducible from its seed.
 */
export const SCHEMATHESIS_VERSION = '4.32.5'

const home = join(homedir(), '.cache', 'guidd', `schemathesis-${SCHEMATHESIS_VERSION}`)
const executable = join(home, 'bin', 'schemathesis')
/** Written last: a venv without it is a half-made one (an install that was cut short), made again. */
const complete = join(home, '.complete')

export const pythonAvailable = (): boolean => spawnSync('python3', ['--version']).status === 0

/**
 * Whether the fuzz suites run: yes with python3; without it they are skipped with a SKIPPED
 * line, except under CI=true, where they fail (CI has Python 3.11 and PyPI).
 */
export const fuzzSuites = (name: string): boolean => {
  if (pythonAvailable()) return true
  if (process.env.CI === 'true') throw new Error(`${name}: python3 is not installed, and CI=true does not skip`)
  console.log(`SKIPPED: ${name} (python3 is not installed; Schemathesis is installed with it from PyPI)`)
  return false
}

const must = async (what: string, cmd: string[], timeoutMs: number): Promise<void> => {
  const result = await runToExit({ cmd, timeoutMs })
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stdout.slice(-3000)}${result.stderr.slice(-3000)}`)
}

let ready: Promise<string> | undefined

/** The schemathesis executable, installed first when this version is not in the cache (a few minutes at most). */
export const schemathesis = (): Promise<string> =>
  (ready ??= (async () => {
    if (existsSync(complete) && existsSync(executable)) return executable
    rmSync(home, { recursive: true, force: true })
    mkdirSync(join(home, '..'), { recursive: true })
    // Debian's python3 needs python3-venv for ensurepip; without it, a bare venv and the system pip targeting it.
    const venv = await runToExit({ cmd: ['python3', '-m', 'venv', home], timeoutMs: 120_000 })
    let pip = [join(home, 'bin', 'python'), '-m', 'pip']
    if (venv.code !== 0 || !existsSync(join(home, 'bin', 'pip'))) {
      rmSync(home, { recursive: true, force: true })
      await must('python3 -m venv --without-pip', ['python3', '-m', 'venv', '--without-pip', home], 120_000)
      pip = ['python3', '-m', 'pip', '--python', join(home, 'bin', 'python')]
    }
    await must(`pip install schemathesis==${SCHEMATHESIS_VERSION}`, [...pip, 'install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`], 300_000)
    await must('schemathesis --version', [executable, '--version'], 60_000)
    writeFileSync(complete, `${SCHEMATHESIS_VERSION}\n`)
    return executable
  })())
