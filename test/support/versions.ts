import { expect } from 'bun:test'

/**
 * Versions as the service makes them (src/guid/model.ts, firstVersion): an incarnation of a
 * GUID created in second C starts at max(latest known version + 1, C * 1e6 + 1), and every
 * change adds one. Spelled out here rather than imported, so the tests pin the rule instead
 * of echoing the implementation. No app imports: the tests against real processes use it too.
 */
const SPAN = 1_000_000

/** The n-th state of an incarnation created in second `createdAtSec` (when nothing newer was known). */
export const versionAt = (n: number, createdAtSec: number): number => createdAtSec * SPAN + n

/** The version a strong ETag names (`"1767225600000001"` -> 1767225600000001); fails the test on anything else. */
export const versionOf = (etag: string | null | undefined): number => {
  expect(etag ?? '').toMatch(/^"[1-9][0-9]*"$/)
  const version = Number(etag!.slice(1, -1))
  expect(Number.isSafeInteger(version)).toBe(true)
  return version
}

/**
 * Whether a create may have answered `version`: max(after + 1, s * 1e6 + 1), where `after` is
 * the GUID's latest version (0 if none, else its tombstone's) and s the second the server read
 * its clock, somewhere in [fromSec, toSec]. For tests against real processes, whose second
 * the test can only bracket.
 */
export const isFirstVersion = (version: number, after: number, fromSec: number, toSec: number): boolean => {
  // after + 1 wins only while the floor is not above it, at the earliest second s could be.
  if (version === after + 1) return fromSec * SPAN <= after
  const second = (version - 1) / SPAN
  return version > after + 1 && Number.isInteger(second) && second >= fromSec && second <= toSec
}
