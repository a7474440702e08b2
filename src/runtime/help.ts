import type { TSchema } from '@sinclair/typebox'
import { Config, describe } from './config'
import { VERSION } from './version'

const WIDTH = 80
const INDENT = '      '
const NBSP = '\u00a0'

/** `text` broken into lines of at most WIDTH columns after the indent, at spaces. */
const wrap = (text: string): string => {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && INDENT.length + line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(line)
  return lines.map((l) => `${INDENT}${l.replaceAll(NBSP, ' ')}`).join('\n')
}

/** One setting: its name and default, then what it means and what it accepts. */
const setting = (name: string, schema: TSchema): string => {
  const fallback = schema.default === undefined ? ' (unset)' : `=${schema.default}`
  // ">= 1" stays on one line.
  const accepts = describe(schema).replace(/([<>]=) /g, `$1${NBSP}`)
  return `  ${name}${fallback}\n${wrap(`${schema.description} Accepts ${accepts}${schema.secret ? '; never echoed' : ''}.`)}`
}

/**
 * `guidd --help`: the command line and every setting with its default and meaning, generated
 * from the one configuration schema (src/runtime/config.ts), so it cannot drift from what is read.
 */
export const helpText = (): string =>
  `${[
    `guidd ${VERSION}: GUID metadata service (REST API over an in-memory LRU, Redis and a durable store)`,
    '',
    'Usage: guidd [--help | --version | --healthcheck | backup <dest>]',
    '  (no argument)  start the service, configured by the environment variables below',
    '  --healthcheck  exit 0 if the service on $HOST:$PORT answers GET /healthz with 200, else 1',
    '  backup <dest>  copy the SQLite store at $SQLITE_PATH to the new file <dest>, consistent',
    '                 while a guidd serves from it (every write acknowledged before the copy',
    '                 began is in it); prints a JSON summary. Restore: stop guidd, replace',
    '                 $SQLITE_PATH with the copy (delete its -wal and -shm files), start guidd',
    '  --help, -h     print this text and exit',
    '  --version      print the version and exit',
    '',
    'Environment (an empty value counts as unset; a bad value stops the start with exit code 2):',
    ...Object.entries(Config.properties as Record<string, TSchema>).map(([name, schema]) => setting(name, schema)),
    '',
    'Logs are JSON lines on stdout (pino format); for a terminal: guidd | npx pino-pretty',
    'Signals: SIGTERM/SIGINT drain and stop; SIGHUP re-reads API_KEYS_FILE.',
  ].join('\n')}\n`
