import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runToExit } from './process'

const root = join(import.meta.dir, '..', '..')

/** package.json's "build" command, flags and all, with its `--outfile` pointed at `outfile`. */
export const buildCommand = (outfile: string): string[] => {
  const script = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build ?? ''
  const [bun, build, ...args] = script.split(/\s+/)
  if (bun !== 'bun' || build !== 'build' || !args.includes('--compile')) throw new Error(`package.json's build is not a bun build --compile: ${script}`)
  const out = args.indexOf('--outfile')
  if (out === -1) throw new Error(`package.json's build names no --outfile: ${script}`)
  args[out + 1] = outfile
  return [process.execPath, build, ...args]
}

/** Builds the executable as `npm run build` does, into `outfile` (not the checkout's dist/), bounded. */
export const buildBinary = async (outfile: string): Promise<void> => {
  const run = await runToExit({ cmd: buildCommand(outfile), cwd: root, timeoutMs: 120_000 })
  if (run.code !== 0) throw new Error(`the build failed (${run.code}):\n${run.stdout}${run.stderr}`)
}
