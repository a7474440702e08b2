import { createHash } from 'node:crypto'
import { invalid } from '../domain/errors'
import { LIMIT_PATTERN, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, type ListQuery } from '../domain/listing'
import { USER_MAX_LENGTH } from '../domain/model'

/**
 * The listing's query as the URL carries it: `user`, `limit` and the opaque keyset cursor
 * (the domain's ListQuery holds the cursor's GUID).
 */

const CURSOR_VERSION = 1
/** Bytes of the user's digest a cursor carries: binds it to its listing, not a secret. */
const USER_TAG_BYTES = 8
const CURSOR_BYTES = 1 + USER_TAG_BYTES + 16

const userTag = (user: string): Buffer => createHash('sha256').update(user, 'utf8').digest().subarray(0, USER_TAG_BYTES)

/**
 * The opaque cursor after `guid` in `user`'s listing: a version byte, a digest of the user
 * and the GUID's 16 bytes, base64url. The digest ties it to its listing (another user's
 * cursor is refused) without putting the user's text in URLs; it is no secret, and needs
 * none: a cursor only says where to start.
 */
export const encodeCursor = (user: string, guid: string): string => Buffer.concat([Buffer.of(CURSOR_VERSION), userTag(user), Buffer.from(guid, 'hex')]).toString('base64url')

const badCursor = (message: string) => invalid('cursor', message)

/** The GUID a cursor names, checked to belong to `user`'s listing; a 400 otherwise. */
export const decodeCursor = (user: string, cursor: string): string => {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw badCursor('cursor is malformed: pass back the `next` of a previous page unchanged')
  const bytes = Buffer.from(cursor, 'base64url')
  if (bytes.length !== CURSOR_BYTES || bytes[0] !== CURSOR_VERSION || bytes.toString('base64url') !== cursor) {
    throw badCursor('cursor is malformed: pass back the `next` of a previous page unchanged')
  }
  if (!bytes.subarray(1, 1 + USER_TAG_BYTES).equals(userTag(user))) throw badCursor('cursor belongs to another listing: it was given for another user')
  return bytes
    .subarray(1 + USER_TAG_BYTES)
    .toString('hex')
    .toUpperCase()
}

const PARAMS = new Set(['user', 'limit', 'cursor'])

const LIMIT = new RegExp(LIMIT_PATTERN)

const codePoints = (s: string): number => {
  let n = 0
  for (const _ of s) n++
  return n
}

/**
 * The listing query from the URL's parameters: `user` required (1..256 characters of
 * well-formed Unicode, as on create), `limit` 1..1000 (default 100), `cursor` optional.
 * An unknown or repeated parameter is a 400, as an unknown body field is.
 */
export const parseListQuery = (params: URLSearchParams): ListQuery => {
  const seen = new Set<string>()
  for (const name of params.keys()) {
    if (!PARAMS.has(name)) throw invalid(name, `unknown query parameter '${name}'; a listing takes user, limit and cursor`)
    if (seen.has(name)) throw invalid(name, `${name} is given more than once`)
    seen.add(name)
  }
  const user = params.get('user')
  if (user === null) throw invalid('user', "user is required: GET /guid?user=<user> lists that user's GUIDs")
  if (user.length === 0 || !user.isWellFormed() || codePoints(user) > USER_MAX_LENGTH) throw invalid('user', `user must be a string of 1 to ${USER_MAX_LENGTH} characters of well-formed Unicode`)
  const rawLimit = params.get('limit')
  let limit = LIST_LIMIT_DEFAULT
  if (rawLimit !== null) {
    if (!LIMIT.test(rawLimit)) throw invalid('limit', `limit must be an integer from 1 to ${LIST_LIMIT_MAX}, in plain digits`)
    limit = Number(rawLimit)
  }
  const cursor = params.get('cursor')
  return { user, limit, after: cursor === null ? undefined : decodeCursor(user, cursor) }
}
