/**
 * A canonical GUID (32 uppercase hexadecimal characters) as the 16 bytes it stands for, in
 * four 32-bit words, and the seeded hash the off-heap table indexes them by.
 */

/** Writes the GUID's four words at `out[at..at+3]`; false (nothing usable) for any other string. */
export function parseGuidKey(guid: string, out: Uint32Array, at: number): boolean {
  if (guid.length !== 32) return false
  for (let w = 0; w < 4; w++) {
    let word = 0
    for (let i = w * 8, end = i + 8; i < end; i++) {
      const c = guid.charCodeAt(i)
      let v: number
      if (c >= 48 && c <= 57) v = c - 48
      else if (c >= 65 && c <= 70) v = c - 55
      else return false
      word = (word << 4) | v
    }
    out[at + w] = word >>> 0
  }
  return true
}

/**
 * A 32-bit hash of four words, seeded per table. Clients choose GUIDs, so the seed is random:
 * without it a client could send GUIDs that all land in one probe run of the table.
 */
export function hashGuidKey(words: Uint32Array, at: number, seed: number): number {
  let h = seed
  for (let i = at, end = at + 4; i < end; i++) {
    // MurmurHash3's 32-bit block and finalisation steps.
    let k = Math.imul(words[i]!, 0xcc9e2d51)
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593)
    h ^= k
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0
  }
  h ^= 16
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}
