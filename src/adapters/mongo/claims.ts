import type { Collection, Db, WriteConcernSettings } from 'mongodb'
import type { Clock } from '../../domain/clock'
import { classifyWriteError, toDate } from './ops'

/** Where claims are kept on servers that need them (see Claims). */
export const CLAIMS_COLLECTION = 'guid_claims'

/**
 * How long a claim holds before another writer may break it: far longer than one write
 * takes, so only a claim left by a writer that died (or lost its connection) mid-write is broken.
 */
const CLAIM_LEASE_MS = 30_000

/** How long (real time: the holder's write is real I/O) a loser waits for a held claim's release: 200 x 5 ms. */
const HELD_POLLS = 200
const HELD_POLL_MS = 5

export interface ClaimDoc {
  _id: string
  expireAt: Date
}

/**
 * MongoDB applies an update's filter and its change atomically per document, so the filter
 * `{_id, version}` is a compare-and-set. FerretDB 1.x does not: it finds the matching
 * documents, then writes each back by `_id` alone (its SQLite backend's UPDATE ... WHERE
 * _id = ?), so two writers of one version can both match and both "win". It says who it is
 * in buildInfo.
 */
export const conditionalUpdatesAreAtomic = async (db: Db): Promise<boolean> => {
  const info = await db.command({ buildInfo: 1 })
  return info.ferretdbVersion === undefined
}

/**
 * Where conditional updates are not atomic (FerretDB 1.x): before replacing version P of a
 * GUID, a writer inserts the claim `<guid>:<P>`, which only one writer can do (an insert on
 * `_id` is atomic there too), and deletes it once its update has answered. A writer whose
 * claim collides lost the race (or is late: its update would not match anyway). A claim left
 * by a writer that died mid-write is broken once its lease has run out.
 */
export class Claims {
  constructor(
    private readonly claims: Collection<ClaimDoc>,
    private readonly clock: Clock,
    private readonly writeConcern: WriteConcernSettings,
    /** Claims whose release failed, kept across reconnections: released before this instance's next write. */
    private readonly orphans: Set<string> = new Set(),
  ) {}

  /**
   * The claim's id, or 'held' when another writer holds it; `wait`: only once the holder has
   * released it (a writer's retry then finds the winner's write), else at once. `leaseMs`: how
   * long the claim holds if its taker dies before releasing it.
   */
  async take(guid: string, prevVersion: number, wait = true, leaseMs = CLAIM_LEASE_MS): Promise<string | 'held'> {
    const id = `${guid}:${prevVersion}`
    for (let attempt = 0; ; attempt++) {
      try {
        await this.claims.insertOne({ _id: id, expireAt: new Date(this.clock.now() + leaseMs) }, { writeConcern: this.writeConcern })
        return id
      } catch (error) {
        if (classifyWriteError(error) !== 'duplicate') throw error
      }
      if (attempt > 0) return 'held'
      // Break a claim whose lease ran out (its writer died mid-write), then try once more.
      const broken = await this.claims.deleteOne({ _id: id, expireAt: { $lte: new Date(this.clock.now()) } }, { writeConcern: this.writeConcern })
      if (broken.deletedCount === 0) return wait ? this.heldUntilReleased(id) : 'held'
    }
  }

  /**
   * 'held', once the holder has released the claim (or a bounded wait has passed): the
   * loser then reloads and finds the winner's write (answering 412, say) instead of
   * retrying at once against a write still in flight and running out of retries (503).
   */
  private async heldUntilReleased(id: string): Promise<'held'> {
    for (let poll = 0; poll < HELD_POLLS; poll++) {
      if ((await this.claims.countDocuments({ _id: id }, { limit: 1 })) === 0) break
      await Bun.sleep(HELD_POLL_MS)
    }
    return 'held'
  }

  /** Deletes up to `limit` claims whose lease has run out (their writers died mid-write). */
  async sweep(nowSec: number, limit: number): Promise<number> {
    const now = toDate(nowSec)
    const due = await this.claims.find({ expireAt: { $lte: now } }, { projection: { _id: 1 }, limit }).toArray()
    if (due.length === 0) return 0
    const { deletedCount } = await this.claims.deleteMany({ _id: { $in: due.map((d) => d._id) }, expireAt: { $lte: now } })
    return deletedCount
  }

  /**
   * Ends a claim once its write has answered, or failed: after a failure (MongoDB unreachable,
   * killed) the write's outcome is unknown to the caller, but it is over, so the claim must not
   * block the next writer for a whole lease. Where the delete itself cannot reach MongoDB, the
   * claim is kept to be released by `releaseOrphans` (found by the model-based tests: a GUID
   * stuck for 30 s after its MongoDB was killed mid-write).
   */
  async release(id: string): Promise<void> {
    try {
      await this.claims.deleteOne({ _id: id }, { writeConcern: this.writeConcern })
      this.orphans.delete(id)
    } catch {
      this.orphans.add(id)
    }
  }

  /** Releases the claims earlier releases could not (called before each write, on a live connection). */
  async releaseOrphans(): Promise<void> {
    if (this.orphans.size === 0) return
    const ids = [...this.orphans]
    await this.claims.deleteMany({ _id: { $in: ids } }, { writeConcern: this.writeConcern })
    for (const id of ids) this.orphans.delete(id)
  }
}
