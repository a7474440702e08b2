import { type Clock, nowSeconds } from '../domain/clock'
import type { ListPage, ListQuery } from '../domain/listing'
import type { ReadBarrier, UserIndex } from './user-index'

export interface ListingServiceDeps {
  index: UserIndex
  /** Absent where every acknowledged write is in the store already (embedded, MongoDB-only). */
  barrier?: ReadBarrier
  clock: Clock
}

/**
 * One user's GUIDs, a keyset page at a time. Read from the durable store's user index (no
 * cache tier can list), after the mode's read barrier: read-your-writes holds in every mode,
 * because the store holds every write acknowledged before the request arrived by the time
 * it is read. One row more than the page is read to learn whether a next page exists.
 */
export class ListingService {
  constructor(private readonly deps: ListingServiceDeps) {}

  async list(query: ListQuery): Promise<ListPage> {
    await this.deps.barrier?.settled()
    const rows = await this.deps.index.listUser(query.user, query.after, query.limit + 1, nowSeconds(this.deps.clock))
    return rows.length <= query.limit ? { items: rows, more: false } : { items: rows.slice(0, query.limit), more: true }
  }
}
