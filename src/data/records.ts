import type { CacheTier, LocalTier } from './tier'
import type { Mutation, Stored } from '../domain/model'
import { type Journal, VersionConflict } from './journal'
import type { Store } from './store'

/**
 * Calls `call` on each tier in turn, waiting only for the ones that answer with a promise
 * (Redis): the LRU answers synchronously, and awaiting its `undefined` would still cost a turn
 * of the microtask queue per call.
 */
const eachTier = async (tiers: readonly CacheTier[], call: (tier: CacheTier) => void | Promise<void>): Promise<void> => {
  for (const tier of tiers) {
    const pending = call(tier)
    if (pending !== undefined) await pending
  }
}

export interface RecordsDeps {
  /** This instance's own copies (the LRU): written after each commit, dropped when they may be stale. */
  local?: LocalTier
  /** The tier every instance shares (Redis): the journal's own write updates it, so commits never write it. */
  shared?: CacheTier
  journal: Journal
  store: Store
  /**
   * Other instances write the same GUIDs (Redis mode, MongoDB-only mode): this instance's own
   * copies may trail their acknowledged writes by the invalidation delay (or the LRU lifetime).
   */
  sharedWriters?: boolean
  /** The store is the journal (it holds every acknowledged write): read its latest state, expired or not (Store.getLatest). */
  latestFromStore?: boolean
}

/**
 * The data path below the actors. Reads go down the tiers (local, shared) to the store and
 * fill the tiers they passed; writes go to the journal and, once it is durable, to the local tier.
 */
export class Records {
  /** Nearest first. */
  private readonly tiers: readonly CacheTier[]

  constructor(private readonly deps: RecordsDeps) {
    this.tiers = [deps.local, deps.shared].filter((tier): tier is CacheTier => tier !== undefined)
  }

  /** Whether this instance's own copies may trail another instance's acknowledged write. */
  get localMayTrail(): boolean {
    return this.deps.sharedWriters === true && this.deps.local !== undefined
  }

  /**
   * What the nearest tier knows without waiting: the record or tombstone, null (known
   * absent), or undefined when it does not know and a full load is needed.
   */
  peek(guid: string, nowSec: number): Stored | null | undefined {
    const found = this.tiers[0]?.get(guid, nowSec)
    if (found === undefined || found instanceof Promise || found.kind === 'miss') return undefined
    return found.kind === 'hit' ? found.stored : null
  }

  /**
   * The unexpired record or tombstone, or null. `from` skips tiers the caller has just
   * asked (a peek that missed); they are still filled on the way back.
   */
  async load(guid: string, nowSec: number, from = 0): Promise<Stored | null> {
    const { tiers } = this
    let depth = from
    for (; depth < tiers.length; depth++) {
      const found = await tiers[depth]!.get(guid, nowSec)
      if (found.kind === 'hit') return this.fill(guid, depth, found.stored, nowSec)
      if (found.kind === 'absent') return this.fill(guid, depth, null, nowSec)
    }
    const { store } = this.deps
    const latest = this.deps.latestFromStore === true ? store.getLatest?.(guid) : undefined
    return this.fill(guid, depth, await (latest ?? store.get(guid, nowSec)), nowSec)
  }

  /** Whether this instance's copy of the GUID is near the end of its lifetime (see LocalTier.refreshDue). */
  refreshDue(guid: string): boolean {
    return this.deps.local?.refreshDue(guid) ?? false
  }

  /** Journals the mutation (durable when this resolves), then updates the local tier. */
  async commit(mutation: Mutation, nowSec: number): Promise<void> {
    try {
      await this.deps.journal.append(mutation)
    } catch (error) {
      // A failure other than a lost compare-and-set may have written the shared tier all the
      // same (a timeout, replicas that did not confirm in time): this instance's copy may now
      // trail what other instances read, so reads go below until it is filled again.
      if (!(error instanceof VersionConflict)) this.deps.local?.forget(mutation.next.guid)
      throw error
    }
    this.deps.local?.set(mutation.next, nowSec)
  }

  /** Drops what this instance's own tier holds of the GUID (the shared tier is exact). */
  forgetLocal(guid: string): void {
    this.deps.local?.forget(guid)
  }

  private async fill(guid: string, depth: number, stored: Stored | null, nowSec: number): Promise<Stored | null> {
    await eachTier(this.tiers.slice(0, depth), (tier) => (stored === null ? tier.setAbsent(guid) : tier.set(stored, nowSec)))
    return stored
  }
}
