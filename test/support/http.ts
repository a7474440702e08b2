import { expect } from 'bun:test'
import type { Problem } from '../../src/http/problems'
import { T0_SECONDS, type TestApp } from './app'
import { versionAt as versionIn } from './versions'

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

export { isFirstVersion, versionOf } from './versions'

/** The n-th state of a GUID created at `createdAtSec`, by default the tests' T0 (see ./versions). */
export const versionAt = (n: number, createdAtSec = T0_SECONDS): number => versionIn(n, createdAtSec)

/** The ETag of `versionAt(n, createdAtSec)`. */
export const etagAt = (n: number, createdAtSec = T0_SECONDS): string => `"${versionIn(n, createdAtSec)}"`
