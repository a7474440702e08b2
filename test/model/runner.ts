import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { commandArbs } from './commands'
import { FeedConsumer } from './feed'
import { emptyModel, POOL_SIZE, settle } from './model'
import type { Backing } from './modes'
import { DEFAULT_TTL_SECONDS, type Service } from './service'
import { Transcript } from './transcript'

/**
 * One mode's model run: fast-check generates command sequences, runs each against the
 * mode's real service (fresh GUIDs per run, so runs share one service), shrinks a failure,
 * and the report gives the minimal sequence as curl lines, the seed to replay it through
 * the suite, and the failing run as a bash script to replay by hand.
 */

export interface Budget {
  /** Most runs (command sequences). */
  numRuns: number
  /** Most commands per run. */
  maxCommands: number
  /** No new run starts after this long (a slow machine runs fewer; each run still finishes). */
  runMs: number
  /** Shrinking a failure stops after this long, with the smallest failing sequence found so far. */
  shrinkMs: number
}

/** Replaying a reported failure: the values its report printed. */
export interface Replay {
  seed?: number
  path?: string
  replayPath?: string
  /** Classes of input left out (GUIDD_MODEL_WITHOUT; see commands.ts `Without`). */
  without?: ReadonlySet<string>
}

export interface Outcome {
  /** Runs until the first failure (all of them when none failed). */
  runs: number
  /** Runs spent shrinking a failure. */
  shrinkRuns: number
  commands: number
  restarts: number
  ms: number
  /** What ran and what it was answered, counted over every run. */
  stats: Map<string, number>
  /** The failure report, or null when every run agreed with the model. */
  failure: string | null
}

interface Wrapped {
  hasRan: boolean
  cmd: { toString(): string }
}

/** Tries per shrink candidate. */
const SHRINK_ATTEMPTS = 3

const ranCommands = (cmds: Iterable<unknown>): string[] => [...(cmds as Iterable<Wrapped>)].filter((c) => c.hasRan).map((c) => c.cmd.toString())

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export const runModel = async (modeName: string, service: Service, backing: Backing, budget: Budget, replay: Replay = {}): Promise<Outcome> => {
  const started = Date.now()
  let runs = 0
  let shrinkRuns = 0
  let commands = 0
  let failedAt: number | null = null
  let failure: { transcript: Transcript; error: unknown } | null = null
  /**
   * The run that failed first, as it was: shrinking may end on a sequence that fails only
   * for what an earlier run left behind (a server still recovering), so the report keeps both.
   */
  let firstFailure: { error: unknown; commands: string[] } | null = null
  const stats = new Map<string, number>()

  const property = fc.asyncProperty(
    fc.commands(commandArbs(backing.faults, replay.without ?? new Set()), { maxCommands: budget.maxCommands, size: 'max', replayPath: replay.replayPath }),
    async (cmds) => {
      // Past the budget no new run starts; past the shrink budget, candidates pass untried and shrinking ends.
      if (failedAt === null && Date.now() - started > budget.runMs) return
      if (failedAt !== null && Date.now() - failedAt > budget.shrinkMs) return
      // Timing makes some failures come and go: while shrinking, a candidate gets a few tries
      // (each on fresh GUIDs) before it counts as passing.
      const attempts = failedAt === null ? 1 : SHRINK_ATTEMPTS
      for (let attempt = 0; attempt < attempts; attempt++) {
        await backing.reset(service)
        const model = emptyModel()
        const transcript = new Transcript(POOL_SIZE)
        if (failedAt === null) runs++
        else shrinkRuns++
        // The change feed's consumer follows the whole run, through every kill -9 and fault.
        const feed = new FeedConsumer(() => service.base)
        try {
          await feed.start()
          await fc.asyncModelRun(() => ({ model, real: { service, transcript, defaultTtlSeconds: DEFAULT_TTL_SECONDS, stats, without: replay.without ?? new Set<string>() } }), cmds)
          // A fault still on at the end (the store down, the disk full) is lifted first: the feed
          // is read once the service can read it, and expiries due meanwhile are told after it.
          if (model.storeDown || model.diskFull) {
            await backing.reset(service)
            model.storeBackAt = Date.now()
          }
          // An expiry may still be on its way (told within 3 s of its instant, or of the store's
          // return): read and check again until none is, or its time has passed (then it fails).
          let disagreement: string | null
          for (;;) {
            await feed.catchUp()
            settle(model, Date.now())
            const verdict = feed.check(model, Date.now())
            disagreement = verdict.problem
            if (disagreement !== null || verdict.pendingUntil === 0) break
            await Bun.sleep(Math.min(200, Math.max(10, verdict.pendingUntil - Date.now())))
          }
          stats.set('feed events checked', (stats.get('feed events checked') ?? 0) + feed.events.length)
          stats.set('feed reconnects', (stats.get('feed reconnects') ?? 0) + feed.reconnects)
          if (disagreement !== null) throw new Error(`the change feed disagrees with the model: ${disagreement}`)
        } catch (error) {
          if (failedAt === null) firstFailure = { error, commands: ranCommands(cmds) }
          failedAt ??= Date.now()
          failure = { transcript, error }
          throw error
        } finally {
          commands += ranCommands(cmds).length
          await feed.stop()
        }
      }
    },
  )

  const details = await fc.check(property, { numRuns: budget.numRuns, seed: replay.seed, path: replay.path, endOnFailure: false })
  const outcome: Outcome = { runs, shrinkRuns, commands, restarts: service.restarts, ms: Date.now() - started, stats, failure: null }
  if (!details.failed) return outcome
  const last = failure as { transcript: Transcript; error: unknown } | null
  const first = firstFailure as { error: unknown; commands: string[] } | null
  const cmds = details.counterexample?.[0] as Iterable<unknown> | undefined
  const replayPath = /replayPath="([^"]*)"/.exec(String(cmds))?.[1]
  const script = last?.transcript.script() ?? '# no transcript\n'
  const file = join(tmpdir(), `guidd-model-failure-${modeName.replace(/[^a-z0-9]+/gi, '-')}-${details.seed}.sh`)
  writeFileSync(file, script)
  const error = last?.error ?? details.errorInstance
  outcome.failure = [
    `model-based test failed in mode "${modeName}" at run ${runs} (then ${shrinkRuns} runs shrinking it: ${details.numShrinks} smaller failures)`,
    `error: ${messageOf(error)}`,
    '',
    ...(first === null ? [] : [`the first failure (run ${runs}), before shrinking: ${messageOf(first.error).split('\n')[0]}`, ...first.commands.map((c) => `  ${c}`), '']),
    'minimal sequence ($B: the service, $G0-$G3: fresh GUIDs):',
    ...(cmds ? ranCommands(cmds) : []).map((c) => `  ${c}`),
    '',
    `seed ${details.seed}, path ${details.counterexamplePath}; replay it through the suite:`,
    `  GUIDD_MODEL_MODES='${modeName}' GUIDD_MODEL_SEED=${details.seed} GUIDD_MODEL_PATH='${details.counterexamplePath}'${replay.without?.size ? ` GUIDD_MODEL_WITHOUT='${[...replay.without].join(',')}'` : ''}${replayPath ? ` GUIDD_MODEL_REPLAY='${replayPath}'` : ''} npx bun test test/model`,
    `the failing run as a bash script (B=http://127.0.0.1:PORT bash ${file}):`,
    script,
  ].join('\n')
  return outcome
}
