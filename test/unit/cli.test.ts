import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { Config } from '../../src/runtime/config'
import { helpText } from '../../src/runtime/help'
import { runToExit } from '../support/process'

/** `guidd --help` and `--version`: the real entrypoint, run to its end; nothing may start. */

const root = join(import.meta.dir, '..', '..')
const guidd = (...args: string[]) =>
  // A PORT that cannot be bound: had the server started, the run would fail or hang.
  runToExit({ cmd: [process.execPath, join(root, 'src', 'main.ts'), ...args], cwd: root, env: { PORT: '1', SQLITE_PATH: '/nonexistent/dir/guidd.sqlite' }, timeoutMs: 25_000 })

/** Each case starts Bun on the whole entrypoint: seconds on a busy machine. */
const SLOW = 30_000

const pkg = (await Bun.file(join(root, 'package.json')).json()) as { version: string }

describe('guidd --help', () => {
  test(
    'prints the help text alone and exits 0',
    async () => {
      const run = await guidd('--help')
      expect(run).toEqual({ code: 0, stdout: helpText(), stderr: '' })
    },
    SLOW,
  )

  test(
    '-h is --help',
    async () => {
      expect((await guidd('-h')).stdout).toBe(helpText())
    },
    SLOW,
  )

  test('lists every setting with its default, meaning and accepted values', () => {
    const text = helpText()
    for (const [name, schema] of Object.entries(Config.properties) as Array<[string, { default?: unknown; description: string }]>) {
      expect(text).toContain(schema.default === undefined ? `\n  ${name} (unset)\n` : `\n  ${name}=${schema.default}\n`)
      // The description, as wrapped: its words in order.
      const words = schema.description.split(' ')
      expect(text.replace(/\s+/g, ' ')).toContain(words.join(' '))
    }
    expect(text).toContain('LOG_SAMPLE_2XX=1\n')
    expect(text.replace(/\s+/g, ' ')).toContain('Accepts a number >= 0 and <= 1.')
    expect(text).toContain('--version')
    expect(text).toContain('--healthcheck')
    expect(text).toContain('pino-pretty')
  })

  test('no line is wider than 100 columns', () => {
    for (const line of helpText().split('\n')) expect(line.length).toBeLessThanOrEqual(100)
  })
})

describe('guidd --version', () => {
  test(
    "prints package.json's version alone and exits 0",
    async () => {
      expect(await guidd('--version')).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' })
    },
    SLOW,
  )
})

describe('an unknown argument', () => {
  test(
    'exits 2 naming it, without starting',
    async () => {
      const run = await guidd('--port=80')
      expect(run.code).toBe(2)
      expect(run.stdout).toBe('')
      expect(run.stderr).toBe('guidd: unknown argument --port=80; see guidd --help\n')
    },
    SLOW,
  )
})

describe('guidd backup', () => {
  test(
    'without a destination exits 2 with its usage, without starting',
    async () => {
      const run = await guidd('backup')
      expect(run).toEqual({ code: 2, stdout: '', stderr: 'guidd: usage: guidd backup <dest file>; see guidd --help\n' })
    },
    SLOW,
  )

  test(
    'with no store at SQLITE_PATH exits 1 naming it',
    async () => {
      const run = await guidd('backup', '/nonexistent/copy.sqlite')
      expect(run).toEqual({ code: 1, stdout: '', stderr: 'guidd: backup failed: no SQLite store at /nonexistent/dir/guidd.sqlite\n' })
    },
    SLOW,
  )
})
