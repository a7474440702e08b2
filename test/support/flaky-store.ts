import type { Mutation, Stored, StoredRecord } from '../../src/domain/model'
import type { ApplyOutcome, Store } from '../../src/data/store'

/**
 * A real store behind a switch: `down` makes every call throw (an outage); `reject` makes
 * the store refuse the named GUIDs' writes (an entry that fails for a reason of its own).
 */
export class FlakyStore implements Store {
  readonly name: string
  down = false
  /** Only writes fail (reads answer): the flusher falls behind the journal while listings still read. */
  writesDown = false
  readonly reject = new Set<string>()
  batches = 0
  /** Batches refused while `down` or `writesDown`. */
  refused = 0

  constructor(readonly inner: Store) {
    this.name = inner.name
  }

  private check(): void {
    if (this.down) throw new Error('store outage (test)')
  }

  async get(guid: string, nowSec: number): Promise<Stored | null> {
    this.check()
    return this.inner.get(guid, nowSec)
  }

  async listUser(user: string, after: string | undefined, limit: number, nowSec: number): Promise<StoredRecord[]> {
    this.check()
    return this.inner.listUser(user, after, limit, nowSec)
  }

  async applyBatch(mutations: readonly Mutation[]): Promise<ApplyOutcome[]> {
    if (this.down || this.writesDown) this.refused++
    this.check()
    if (this.writesDown) throw new Error('store refuses writes (test)')
    this.batches++
    const accepted = mutations.filter((m) => !this.reject.has(m.next.guid))
    const outcomes = await this.inner.applyBatch(accepted)
    let i = 0
    return mutations.map((m) => (this.reject.has(m.next.guid) ? { rejected: 'refused by the test' } : outcomes[i++]!))
  }

  async sweepExpired(nowSec: number, limit: number): Promise<number> {
    this.check()
    return this.inner.sweepExpired(nowSec, limit)
  }

  async ping(): Promise<void> {
    this.check()
    return this.inner.ping()
  }

  async close(): Promise<void> {
    return this.inner.close()
  }
}
