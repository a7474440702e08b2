import { overloaded, shuttingDown } from '../../domain/errors'
import type { Mutation } from '../../domain/model'
import { type RedisClient, redisCall } from './client'
import type { RedisKeys } from './keys'
import { encodeInvalidation } from './invalidation'
import { JOURNAL_WRITE, Script } from './scripts'
import { encodeState } from './state'
import { keepUntil } from './tier'
import { type Journal, VersionConflict } from '../../data/journal'

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

/**
 * The write-behind journal (SPEC §4): one script sets the GUID's new state in Redis, appends
 * the mutation to the journal stream and publishes the invalidation, guarded by the version
 * the actor read. Redis (with AOF) then holds the write durably; the flusher moves it to
 * the store later.
 */
export class RedisJournal implements Journal {
  private readonly write = new Script(JOURNAL_WRITE)
  private closed = false

  constructor(private readonly options: RedisJournalOptions) {}

  async append({ next, prevVersion }: Mutation): Promise<void> {
    if (this.closed) throw shuttingDown()
    const { client, keys, maxLag, timeoutMs, instanceId, retainSeconds, health } = this.options
    const reply = (await redisCall('journal', timeoutMs, () =>
      this.write.run(
        client,
        [keys.guid(next.guid), keys.journal],
        [
          String(prevVersion),
          encodeState(next),
          String(keepUntil(next, retainSeconds)),
          String(maxLag),
          keys.invalidations,
          encodeInvalidation({ guid: next.guid, version: next.version, origin: instanceId }),
          JSON.stringify(next),
        ],
      ),
    ).catch((error: unknown) => {
      health?.failed(error)
      throw error
    })) as [number, string | number]
    health?.succeeded()
    if (reply[0] === 1) return
    if (reply[0] === 0) throw new VersionConflict(next.guid, prevVersion, Number(reply[1]))
    throw overloaded(`The write-behind journal holds ${reply[1]} unflushed mutations (limit ${maxLag}); retry shortly.`)
  }

  async close(): Promise<void> {
    this.closed = true
  }
}
