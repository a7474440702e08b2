import type { Mutation } from '../guid/model'

/**
 * Per GUID, the one mutation whose state a store would end with if it applied them all in
 * order; the others have no effect of their own. Kept in order of each GUID's first appearance.
 *
 * Not simply the highest version: a GUID that expired is re-created from version 1, so a
 * batch may hold an expired v7 and then a live v1, and v1 is the one that must be written.
 * The rule mirrors the store's guard, with `nowSec` the instant the batch is applied at: a
 * mutation whose state has expired never replaces another; a live one replaces one that has
 * expired, or one of a lower or equal version (equal: the later is a replay of the same write).
 */
export const coalesce = <M extends Pick<Mutation, 'next'>>(mutations: readonly M[], nowSec: number): M[] => {
  const kept = new Map<string, M>()
  for (const m of mutations) {
    const current = kept.get(m.next.guid)
    const live = m.next.expire > nowSec
    if (current === undefined || (live && (current.next.expire <= nowSec || m.next.version >= current.next.version))) {
      // Map.set on an existing key keeps its original position: first-appearance order.
      kept.set(m.next.guid, m)
    }
  }
  return [...kept.values()]
}
