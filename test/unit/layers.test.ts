import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = join(import.meta.dir, '..', '..')

/** An import the layering forbids, the file it is planted in, and the rule that must name it. */
const PLANTS = [
  { file: 'src/domain/planted-driver.ts', code: "import 'mongodb'\n", rule: 'domain-imports-no-package' },
  { file: 'src/domain/planted-fs.ts', code: "import 'node:fs'\n", rule: 'domain-imports-no-package' },
  { file: 'src/data/planted-sqlite.ts', code: "import 'bun:sqlite'\n", rule: 'data-imports-no-package' },
  { file: 'src/http/planted-redis.ts', code: "import 'redis'\n", rule: 'drivers-only-in-adapters' },
  { file: 'bench/planted-lru.ts', code: "import '../src/adapters/lru/lru'\n", rule: 'bench-through-public-factories' },
]

/** The layer check's command line, as package.json's lint:layers has it. */
const LINT_LAYERS = ((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['lint:layers'] ?? '').split(/\s+/)

/** Runs the project's own layer check (what `npm run lint:layers` runs) in `dir`: its exit code and "rule: from" per violation. */
const cruise = (dir: string): { exitCode: number; violations: string[] } => {
  const [command, ...args] = LINT_LAYERS
  expect(command).toBe('depcruise')
  // Under CI=true depcruise colours its report even into a pipe (supports-color); the escapes
  // are taken out so the rule names match either way.
  const run = Bun.spawnSync([join(root, 'node_modules', '.bin', 'depcruise'), ...args], { cwd: dir, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, FORCE_COLOR: '0' } })
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI escape is the point
  const out = (run.stdout.toString() + run.stderr.toString()).replace(/\x1b\[[0-9;]*m/g, '')
  const violations = [...out.matchAll(/error ([\w-]+): (\S+) →/g)].map((m) => `${m[1]}: ${m[2]}`)
  return { exitCode: run.exitCode, violations }
}

// A copy of the sources and the rules, so planting never touches the work tree.
let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'guidd-layers-'))
  for (const name of ['src', 'bench', 'tsconfig.json', '.dependency-cruiser.cjs', 'package.json']) cpSync(join(root, name), join(dir, name), { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the layering rules (.dependency-cruiser.cjs)', () => {
  test('the sources as they are pass', () => {
    expect(cruise(dir)).toEqual({ exitCode: 0, violations: [] })
  }, 60_000)

  test('each planted import a layer must not make fails, named by its rule', () => {
    for (const plant of PLANTS) writeFileSync(join(dir, plant.file), plant.code)
    try {
      const { exitCode, violations } = cruise(dir)
      expect(exitCode).not.toBe(0)
      for (const plant of PLANTS) expect(violations).toContain(`${plant.rule}: ${plant.file}`)
    } finally {
      for (const plant of PLANTS) rmSync(join(dir, plant.file))
    }
  }, 60_000)
})
