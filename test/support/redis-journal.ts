import { expect } from 'bun:test'
import { createClient } from 'redis'
import { redisKeys } from '../../src/adapters/redis/keys'
import { killAndRestart, type Restarted } from './durability'
import { waitJournalDrained } from './mongo-docs'
import type { Started } from './process'

/**
 * The Redis journal in the kill -9 tests of the modes that have one (Redis + SQLite, Redis +
 * MongoDB), looked at with a client of the test's own: what a killed instance left in it, and
 * whether a restarted one settled all of it. One place, so both modes check the same things.
 */
export interface JournalProbe {
  /** Entries in the journal, and how many of them were read by a consumer and not acknowledged (only a claim recovers those). */
  left(): Promise<{ length: number; pending: number }>
  /** Asserts nothing is read and unacknowledged, and nothing was dead-lettered. */
  expectSettled(): Promise<void>
  close(): Promise<void>
}

export const probeJournal = async (url: string, prefix: string): Promise<JournalProbe> => {
  const keys = redisKeys(prefix)
  const client = createClient({ url })
  await client.connect()
  return {
    left: async () => {
      const [length, pending] = await Promise.all([client.xLen(keys.journal), client.xPending(keys.journal, keys.group)])
      return { length, pending: pending.pending }
    },
    expectSettled: async () => {
      expect((await client.xPending(keys.journal, keys.group)).pending).toBe(0)
      expect(await client.xLen(keys.deadLetters)).toBe(0)
    },
    close: async () => {
      await client.quit()
    },
  }
}

export interface JournaledKillOptions {
  /** The Redis the service journals into, and its key prefix. */
  redisUrl: string
  prefix: string
  /** Starts the service on that Redis (called twice, see killAndRestart). */
  start: () => Promise<Started>
  /** How the mode is named in the printed lines, e.g. `Redis mode`. */
  mode: string
  drainTimeoutMs: number
}

/**
 * killAndRestart for the modes with a journal: prints what the dead instance left in it
 * (entries never read, and entries read but not acknowledged, which only a claim recovers;
 * printed, not asserted, as it depends on where the kill fell), then waits, bounded, until
 * the restarted instance has flushed all of it, with nothing pending and nothing
 * dead-lettered, and stops it cleanly. Returns the model and what the API answered, for the
 * test to check the store against; and how long the drain took after the read-back.
 */
export const killAndRestartJournaled = async (o: JournaledKillOptions): Promise<Restarted & { drainMs: number }> => {
  const journal = await probeJournal(o.redisUrl, o.prefix)
  try {
    const restarted = await killAndRestart({
      start: o.start,
      afterKill: async (load) => {
        const left = await journal.left()
        console.log(`kill -9 in ${o.mode}: ${load.acks} writes acknowledged; the dead instance left ${left.length} journal entries, ${left.pending} of them read and unacknowledged`)
      },
    })
    const { second, base } = restarted
    const drainMs = await waitJournalDrained(base, o.drainTimeoutMs, () => second.output())
    await journal.expectSettled()
    expect(await second.stop(8_000)).toBe(0)
    return { ...restarted, drainMs }
  } finally {
    await journal.close()
  }
}
