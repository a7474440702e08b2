import type { ListingService } from '../data/listing-service'
import type { ListQuery } from '../domain/listing'
import { toPublic } from '../domain/model'
import type { RoutePolicy } from './guard'
import { encodeCursor, parseListQuery } from './list-query'
import { docs } from './openapi'
import { pathOf } from './path'
import { AppError } from './problems'
import { json } from './respond'
import type { Route } from './routes'

const GUARDED: RoutePolicy = { auth: true, limit: true }

/** The next page's URL, as `Link` names it: the same user and limit, the page's cursor. */
const nextLink = (query: ListQuery, cursor: string): string => `</guid?user=${encodeURIComponent(query.user)}&limit=${query.limit}&cursor=${cursor}>; rel="next"`

const queryOf = (url: string): URLSearchParams => {
  const mark = url.indexOf('?')
  return new URLSearchParams(mark < 0 ? '' : url.slice(mark + 1))
}

/**
 * `GET /guid?user=U&limit=N&cursor=C`: a keyset page of one user's live GUIDs, each as GET
 * answers its body. An item's version (its ETag) is not in the page, as it is never in a
 * body: GET or HEAD the GUID for it.
 */
export const listRoute = (listing: ListingService): Route => ({
  method: 'GET',
  path: '/guid',
  policy: GUARDED,
  operation: docs.list,
  handle: async (call) => {
    // Elysia's router also takes `/guid/` here; only POST /guid had that path before, and the
    // listing is not a second name for it.
    if (pathOf(call.request.url) !== '/guid') throw new AppError('route-not-found', `No route ${pathOf(call.request.url)}; see /docs.`)
    const query = parseListQuery(queryOf(call.request.url))
    const page = await listing.list(query)
    const last = page.items[page.items.length - 1]
    const next = page.more && last !== undefined ? encodeCursor(query.user, last.guid) : null
    const headers: Record<string, string> = { 'cache-control': 'no-cache' }
    if (next !== null) headers.link = nextLink(query, next)
    return json(200, { items: page.items.map(toPublic), next }, call, headers)
  },
})
