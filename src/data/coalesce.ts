import type { Mutation } from '../domain/model'

/**
 * Per GUID, the one mutation whose state a store would end with if it applied them all in
 * order under its version guard: the highest version (on a tie, the later one, a replay of
 * the same write). Kept in order of each GUID's first appearance.
 *
 * Expiry plays no part: a newer version replaces an older one even when it has already
 * expired (it then hides the GUID); skipping it would let the older version come back.
 * Versions never repeat across delete or expiry (a new incarnation starts above every
 * earlier one), so the highest version is always the latest write.
 */
export const coalesce = <M extends Pick<Mutation, 'next'>>(mutations: readonly M[]): M[] => {
  const kept = new Map<string, M>()
  for (const m of mutations) {
    const current = kept.get(m.next.guid)
    // Map.set on an existing key keeps its original position: first-appearance order.
    if (current === undefined || m.next.version >= current.next.version) kept.set(m.next.guid, m)
  }
  return [...kept.values()]
}
