import type { CacheTier } from './cache/tier'
import type { Mutation, Stored } from './guid/model'
import type { Journal } from './store/journal'
import type { Store } from './store/store'

export interface RecordsDeps {
  /** Cache tiers, nearest first: the LRU, then Redis when configured. */
  tiers: readonly CacheTier[]
  journal: Journal
  store: Store
}

/**
 * The data path below the actors (SPEC §4). Reads go down the tiers to the store and
 * fill the tiers they passed; writes go to the journal and, once it is durable, to the tiers.
 */
export class Records {
  constructor(private readonly deps: RecordsDeps) {}

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
    for (const tier of this.deps.tiers) {
      if (tier.journaled) continue
      // The LRU answers synchronously: no await (and no extra turn) for it.
      const done = tier.set(mutation.next, nowSec)
      if (done instanceof Promise) await done
    }
  }

  /** Drops what this instance's own tiers hold of the GUID (the journal's tiers are exact). */
  async forgetLocal(guid: string): Promise<void> {
    for (const tier of this.deps.tiers) if (!tier.journaled) await tier.forget(guid)
  }

  private async fill(guid: string, depth: number, stored: Stored | null, nowSec: number): Promise<Stored | null> {
    for (let i = 0; i < depth; i++) {
      const tier = this.deps.tiers[i]!
      if (stored === null) await tier.setAbsent(guid)
      else await tier.set(stored, nowSec)
    }
    return stored
  }
}
