import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, release, totalmem } from 'node:os'

/**
 * The results file `npm run bench` writes (bench/RESULTS.md unless BENCH_RESULTS names
 * another): the figures of the latest run, with when, on what and from which commit they were
 * measured, so no figure has to be copied into prose by hand.
 */

/** The CPU model as the kernel names it, or `unknown` off Linux. */
const cpuModel = (): string => {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/** `<sha> (<subject>)`, with `+ uncommitted changes` when the tree differs from it. */
const commitOf = (checkout: string): string => {
  const git = (...args: string[]) => spawnSync('git', ['-C', checkout, ...args], { encoding: 'utf8' })
  const head = git('log', '-1', '--format=%h (%s)')
  if (head.status !== 0) return 'unknown (not a git checkout)'
  // The results file itself is not a change of what was measured.
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/RESULTS.md').stdout.trim() !== ''
  return `${head.stdout.trim()}${dirty ? ' + uncommitted changes' : ''}`
}

export interface RunFacts {
  /** The checkout whose service was measured. */
  serviceRoot: string
  sections: readonly string[]
  /** The 1-minute load average when the run began. */
  loadBefore: number
  startedAt: Date
}

/** The header of a results file: the facts a figure needs to be read (and compared) at all. */
export const resultsHeader = (facts: RunFacts): string[] => {
  const settings = Object.entries(Bun.env)
    .filter(([name]) => name.startsWith('BENCH_'))
    .map(([name, value]) => `${name}=${value}`)
  return [
    '# Latest benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts) at the end of each run; do not edit by hand. How to read',
    'each figure: [bench/README.md](README.md).',
    '',
    `- Date: ${facts.startedAt.toISOString()} to ${new Date().toISOString()}`,
    `- Machine: ${cpuModel()}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}`,
    `- Load average (1 min): ${facts.loadBefore.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end`,
    `- Commit measured: ${commitOf(facts.serviceRoot)}`,
    `- Bun ${Bun.version}`,
    `- Sections: ${facts.sections.join(', ')}`,
    `- Settings: ${settings.length === 0 ? 'none (the defaults)' : settings.join(' ')}`,
    '',
  ]
}

export const writeResults = (path: string, facts: RunFacts, body: readonly string[]): void => {
  writeFileSync(path, `${[...resultsHeader(facts), ...body].join('\n')}\n`)
}
