import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ManualClock } from '../../src/domain/clock'
import type { StoredRecord } from '../../src/domain/model'
import { VersionConflict } from '../../src/data/journal'
import { MongoEventLog } from '../../src/adapters/mongo/events'
import { MongoIdempotency } from '../../src/adapters/mongo/idempotency'
import { MongoJournal } from '../../src/adapters/mongo/journal'
import { MongoStore } from '../../src/adapters/mongo/store'
import { createLogger } from '../../src/ops/logger'
import { FERRETDB_BUILD_TIMEOUT_MS, ferretdbSuites, startFerretdb, type TestFerretdb } from '../support/ferretdb'
import { T0, T0_SECONDS } from '../support/app'

/**
 * The MongoDB-only feed's sequencer racing the writes of the GUIDs whose outboxes it clears,
 * on a real FerretDB. FerretDB 1.x applies an update by finding the document and writing the
 * whole of it back by `_id`: a sequencer clearing an outbox without the GUID's claim wrote back
 * the version it had read over a write that landed meanwhile, losing the write and its change.
 */

const enabled = ferretdbSuites('the MongoDB-only sequencer on FerretDB')
let ferret: TestFerretdb
let store: MongoStore
let journal: MongoJournal
let log: MongoEventLog
const NOW = T0_SECONDS
const clock = new ManualClock(T0)

beforeAll(async () => {
  if (!enabled) return
  ferret = await startFerretdb()
  store = await MongoStore.open({ url: ferret.url, dbName: `guidd_sequencer_${process.pid}`, ttlIndex: false, clientOptions: { serverSelectionTimeoutMS: 3_000 } })
  journal = new MongoJournal(store, { w: 'majority', clock })
  log = new MongoEventLog({ connected: () => store.connected(), clock, retentionSeconds: 86_400, writeConcern: { w: 'majority', journal: true }, logger: createLogger('silent') })
}, FERRETDB_BUILD_TIMEOUT_MS + 60_000)

afterAll(async () => {
  if (!enabled) return
  await store?.close()
  await ferret?.dispose()
})

const record = (guid: string, version: number): StoredRecord => ({ guid, user: 'u', expire: NOW + 3_600, version })

/**
 * What MongoStore's monitor watch does when the driver's heartbeat is stuck (monitor-watch.ts):
 * close the client and connect it afresh. Done while the server is down, the attempt fails and
 * leaves the client's topology closed; the store's own operations connect again (its ready()),
 * and so must everything else built on the store, or it fails with "Topology is closed" for as
 * long as no store operation happens to reconnect.
 */
const replaceClientWhileDown = async (own: MongoStore): Promise<void> => {
  await ferret.stop()
  const internals = own as unknown as { client: { close(): Promise<void> }; startConnecting(connect: () => Promise<void>): Promise<void>; connect(): Promise<void> }
  await internals
    .startConnecting(async () => {
      await internals.client.close()
      await internals.connect()
    })
    .catch(() => {})
  await ferret.start()
}

describe.if(enabled)('MongoDB-only sequencer', () => {
  test('sequencing while the same GUIDs are written loses no write and no change', async () => {
    // Several GUIDs written in turn, each write from the version before it, while sequencer
    // rounds (two at once, as the follower and a page read run them) clear their outboxes.
    const guids = ['A', 'B', 'C'].map((c) => `${c}${'0'.repeat(31)}`)
    const WRITES = 60
    let writing = true
    const sequencers = [0, 1].map(async () => {
      while (writing) await log.sequence()
    })
    const writers = guids.map(async (guid) => {
      await journal.append({ next: record(guid, 1), prevVersion: 0, changes: [{ type: 'created', guid, version: 1, user: 'u', record: record(guid, 1) }] })
      for (let v = 2; v <= WRITES; v++) {
        for (let attempt = 0; ; attempt++) {
          try {
            await journal.append({ next: record(guid, v), prevVersion: v - 1, changes: [{ type: 'updated', guid, version: v, user: 'u', record: record(guid, v) }] })
            break
          } catch (error) {
            // A conflict is fine while the document is still v - 1 (the sequencer held its claim:
            // the service retries such a write); a document gone back to an older version lost a write.
            if (!(error instanceof VersionConflict) || attempt >= 10) throw error
            expect((await store.get(guid, NOW))?.version).toBe(v - 1)
          }
        }
      }
    })
    try {
      await Promise.all(writers)
    } finally {
      writing = false
      await Promise.all(sequencers)
    }
    await log.catchUp()
    const events = (await log.read('0', 10_000)).events
    for (const guid of guids) {
      expect(await store.get(guid, NOW)).toEqual(record(guid, WRITES))
      expect(events.filter((e) => e.guid === guid).map((e) => e.version)).toEqual(Array.from({ length: WRITES }, (_, i) => i + 1))
    }
    // Every outbox was emptied, and the positions run without a gap.
    expect((await log.sequence()).added).toBe(0)
    expect(events.map((e) => Number(e.id))).toEqual(Array.from({ length: events.length }, (_, i) => i + 1))
  }, 120_000)

  test('the feed comes back once MongoDB does after the store replaced its client while MongoDB was down', async () => {
    const own = await MongoStore.open({ url: ferret.url, dbName: `guidd_sequencer_${process.pid}`, ttlIndex: false, clientOptions: { serverSelectionTimeoutMS: 1_000 } })
    const feed = new MongoEventLog({ connected: () => own.connected(), clock, retentionSeconds: 86_400, writeConcern: { w: 'majority', journal: true }, logger: createLogger('silent') })
    try {
      await feed.head()
      await replaceClientWhileDown(own)
      expect(Number(await feed.head())).toBeGreaterThanOrEqual(0)
      expect((await feed.sequence()).done).toBe(true)
    } finally {
      await own.close()
    }
  }, 60_000)

  test('Idempotency-Key claims come back once MongoDB does after the store replaced its client while MongoDB was down', async () => {
    // A soak once ended on a 500 replaying a keyed request after a MongoDB stop: the keys'
    // collection was kept from the store's first client.
    const own = await MongoStore.open({ url: ferret.url, dbName: `guidd_sequencer_${process.pid}`, ttlIndex: false, clientOptions: { serverSelectionTimeoutMS: 1_000 } })
    const keys = new MongoIdempotency(own, { clock, writeConcern: { w: 'majority', journal: true }, leaseMs: 2_000, ttlSeconds: 86_400 })
    try {
      expect((await keys.claim(`-:before-${process.pid}`, 'f', undefined)).kind).toBe('claimed')
      await replaceClientWhileDown(own)
      expect((await keys.claim(`-:after-${process.pid}`, 'f', undefined)).kind).toBe('claimed')
    } finally {
      await own.close()
    }
  }, 60_000)
})
