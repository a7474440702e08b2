/**
 * Request bodies as the model sends them: JSON text built field by field, so that a body
 * can also be made wrong on purpose (a duplicated key, raw bytes that are not UTF-8), and
 * so that every `expire` in it can be rendered for a replay relative to the replay's own
 * clock (a shell expression) instead of as a timestamp long past.
 */

/** The most `expire` may be: 9999-12-31T23:59:59Z (docs/api.md). */
export const MAX_EXPIRE = 253402300799

export const EXPIRE_FORMATS = ['integer', 'digits', 'rfc3339', 'rfc3339-offset', 'rfc3339-fraction'] as const
export type ExpireFormat = (typeof EXPIRE_FORMATS)[number]

/** An `expire` as generated: seconds from now when the command runs, or beyond the maximum. */
export interface ExpireSpec {
  /** Seconds after the current second (<= 0: not in the future). Ignored when `far`. */
  offset: number
  format: ExpireFormat
  /** Past 9999-12-31T23:59:59Z: always refused. */
  far?: boolean
  /** Send this many ms before the next second boundary, so the write lands on it (short expires only). */
  alignMs?: number
}

/** An `expire` as sent: the instant, and how it was written. */
export interface SentExpire {
  seconds: number
  format: ExpireFormat
}

/** Invalid UTF-8 sequences put raw into a body: a lone continuation byte, 0xFF, an overlong '/', an encoded surrogate, a truncated sequence. */
export const BAD_UTF8: readonly (readonly number[])[] = [[0x80], [0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]

export type BodyQuirk = { kind: 'none' } | { kind: 'duplicate-key' } | { kind: 'bad-utf8'; bytes: readonly number[] }

/** A GUID in a body: its text, and the bash expression that makes it in a replay. */
export interface BodyGuid {
  text: string
  shell: string
}

/** One piece of body text: literal JSON, raw bytes, a GUID, or an expire (`E`: as sent, or as generated for a description). */
export type Segment<E = SentExpire> = { text: string } | { bytes: readonly number[] } | { guid: BodyGuid } | { expire: E }

const OFFSET_SECONDS = 5 * 3600 + 30 * 60

const pad = (n: number, w = 2) => String(n).padStart(w, '0')
const isoSeconds = (seconds: number): string => {
  const d = new Date(seconds * 1000)
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
}

/** The JSON value for an expire (fractions of a second are dropped by the service, so .250 changes nothing). */
export const expireJson = (e: SentExpire): string => {
  switch (e.format) {
    case 'integer':
      return String(e.seconds)
    case 'digits':
      return `"${e.seconds}"`
    case 'rfc3339':
      return `"${isoSeconds(e.seconds)}Z"`
    case 'rfc3339-offset':
      return `"${isoSeconds(e.seconds + OFFSET_SECONDS)}+05:30"`
    case 'rfc3339-fraction':
      return `"${isoSeconds(e.seconds)}.250Z"`
  }
}

/** The same as a bash word computing it from `$T0` (the replay's start second), `n` seconds later. */
export const expireShell = (e: SentExpire, n: number): string => {
  const at = `$((T0+${n}))`
  const date = (shift: number, suffix: string) => `"$(date -u -d @$((T0+${n + shift})) +%Y-%m-%dT%H:%M:%S${suffix})"`
  switch (e.format) {
    case 'integer':
      return `"${at}"`
    case 'digits':
      return `'"'"${at}"'"'`
    case 'rfc3339':
      return `'"'${date(0, 'Z')}'"'`
    case 'rfc3339-offset':
      return `'"'${date(OFFSET_SECONDS, '+05:30')}'"'`
    case 'rfc3339-fraction':
      return `'"'${date(0, '.250Z')}'"'`
  }
}

export interface BodyFields<E = SentExpire> {
  guid?: BodyGuid
  user?: string
  expire?: E
}

/**
 * The body's segments: `{"guid":…,"user":…,"expire":…}` with the fields given, then the
 * quirk: a duplicated key repeats a field with another value; bad UTF-8 goes inside the
 * user string (one is added when there is none).
 */
export const bodySegments = <E>(fields: BodyFields<E>, quirk: BodyQuirk): Segment<E>[] => {
  const parts: Segment<E>[][] = []
  const guid = fields.guid
  if (guid !== undefined) parts.push([{ text: '"guid":' }, { guid }])
  if (quirk.kind === 'bad-utf8') {
    const before = JSON.stringify(fields.user ?? 'x').slice(0, -1)
    parts.push([{ text: `"user":${before}` }, { bytes: quirk.bytes }, { text: '"' }])
  } else if (fields.user !== undefined) parts.push([{ text: `"user":${JSON.stringify(fields.user)}` }])
  if (fields.expire !== undefined) parts.push([{ text: '"expire":' }, { expire: fields.expire }])
  if (quirk.kind === 'duplicate-key') {
    if (fields.user !== undefined) parts.push([{ text: '"user":"duplicate"' }])
    else if (fields.expire !== undefined) parts.push([{ text: '"expire":' }, { expire: fields.expire }])
    else if (guid !== undefined) parts.push([{ text: '"guid":' }, { guid }])
    else parts.push([{ text: '"user":"original"' }], [{ text: '"user":"duplicate"' }])
  }
  const out: Segment<E>[] = [{ text: '{' }]
  parts.forEach((p, i) => {
    if (i > 0) out.push({ text: ',' })
    out.push(...p)
  })
  out.push({ text: '}' })
  return out
}

const encoder = new TextEncoder()

/** The bytes on the wire. A lone surrogate in a string was escaped by JSON.stringify, so the text is well-formed. */
export const bodyBytes = (segments: readonly Segment[]): Uint8Array<ArrayBuffer> => {
  const chunks = segments.map((s) =>
    'text' in s ? encoder.encode(s.text) : 'bytes' in s ? Uint8Array.from(s.bytes) : 'guid' in s ? encoder.encode(JSON.stringify(s.guid.text)) : encoder.encode(expireJson(s.expire)),
  )
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/** Bytes as a bash $'…' word: printable ASCII as is, everything else as \xHH. */
export const ansiC = (bytes: Uint8Array): string => {
  let s = ''
  for (const b of bytes) {
    if (b === 0x27) s += "\\'"
    else if (b === 0x5c) s += '\\\\'
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b)
    else s += `\\x${b.toString(16).padStart(2, '0')}`
  }
  return `$'${s}'`
}

/** The body as one bash word: literal runs in $'…', GUIDs and expires as expressions (relative to `$T0`, the run began at `t0Seconds`). */
export const bodyShell = (segments: readonly Segment[], t0Seconds: number): string => {
  const words: string[] = []
  let literal: number[] = []
  const flush = () => {
    if (literal.length > 0) words.push(ansiC(Uint8Array.from(literal)))
    literal = []
  }
  for (const s of segments) {
    if ('text' in s) literal.push(...encoder.encode(s.text))
    else if ('bytes' in s) literal.push(...s.bytes)
    else {
      flush()
      words.push('guid' in s ? `'"'"${s.guid.shell}"'"'` : expireShell(s.expire, s.expire.seconds - t0Seconds))
    }
  }
  flush()
  return words.join('')
}

/** Bytes as text for a human: printable ASCII as is, everything else as \\xHH (what $'…' understands too). */
const escaped = (bytes: Uint8Array): string => ansiC(bytes).slice(2, -1)

/** The body for a human, each expire described by `describe` (e.g. `<now+2s, rfc3339>`). */
export const bodyText = <E>(segments: readonly Segment<E>[], describe: (e: E) => string): string =>
  segments.map((s) => ('text' in s ? escaped(encoder.encode(s.text)) : 'bytes' in s ? escaped(Uint8Array.from(s.bytes)) : 'guid' in s ? `"${s.guid.shell}"` : describe(s.expire))).join('')
