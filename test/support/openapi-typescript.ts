import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { runToExit } from './process'

/**
 * openapi-typescript, which generates the typed client's types from the served document. It
 * drives the TypeScript 5 compiler API, which the repo's TypeScript 7 (the native compiler)
 * does not have, so it is installed with its own TypeScript 5 into $HOME/.cache/guidd/ on
 * first use (npm, a few seconds) and reused by every later run, rather than a devDependency.
 */
export const OPENAPI_TYPESCRIPT_VERSION = '7.13.0'
const TYPESCRIPT_VERSION = '5.9.3'

const root = join(import.meta.dir, '..', '..')
const home = join(homedir(), '.cache', 'guidd', `openapi-typescript-${OPENAPI_TYPESCRIPT_VERSION}-ts${TYPESCRIPT_VERSION}`)
const cli = join(home, 'node_modules', 'openapi-typescript', 'bin', 'cli.js')
/** Written last: an install cut short is made again. */
const complete = join(home, '.complete')

const must = async (what: string, cmd: string[], timeoutMs: number, cwd?: string): Promise<string> => {
  const result = await runToExit({ cmd, timeoutMs, ...(cwd === undefined ? {} : { cwd }) })
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stdout.slice(-3000)}${result.stderr.slice(-3000)}`)
  return result.stdout
}

let ready: Promise<string> | undefined

const install = (): Promise<string> =>
  (ready ??= (async () => {
    if (existsSync(complete) && existsSync(cli)) return cli
    rmSync(home, { recursive: true, force: true })
    mkdirSync(home, { recursive: true })
    writeFileSync(join(home, 'package.json'), '{"private":true}\n')
    await must(
      'npm install openapi-typescript',
      ['npm', 'install', '--no-audit', '--no-fund', '--no-save', '--prefix', home, `openapi-typescript@${OPENAPI_TYPESCRIPT_VERSION}`, `typescript@${TYPESCRIPT_VERSION}`],
      300_000,
    )
    writeFileSync(complete, `${OPENAPI_TYPESCRIPT_VERSION}\n`)
    return cli
  })())

/** `text` formatted by Biome as if it were the repo's file `path` (so the repo's configuration applies). */
const biomeFormat = async (text: string, path: string): Promise<string> => {
  const proc = Bun.spawn([join(root, 'node_modules', '.bin', 'biome'), 'format', `--stdin-file-path=${path}`], { cwd: root, stdin: new Blob([text]), stdout: 'pipe', stderr: 'pipe' })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000)
  try {
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    if (code !== 0) throw new Error(`biome format failed (exit ${code}):\n${err}`)
    return out
  } finally {
    clearTimeout(timer)
  }
}

/** The TypeScript types of `doc`, as openapi-typescript writes them and Biome formats them (the repo's style). */
export const generateTypes = async (doc: object, fileName: string): Promise<string> => {
  const tool = await install()
  const dir = mkdtempSync(join(tmpdir(), 'guidd-openapi-ts-'))
  try {
    writeFileSync(join(dir, 'openapi.json'), JSON.stringify(doc))
    await must('openapi-typescript', ['node', tool, join(dir, 'openapi.json'), '--output', join(dir, fileName)], 60_000)
    return await biomeFormat(readFileSync(join(dir, fileName), 'utf8'), join('test', 'client', fileName))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
