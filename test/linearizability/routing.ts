/**
 * Which instance a client sends a GUID's request to, as a load balancer in front would.
 *
 * - `affinity`: each GUID has a home instance (a hash of the GUID over the instance lines),
 *   as nginx's `hash $guid consistent` gives it, and goes elsewhere only while its home is
 *   down (killed, restarting). The service promises that reads on one instance never trail
 *   that instance's acknowledged writes, so this routing is checked in full. A GUID moves
 *   back to its home once the other instance has answered every request it had of it
 *   (a millisecond or so): nginx moves it at once, and for that instant a read on the home
 *   may trail a write the other instance is acknowledging, which the service allows.
 * - `random`: any request to any live instance. Reads may then trail another instance's
 *   acknowledged write by the invalidation delay (docs/architecture.md, "Redis mode and scale-out").
 */
export type Routing = 'affinity' | 'random'

export interface Target {
  /** The instance's line: A or B, whichever generation. */
  line: string
  /** The instance's name in the history: its line, then its generation (A, A2, A3...). */
  name: string
  base: string
}

/** FNV-1a over the GUID's characters: a stable, well-spread hash for picking a home. */
const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** The line (A, B...) a GUID lives on under `affinity` routing. */
export const homeLine = (guid: string, lines: readonly string[]): string => lines[fnv1a(guid) % lines.length]!

/**
 * The instances of a run, one per line at most (an instance killed and restarted comes back
 * under the same line, with a new name and port), and the routing clients use to pick one.
 */
export class Pool {
  private readonly up = new Map<string, Target>()
  /** Requests in flight per GUID and line. */
  private readonly inFlight = new Map<string, Map<string, number>>()

  constructor(
    readonly lines: readonly string[],
    readonly routing: Routing,
  ) {}

  /** The line's instance takes requests (it answered /readyz). */
  add(target: Target): void {
    this.up.set(target.line, target)
  }

  /** The line's instance takes no more requests (it was killed). */
  remove(line: string): void {
    this.up.delete(line)
  }

  /** Where a request for `guid` goes now, or undefined while none may (no instance up, or its GUID is moving home). */
  pick(guid: string): Target | undefined {
    if (this.routing === 'affinity') {
      const homeName = homeLine(guid, this.lines)
      const home = this.up.get(homeName)
      if (home !== undefined) {
        const elsewhere = [...(this.inFlight.get(guid) ?? [])].some(([line, n]) => line !== homeName && n > 0)
        return elsewhere ? undefined : home
      }
    }
    const live = [...this.up.values()]
    return live[Math.floor(Math.random() * live.length)]
  }

  /** Where a request that names no GUID (a listing) goes: any live instance. */
  any(): Target | undefined {
    const live = [...this.up.values()]
    return live[Math.floor(Math.random() * live.length)]
  }

  /** Counts a request in flight until the returned function is called. */
  track(guid: string, target: Target): () => void {
    const lines = this.inFlight.get(guid) ?? new Map<string, number>()
    this.inFlight.set(guid, lines)
    lines.set(target.line, (lines.get(target.line) ?? 0) + 1)
    return () => lines.set(target.line, lines.get(target.line)! - 1)
  }

  all(): Target[] {
    return [...this.up.values()]
  }
}
