import type { CacheTier } from './tier'
import type { Mutation, Stored } from '../domain/model'
import type { Journal } from './journal'
import type { Store } from './store'

/**
 * Calls `call` on each tier in turn, waiting only for the ones that answer with a promise
 * (Redis): the LRU answers synchronously, and awaiting its `undefined` would still cost a turn
 * of the microtask queue per call on the write path.
 */
const eachTier = async (tiers: readonly CacheTier[], call: (tier: CacheTier) => void | Promise<void>): Promise<void> => {
  for (const tier of tiers) {
    const pending = call(tier)
    if (pending !== undefined) await pending
  }
}

export interface RecordsDeps {
  /** Cache tiers, nearest first: the LRU, then Redis when configured. */
  tiers: readonly CacheTier[]
  journal: Journal
  store: Store
  /**
   * Other instances write the same GUIDs (Redis mode, MongoDB-only mode): this instance's own
   * tiers may trail their acknowledged writes by the invalidation delay (or the LRU lifetime).
   */
  sharedWriters?: boolean
}

/**
 * The data path below the actors (SPEC §4). Reads go down the tiers to the store and
 * fill the tiers they passed; writes go to the journal and, once it is durable, to the tiers.
 */
export class Records {
  /** The tiers the journal does not write itself (Redis's key is set by the journal's script). */
  private readonly local: readonly CacheTier[]

  constructor(private readonly deps: RecordsDeps) {
    this.local = deps.tiers.filter((tier) => !tier.journaled)
  }

  /** Whether this instance's own tiers may trail another instance's acknowledged write. */
  get localMayTrail(): boolean {
    return this.deps.sharedWriters === true && this.local.length > 0
  }

  /**
   * What the nearest tier knows without waiting: the record or tombstone, null (known
   * absent), or undefined when it does not know and a full load is needed.
   */
  peek(guid: string, nowSec: number): Stored | null | undefined {
    const found = this.deps.tiers[0]?.get(guid, nowSec)
    if (found === undefined || found instanceof Promise || found.kind === 'miss') return undefined
    return found.kind === 'hit' ? found.stored : null
  }

  /**
   * The unexpired record or tombstone, or null. `from` skips tiers the caller has just
   * asked (a peek that missed); they are still filled on the way back.
   */
  async load(guid: string, nowSec: number, from = 0): Promise<Stored | null> {
    const { tiers, store } = this.deps
    let depth = from
    for (; depth < tiers.length; depth++) {
      const found = await tiers[depth]!.get(guid, nowSec)
      if (found.kind === 'hit') return this.fill(guid, depth, found.stored, nowSec)
      if (found.kind === 'absent') return this.fill(guid, depth, null, nowSec)
    }
    return this.fill(guid, depth, await store.get(guid, nowSec), nowSec)
  }

  /** Journals the mutation (durable when this resolves), then updates the tiers the journal did not. */
  async commit(mutation: Mutation, nowSec: number): Promise<void> {
    await this.deps.journal.append(mutation)
    await eachTier(this.local, (tier) => tier.set(mutation.next, nowSec))
  }

  /** Drops what this instance's own tiers hold of the GUID (the journal's tiers are exact). */
  async forgetLocal(guid: string): Promise<void> {
    await eachTier(this.local, (tier) => tier.forget(guid))
  }

  private async fill(guid: string, depth: number, stored: Stored | null, nowSec: number): Promise<Stored | null> {
    await eachTier(this.deps.tiers.slice(0, depth), (tier) => (stored === null ? tier.setAbsent(guid) : tier.set(stored, nowSec)))
    return stored
  }
}
