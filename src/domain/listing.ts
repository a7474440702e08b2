import type { StoredRecord } from './model'

/**
 * Listing one user's GUIDs (`GET /guid?user=&limit=&cursor=`): the query as the service
 * takes it, and a page. Pages are keyset pages in ascending GUID order: a cursor
 * names the last GUID a page showed, and the next page starts after it, so a GUID that
 * exists unchanged through a walk appears exactly once, whatever is created or deleted
 * around it, and none appears twice.
 */

export const LIST_LIMIT_DEFAULT = 100
export const LIST_LIMIT_MAX = 1_000

export interface ListQuery {
  user: string
  limit: number
  /** The last GUID of the previous page (canonical), or undefined for the first page. */
  after: string | undefined
}

export interface ListPage {
  items: StoredRecord[]
  /** Whether the user has GUIDs after this page's last. */
  more: boolean
}

/** 1 to 1000 in plain digits (no sign, no leading zero): what the OpenAPI document says, exactly. */
export const LIMIT_PATTERN = '^(?:[1-9][0-9]{0,2}|1000)$'
