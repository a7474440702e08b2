import { describe, expect, test } from 'bun:test'
import { LruTier } from '../../src/adapters/lru/lru'
import { ActorRegistry } from '../../src/data/actors'
import { GuidService } from '../../src/data/guid-service'
import type { Journal } from '../../src/data/journal'
import { Records } from '../../src/data/records'
import type { Store } from '../../src/data/store'
import { ManualClock } from '../../src/domain/clock'
import type { Stored, StoredRecord } from '../../src/domain/model'

/**
 * Refresh-ahead (MongoDB-only mode, LRU_TTL_MS): a hot GUID read in the last quarter of its
 * copy's lifetime is answered from memory and read again below once, so reads after the end
 * of that lifetime do not wait for the store. Clock-driven; the store answers when told to.
 */

const T0 = Date.UTC(2026, 0, 1)
const NOW = T0 / 1000
const GUID = '9094E4C980C74043A4B586B420E69DDF'
const v = (version: number, user = `u${version}`): StoredRecord => ({ guid: GUID, user, expire: NOW + 3_600, version })

/**
 * A store that holds one GUID's state (what other instances wrote); each read takes the state
 * as it is when the read is made and answers it when released, as a server's reply can
 * arrive after a later write.
 */
const harness = () => {
  const clock = new ManualClock(T0)
  let state: Stored | null = v(1)
  const reads: Array<{ release: () => void; fail: (error: Error) => void }> = []
  const store: Store = {
    name: 'held',
    get: () => {
      const seen = state
      return new Promise<Stored | null>((resolve, reject) => {
        reads.push({ release: () => resolve(seen), fail: reject })
      })
    },
    listUser: async () => [],
    applyBatch: async () => [],
    sweepExpired: async () => 0,
    ping: async () => {},
    close: async () => {},
  }
  const journal: Journal = {
    append: async (mutation) => {
      state = mutation.next
    },
    close: async () => {},
  }
  const lru = new LruTier({ maxEntries: 100, negativeTtlMs: 1_000, ttlMs: 1_000, clock })
  const records = new Records({ local: lru, journal, store, sharedWriters: true })
  const service = new GuidService({ actors: new ActorRegistry({ mailboxMax: 100 }), records, clock, defaultTtlSeconds: 60, tombstoneTtlSeconds: 60 })
  /** Lets the settled reads' continuations run (a few microtask turns). */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve))
  return { clock, service, reads, settle, setState: (s: Stored | null) => (state = s) }
}

/** A first read, answered by the store: the copy's lifetime starts at T0. */
const warm = async (h: ReturnType<typeof harness>) => {
  const first = h.service.get(GUID)
  expect(first).toBeInstanceOf(Promise)
  h.reads.shift()!.release()
  expect(await first).toEqual(v(1))
}

describe('GuidService: refresh-ahead of a copy with a lifetime', () => {
  test('a read in the last quarter is answered from memory and starts one read below; reads after the old lifetime get the new copy without waiting', async () => {
    const h = harness()
    await warm(h)
    h.clock.advance(700)
    expect(h.service.get(GUID)).toEqual(v(1))
    expect(h.reads).toHaveLength(0)
    h.setState(v(2)) // another instance's write
    h.clock.advance(100)
    // In the last quarter: answered at once, and the store asked once however many reads come.
    for (let i = 0; i < 5; i++) expect(h.service.get(GUID)).toEqual(v(1))
    expect(h.reads).toHaveLength(1)
    h.reads.shift()!.release()
    await h.settle()
    h.clock.advance(300) // past the first copy's lifetime (T0 + 1000 ms)
    expect(h.service.get(GUID)).toEqual(v(2))
    expect(h.reads).toHaveLength(0)
  })

  test('a failed refresh changes nothing: the copy answers to the end of its lifetime, then reads ask below', async () => {
    const h = harness()
    await warm(h)
    h.clock.advance(800)
    expect(h.service.get(GUID)).toEqual(v(1))
    h.reads.shift()!.fail(new Error('mongodb down'))
    await h.settle()
    h.clock.advance(199)
    expect(h.service.get(GUID)).toEqual(v(1))
    // The failed refresh is over: the next read in the window tries again.
    expect(h.reads).toHaveLength(1)
    h.reads.shift()!.fail(new Error('mongodb down'))
    await h.settle()
    h.clock.advance(1)
    const after = h.service.get(GUID)
    expect(after).toBeInstanceOf(Promise)
    h.reads.shift()!.fail(new Error('mongodb down'))
    await expect(after).rejects.toThrow('mongodb down')
  })

  test('a write that arrives during a refresh is not overwritten by it (the refresh runs in the GUID actor)', async () => {
    const h = harness()
    await warm(h)
    h.clock.advance(800)
    h.service.get(GUID) // starts the refresh, which reads version 1
    const patched = h.service.patch(GUID, { user: 'mine' }, {})
    await h.settle()
    h.reads.shift()!.release() // the refresh's read answers version 1 after the PATCH was asked for
    const written = await patched
    expect(written.version).toBeGreaterThan(1)
    await h.settle()
    expect(h.service.get(GUID)).toEqual(written)
  })
})
