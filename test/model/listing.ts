import type fc from 'fast-check'
import type { Real } from './commands'
import { ModelFailure } from './commands'
import { type Model, settle } from './model'
import { liveDuring } from './timing'
import { send, summary } from './wire'

/**
 * GET /guid?user= in the model: a listing of the user of a pool GUID (or, when that slot holds
 * nothing, of a user no run writes), walked page by page to the end. The service is shared by
 * every run, so the user may own GUIDs of earlier runs too: the model judges the pool's GUIDs
 * only. Each live pool GUID of that user must be listed exactly as the model holds it (near
 * its expiry: either), every other pool GUID must not be; pages ascend with no GUID twice,
 * and `Link` is there exactly when `next` is. Read-your-writes: every write the model holds
 * was acknowledged before the listing was sent, on this instance or before a kill -9.
 */

const count = (r: Real, what: string) => r.stats.set(what, (r.stats.get(what) ?? 0) + 1)

/** Most pages walked: a common user (`a`) may own GUIDs of many earlier runs. */
const MAX_PAGES = 2_000
/** Pages of the command's own limit before the walk goes on in pages of 1000. */
const SMALL_PAGES = 8

export class ListCommand implements fc.AsyncCommand<Model, Real, false> {
  constructor(
    private readonly slot: number,
    private readonly limit: number,
  ) {}

  check(): boolean {
    return true
  }

  async run(m: Model, r: Real): Promise<void> {
    settle(m, Date.now())
    const user = m.slots[this.slot]!.live?.user ?? `nobody ${process.pid}`
    const listed = new Map<string, { user: string; expire: number }>()
    let previous = ''
    let cursor: string | null = null
    const t0 = Date.now()
    for (let page = 0; ; page++) {
      if (page >= MAX_PAGES) throw new ModelFailure(`${this}: more than ${MAX_PAGES} pages`)
      // Past a few small pages (a user shared with earlier runs), the rest in pages of 1000: a
      // cursor is not tied to a limit, and FerretDB scans its collection for every page.
      const limit = page < SMALL_PAGES ? this.limit : 1000
      const path = `/guid?user=${encodeURIComponent(user)}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`
      const res = await send(r.service.base, { method: 'GET', path, headers: {}, body: null })
      if (page === 0) r.transcript.http({ method: 'GET', path, headers: {}, body: null }, path, res.t0, summary(res), ['the pool GUIDs the model holds for this user'], null, null)
      // A store that cannot answer (MongoDB stopped), or a flusher that cannot write (disk full, Redis modes): 503.
      if (res.status === 503 && res.retryAfter !== null && (m.storeDown || m.diskFull)) {
        count(r, 'GET /guid?user= 503 (fault)')
        return
      }
      if (res.status !== 200) throw new ModelFailure(`${this}\n -> ${summary(res)}`)
      const { items, next } = res.json as { items: Array<{ guid: string; user: string; expire: number }>; next: string | null }
      if (items.length > limit) throw new ModelFailure(`${this}: ${items.length} items in a page of ${limit}`)
      if ((next === null) !== (res.link === null)) throw new ModelFailure(`${this}: next ${next} but Link ${res.link}`)
      for (const item of items) {
        if (!(item.guid > previous)) throw new ModelFailure(`${this}: ${item.guid} listed after ${previous} (not ascending, or twice)`)
        if (item.user !== user) throw new ModelFailure(`${this}: ${item.guid} of user ${JSON.stringify(item.user)} listed for ${JSON.stringify(user)}`)
        previous = item.guid
        listed.set(item.guid, { user: item.user, expire: item.expire })
      }
      if (next === null) break
      cursor = next
    }
    const t1 = Date.now()
    for (const g of m.slots) {
      const got = listed.get(g.guid)
      const live = g.live !== null && g.live.user === user ? g.live : null
      const during = live === null ? 'no' : liveDuring(live.expire, t0, t1)
      if (during === 'yes' && got === undefined) throw new ModelFailure(`${this}: ${g.guid} (live, ${JSON.stringify(live)}) is not listed`)
      if (during === 'no' && got !== undefined) throw new ModelFailure(`${this}: ${g.guid} is listed (${JSON.stringify(got)}), the model holds ${JSON.stringify(g.live)}`)
      if (got !== undefined && live !== null && got.expire !== live.expire) throw new ModelFailure(`${this}: ${g.guid} listed with expire ${got.expire}, the model holds ${live.expire}`)
    }
    count(r, `GET /guid?user= 200 (limit ${this.limit})`)
  }

  toString(): string {
    return `curl -s "$B/guid?user=<user of $G${this.slot}>&limit=${this.limit}" # and every next page`
  }
}
