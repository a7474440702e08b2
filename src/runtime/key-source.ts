import { readFileSync } from 'node:fs'
import { type Config, ConfigError } from './config'

/** RFC 6750 b64token: what a bearer key may be made of. */
const KEY = /^[A-Za-z0-9._~+/-]+=*$/

export type KeySettings = Pick<Config, 'API_KEYS' | 'API_KEYS_FILE'>

/** Whether the /guid routes need a key: when either source is configured (an empty key file then admits no one). */
export const authRequired = (settings: KeySettings): boolean => settings.API_KEYS !== undefined || settings.API_KEYS_FILE !== undefined

/**
 * The keys of a key file: one a line, surrounding blanks trimmed, blank lines and `#` comments
 * skipped. A bad line is reported by its number, never by its content (it may be a key).
 */
export const parseKeyFile = (text: string, path: string): string[] => {
  const keys: string[] = []
  const bad: number[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    if (KEY.test(line)) keys.push(line)
    else bad.push(i + 1)
  })
  if (bad.length > 0) throw new ConfigError([`API_KEYS_FILE=${JSON.stringify(path)}: line ${bad.join(', ')} is not a key (letters, digits and -._~+/, then optional =)`])
  return keys
}

/** Every configured key: API_KEYS and the lines of API_KEYS_FILE. Throws a ConfigError when the file cannot be used. */
export const loadKeys = (settings: KeySettings, readText: (path: string) => string = (path) => readFileSync(path, 'utf8')): string[] => {
  const keys =
    settings.API_KEYS?.split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '') ?? []
  if (settings.API_KEYS_FILE !== undefined) {
    let text: string
    try {
      text = readText(settings.API_KEYS_FILE)
    } catch (error) {
      throw new ConfigError([`API_KEYS_FILE=${JSON.stringify(settings.API_KEYS_FILE)}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`])
    }
    keys.push(...parseKeyFile(text, settings.API_KEYS_FILE))
  }
  return keys
}
