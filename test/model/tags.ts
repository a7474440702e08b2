/**
 * Conditional headers, as the model understands them (RFC 9110 §13.1.1-13.1.2), written
 * here from the RFC and not taken from the service: If-Match compares strongly (a weak
 * tag never matches), If-None-Match weakly; "*" matches any current record and nothing
 * when there is none; a value that is not a list of entity tags matches nothing.
 */

/** Which tag a command sends, chosen when it is generated and resolved against the model when it runs. */
export const TAG_CHOICES = ['current', 'weak-current', 'list-with-current', 'stale', 'earlier-incarnation', 'star', 'garbage-quoted', 'garbage-unquoted'] as const
export type TagChoice = (typeof TAG_CHOICES)[number]

/** What the model knows of one GUID's tags when a header is resolved. */
export interface TagHistory {
  /** The live record's ETag, or null when the GUID is absent. */
  current: string | null
  /** Earlier ETags of the current incarnation (same record, older versions). */
  stale: readonly string[]
  /** ETags of incarnations that ended (deleted or expired). */
  earlier: readonly string[]
}

/** Never an ETag the service makes: its ETags are quoted decimal versions. */
const GARBAGE_QUOTED = '"0"'

const last = <T>(xs: readonly T[]): T | undefined => xs[xs.length - 1]

/** The header value a choice stands for now; when the model has no such tag, the nearest one it has. */
export const resolveTag = (choice: TagChoice, h: TagHistory): string => {
  const current = h.current ?? last(h.stale) ?? last(h.earlier) ?? GARBAGE_QUOTED
  switch (choice) {
    case 'current':
      return current
    case 'weak-current':
      return `W/${current}`
    case 'list-with-current':
      return `"nope", ${current}`
    case 'stale':
      return last(h.stale) ?? last(h.earlier) ?? GARBAGE_QUOTED
    case 'earlier-incarnation':
      return h.earlier[0] ?? GARBAGE_QUOTED
    case 'star':
      return '*'
    case 'garbage-quoted':
      return GARBAGE_QUOTED
    case 'garbage-unquoted':
      return 'nope'
  }
}

const ETAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/

interface Parsed {
  any: boolean
  tags: Array<{ weak: boolean; opaque: string }>
}

const parse = (header: string): Parsed => {
  if (header.trim() === '*') return { any: true, tags: [] }
  const tags: Parsed['tags'] = []
  for (const part of header.split(',')) {
    const m = ETAG.exec(part.trim())
    if (!m) return { any: false, tags: [] }
    tags.push({ weak: m[1] !== undefined, opaque: m[2]! })
  }
  return { any: false, tags }
}

/** The opaque part of a strong ETag header value (`"17"` -> `17`), or null when it is not one. */
export const opaqueOf = (etag: string): string | null => {
  const m = ETAG.exec(etag)
  return m && m[1] === undefined ? m[2]! : null
}

/** If-Match holds for a record whose ETag is `etag` (null: no record). */
export const ifMatchHolds = (header: string, etag: string | null): boolean => {
  if (etag === null) return false
  const { any, tags } = parse(header)
  const opaque = opaqueOf(etag)
  return any || tags.some((t) => !t.weak && t.opaque === opaque)
}

/** If-None-Match "matches" (GET: 304; a write: 412) a record whose ETag is `etag`. */
export const noneMatchMatches = (header: string, etag: string | null): boolean => {
  if (etag === null) return false
  const { any, tags } = parse(header)
  const opaque = opaqueOf(etag)
  return any || tags.some((t) => t.opaque === opaque)
}
