/**
 * Entity tags (RFC 9110 §8.8.3) for records: the ETag is the version, strong: `"7"`.
 * If-Match uses the strong comparison, If-None-Match the weak one.
 */
export const etagOf = (version: number): string => `"${version}"`

const TAG = /\s*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(,|$)/y

interface Tags {
  any: boolean
  tags: Array<{ weak: boolean; opaque: string }>
}

/** Parses an If-Match / If-None-Match value; an unparsable one matches nothing. */
const parseTags = (header: string): Tags => {
  if (header.trim() === '*') return { any: true, tags: [] }
  const tags: Tags['tags'] = []
  TAG.lastIndex = 0
  while (TAG.lastIndex < header.length) {
    const m = TAG.exec(header)
    if (!m) break
    tags.push({ weak: m[1] !== undefined, opaque: m[2]! })
    if (m[3] === '') break
  }
  return { any: false, tags }
}

/** If-Match: true when the header allows the write to a record at `version` (null: no record). */
export const ifMatchHolds = (header: string, version: number | null): boolean => {
  if (version === null) return false
  const { any, tags } = parseTags(header)
  const opaque = String(version)
  return any || tags.some((t) => !t.weak && t.opaque === opaque)
}

/** If-None-Match: true when the client's copy is current (GET answers 304; a create-only write fails). */
export const noneMatchFails = (header: string, version: number | null): boolean => {
  if (version === null) return false
  const { any, tags } = parseTags(header)
  const opaque = String(version)
  return any || tags.some((t) => t.opaque === opaque)
}
