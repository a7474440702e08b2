import { overloaded, unavailable } from '../../domain/errors'
import type { Mutation } from '../../domain/model'
import { type RedisClient, redisCall } from './client'
import type { RedisKeys } from './keys'
import { encodeInvalidation } from './invalidation'
import { JOURNAL_WRITE_BATCH, Script } from './scripts'
import { encodeChanges } from './events'
import { encodeState } from './state'
import { keepUntil } from './tier'
import { type Journal, VersionConflict } from '../../data/journal'
import { type Pending, TurnBatch } from '../../data/turn-batch'

export interface RedisJournalOptions {
  client: RedisClient
  keys: RedisKeys
  /** Journal length past which mutations are refused with 503. */
  maxLag: number
  timeoutMs: number
  /** This instance, so its own invalidations can be told from others'. */
  instanceId: string
  /** How long a state is kept past its expire (see keepUntil). */
  retainSeconds: number
  /** Told when a journal write fails (Redis down or refusing writes) and when one succeeds. */
  health?: { failed(error: unknown): void; succeeded(): void }
}

/** Most writes sent in one script call; more in one turn go in the next call. */
const BATCH_MAX = 256

/**
 * The write-behind journal (SPEC §4): one script sets the GUID's new state in Redis, appends
 * the mutation to the journal stream and publishes the invalidation, guarded by the version
 * the actor read. Redis (with AOF) then holds the write durably; the flusher moves it to
 * the store later.
 *
 * The writes of one event-loop turn go to Redis in one script call (JOURNAL_WRITE_BATCH), which
 * applies each exactly as a call of its own would, in arrival order, and answers each on its
 * own: one round trip, one command's client-side cost and one timeout per turn instead of
 * per write. Each caller is answered only after Redis has answered the call holding its write.
 */
export class RedisJournal implements Journal {
  private readonly write = new Script(JOURNAL_WRITE_BATCH)
  private readonly batches = new TurnBatch({ max: BATCH_MAX, windowMs: 0, send: (batch) => this.send(batch) })

  constructor(private readonly options: RedisJournalOptions) {}

  append(mutation: Mutation): Promise<void> {
    return this.batches.add(mutation)
  }

  async close(): Promise<void> {
    this.batches.close()
  }

  /** Sends one batch in one script call and answers each of its callers by its own entry. */
  private send(batch: Pending[]): void {
    const { client, keys, maxLag, timeoutMs, instanceId, retainSeconds, health } = this.options
    const guidKeys = [keys.journal, keys.events, keys.expiries]
    const args = [String(maxLag), keys.invalidations]
    for (const { mutation } of batch) {
      const { next, prevVersion } = mutation
      guidKeys.push(keys.guid(next.guid))
      args.push(
        String(prevVersion),
        encodeState(next),
        String(keepUntil(next, retainSeconds)),
        encodeInvalidation({ guid: next.guid, version: next.version, origin: instanceId }),
        JSON.stringify(next),
        encodeChanges(mutation.changes),
        'deleted' in next ? '' : String(next.expire),
      )
    }
    redisCall('journal', timeoutMs, () => this.write.run(client, guidKeys, args)).then(
      (reply) => {
        const replies = reply as Array<[number, string | number]>
        let failed: unknown
        batch.forEach((p, i) => {
          const [status, detail] = replies[i] ?? [-2, 'no reply for this entry']
          if (status === 1) p.resolve()
          else if (status === 0) p.reject(new VersionConflict(p.mutation.next.guid, p.mutation.prevVersion, Number(detail)))
          else if (status === -1) p.reject(overloaded(`The write-behind journal holds ${detail} unflushed mutations (limit ${maxLag}); retry shortly.`))
          else {
            failed = new Error(String(detail))
            p.reject(unavailable('Redis is unavailable (journal); retry shortly.', failed))
          }
        })
        if (failed === undefined) health?.succeeded()
        else health?.failed(failed)
      },
      (error: unknown) => {
        health?.failed(error)
        for (const p of batch) p.reject(error)
      },
    )
  }
}
