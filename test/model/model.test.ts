import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Backing, MODES } from './modes'
import { type Budget, runModel } from './runner'
import { Service } from './service'

/**
 * Model-based tests (fast-check) against the real service in every mode: random sequences
 * of every request, expiry crossings, kill -9 restarts and faults, each answer compared
 * with the reference model (test/README.md, "Model-based tests"). GUIDD_SOAK=1 runs far longer.
 */

const SOAK = process.env.GUIDD_SOAK === '1'
const env = (name: string): number | undefined => (process.env[name] ? Number(process.env[name]) : undefined)

/** CI: all modes together within ~3 minutes on a loaded 2-core machine. */
const budget: Budget = SOAK
  ? { numRuns: env('GUIDD_MODEL_RUNS') ?? 400, maxCommands: 60, runMs: (env('GUIDD_SOAK_MINUTES') ?? 10) * 60_000, shrinkMs: 300_000 }
  : { numRuns: env('GUIDD_MODEL_RUNS') ?? 12, maxCommands: 30, runMs: 40_000, shrinkMs: (env('GUIDD_MODEL_SHRINK_SECONDS') ?? 90) * 1000 }

const wanted = new Set((process.env.GUIDD_MODEL_MODES ?? '').split(',').filter(Boolean))
const replay = {
  seed: env('GUIDD_MODEL_SEED'),
  path: process.env.GUIDD_MODEL_PATH || undefined,
  replayPath: process.env.GUIDD_MODEL_REPLAY || undefined,
  without: new Set((process.env.GUIDD_MODEL_WITHOUT ?? '').split(',').filter(Boolean)),
}

const withKnownIssues = process.env.GUIDD_MODEL_KNOWN_ISSUES === '1'

for (const mode of MODES) {
  const enabled = (wanted.size === 0 || wanted.has(mode.name)) && mode.available()
  const known = withKnownIssues ? [] : Object.entries(mode.knownIssues ?? {})
  const modeReplay = known.length === 0 ? replay : { ...replay, without: new Set([...replay.without, ...known.map(([input]) => input)]) }
  const modeBudget: Budget = SOAK || mode.ciRunMs === undefined ? budget : { ...budget, runMs: Math.min(budget.runMs, mode.ciRunMs) }
  describe.skipIf(!enabled)(`model: ${mode.name}`, () => {
    let dir: string
    let backing: Backing
    let service: Service

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), `guidd-model-${mode.name}-`))
      backing = await mode.start(dir)
      service = new Service(mode.name, backing.env)
      await service.start()
    }, mode.startTimeoutMs ?? 60_000)

    afterAll(async () => {
      await service?.stop()
      await backing?.stop()
      rmSync(dir, { recursive: true, force: true })
    }, 30_000)

    test(
      'every answer agrees with the model',
      async () => {
        for (const [input, issue] of known) console.log(`KNOWN ISSUE, left out of mode ${mode.name}: ${input} (${issue}); GUIDD_MODEL_KNOWN_ISSUES=1 runs it`)
        const outcome = await runModel(mode.name, service, backing, modeBudget, modeReplay)
        console.log(
          `model ${mode.name}: ${outcome.runs} runs${outcome.shrinkRuns ? ` (+${outcome.shrinkRuns} shrinking)` : ''}, ${outcome.commands} commands, ${outcome.restarts} kill -9 restarts, ${(outcome.ms / 1000).toFixed(1)} s`,
        )
        console.log(
          `  ${[...outcome.stats]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([what, n]) => `${what}: ${n}`)
            .join(', ')}`,
        )
        if (outcome.failure !== null) console.log(`${outcome.failure}\nthe service's last output:\n${service.output()}`)
        expect(outcome.failure).toBeNull()
      },
      modeBudget.runMs + modeBudget.shrinkMs + 60_000,
    )
  })
}
