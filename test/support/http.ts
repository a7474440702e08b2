import { expect } from 'bun:test'
import type { Problem } from '../../src/errors'
import { T0_SECONDS, type TestApp } from './app'

/** Asserts `res` is an RFC 9457 problem of `code` with `status`, tied to its X-Request-Id; returns the body. */
export const expectProblem = async (res: Response, status: number, code: string): Promise<Problem> => {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toStartWith('application/problem+json')
  const body = (await res.json()) as Problem
  expect(body.type).toBe(`urn:guidd:problem:${code}`)
  expect(body.status).toBe(status)
  expect(typeof body.title).toBe('string')
  expect(typeof body.detail).toBe('string')
  const requestId = res.headers.get('x-request-id')
  expect(requestId).toBeTruthy()
  expect(body.requestId).toBe(requestId!)
  return body
}

export const GUID = '9094E4C980C74043A4B586B420E69DDF'
export const OTHER_GUID = '0123456789ABCDEF0123456789ABCDEF'

/** Creates `guid` through the API and returns its ETag. */
export const createGuid = async (app: TestApp, guid = GUID, body: Record<string, unknown> = { user: 'owner' }): Promise<string> => {
  const res = await app.req('POST', '/guid', { guid, ...body })
  expect(res.status).toBe(201)
  return res.headers.get('etag')!
}

/**
 * Versions of one incarnation of a GUID are `creationSecond * 1e6 + n` (src/guid/model.ts,
 * firstVersion): the n-th state of an incarnation created at `createdAtSec`. Spelled out here
 * rather than imported, so the tests pin the rule instead of echoing the implementation.
 */
export const versionAt = (n: number, createdAtSec = T0_SECONDS): number => createdAtSec * 1_000_000 + n

/** The ETag of `versionAt(n, createdAtSec)`: by default the n-th state of a GUID created at the tests' T0. */
export const etagAt = (n: number, createdAtSec = T0_SECONDS): string => `"${versionAt(n, createdAtSec)}"`

/** The version a strong ETag names (`"1767225600000001"` -> 1767225600000001); fails the test on anything else. */
export const versionOf = (etag: string | null | undefined): number => {
  expect(etag ?? '').toMatch(/^"[1-9][0-9]*"$/)
  const version = Number(etag!.slice(1, -1))
  expect(Number.isSafeInteger(version)).toBe(true)
  return version
}

/**
 * Whether a create may have answered `version`: the first version of a new incarnation is
 * max(after + 1, s * 1e6 + 1), where `after` is the GUID's latest version (0 if none, else
 * its tombstone's) and s the second the server read its clock, somewhere in [fromSec, toSec].
 * For tests against real processes, whose second the test can only bracket.
 */
export const isFirstVersion = (version: number, after: number, fromSec: number, toSec: number): boolean => {
  // after + 1 wins only while the floor is not above it, at the earliest second s could be.
  if (version === after + 1) return fromSec * 1_000_000 <= after
  const second = (version - 1) / 1_000_000
  return version > after + 1 && Number.isInteger(second) && second >= fromSec && second <= toSec
}
