import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { connectCluster, type RedisCluster } from '../../src/adapters/redis/client'
import { hashSlot } from '../../src/adapters/redis/hash-slot'
import { RedisJournal } from '../../src/adapters/redis/journal'
import { clusterKeys, type RedisKeys } from '../../src/adapters/redis/keys'
import { partitionMasters } from '../../src/adapters/redis/partition-masters'
import { PartitionedEventLog } from '../../src/adapters/redis/partitioned-events'
import type { LoggedChange } from '../../src/data/feed'
import { systemClock } from '../../src/domain/clock'
import { createLogger } from '../../src/ops/logger'
import { eventually } from '../support/eventually'
import { VersionConflict } from '../../src/data/journal'
import { ServiceError } from '../../src/domain/errors'
import { redisSuites } from '../support/redis'
import { startCluster, type TestCluster, type TestClusterNode } from '../support/redis-cluster'

/**
 * On a cluster, a turn's writes to the partitions one master serves go in one call to that
 * master (JOURNAL_WRITE_NODE, `allow-cross-slot-keys`), each partition's share exactly as its
 * own call would run it. When a key is not served there (a slot migrating away, a stale slot
 * map), the master's call writes nothing and each partition goes on its own call, as before.
 * The change feed follower reads a master's partitions in one call the same way.
 */
const enabled = redisSuites('Redis Cluster: one call per master')
let cluster: TestCluster
let client: RedisCluster

beforeAll(async () => {
  if (!enabled) return
  cluster = await startCluster({ masters: 3, replicas: 0 })
  client = await connectCluster({ seeds: cluster.seeds.split(','), onError: () => {} })
}, 90_000)
afterAll(async () => {
  if (!enabled) return
  await client.close().catch(() => client.destroy())
  await cluster.stop()
})

const expire = () => Math.floor(Date.now() / 1000) + 3_600
const journalOf = (keys: RedisKeys) =>
  new RedisJournal({ client: client as never, keys, sharded: true, routing: partitionMasters(client, keys), maxLag: 1_000, timeoutMs: 2_000, instanceId: 'test', retainSeconds: 60 })
const outcome = (p: Promise<void>) =>
  p.then(
    () => 'ok',
    (error: unknown) => (error instanceof VersionConflict ? `conflict:${error.found}` : error instanceof ServiceError ? error.kind : String(error)),
  )

/** `count` GUIDs of `partition`, drawn by counting. */
const guidsIn = (keys: RedisKeys, partition: number, count: number, from = 0): string[] => {
  const guids: string[] = []
  for (let i = from; guids.length < count; i++) {
    const guid = i.toString(16).toUpperCase().padStart(32, '0')
    if (keys.partitionOf(guid) === partition) guids.push(guid)
  }
  return guids
}

/** Script calls (EVALSHA and EVAL) the masters have run so far. */
const scriptCalls = async (masters: TestClusterNode[]): Promise<number> => {
  let calls = 0
  for (const m of masters) {
    const stats = await cluster.cli(['-p', String(m.port), 'info', 'commandstats'])
    for (const match of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(match[1])
  }
  return calls
}

/** Two partitions that one master serves, and that master. */
const twoOnOneMaster = async (keys: RedisKeys): Promise<{ master: TestClusterNode; partitions: [number, number] }> => {
  const byPort = new Map<number, number[]>()
  for (let p = 0; p < keys.partitions; p++) {
    const master = await cluster.masterOf(hashSlot(keys.partition(p).journal))
    byPort.set(master.port, [...(byPort.get(master.port) ?? []), p])
    const list = byPort.get(master.port)!
    if (list.length === 2) return { master, partitions: [list[0]!, list[1]!] }
  }
  throw new Error('no master serves two partitions')
}

/** Runs `body` while `slot` is migrating from `master` to another master, then makes it stable again. */
const migrating = async (slot: number, master: TestClusterNode, body: () => Promise<void>): Promise<void> => {
  const target = cluster.nodes.find((n) => n.port !== master.port && n.alive)!
  const id = async (node: TestClusterNode) => (await cluster.cli(['-p', String(node.port), 'cluster', 'myid'])).trim()
  await cluster.cli(['-p', String(target.port), 'cluster', 'setslot', String(slot), 'importing', await id(master)])
  await cluster.cli(['-p', String(master.port), 'cluster', 'setslot', String(slot), 'migrating', await id(target)])
  try {
    await body()
  } finally {
    await cluster.cli(['-p', String(master.port), 'cluster', 'setslot', String(slot), 'stable'])
    await cluster.cli(['-p', String(target.port), 'cluster', 'setslot', String(slot), 'stable'])
  }
}

describe.skipIf(!enabled)('Redis Cluster: one call per master', () => {
  test('hashSlot agrees with CLUSTER KEYSLOT', async () => {
    for (const key of ['123456789', '{guidd:17}journal', 'plain', '{}x', 'a{b', '{ü}é'])
      expect(hashSlot(key)).toBe(Number((await cluster.cli(['-p', String(cluster.nodes[0]!.port), 'cluster', 'keyslot', key])).trim()))
  })

  test("a turn's writes to every partition: one call per master, each write compared, journaled and answered on its own", async () => {
    const keys = clusterKeys(cluster.prefix(), 16)
    const journal = journalOf(keys)
    const { masters } = await cluster.roles()
    const at = expire()
    // A first write of one GUID per partition, so the second turn has a conflict to lose in each.
    const guids = Array.from({ length: keys.partitions }, (_, p) => guidsIn(keys, p, 2))
    expect(await Promise.all(guids.map(([g]) => outcome(journal.append({ next: { guid: g!, user: 'first', expire: at, version: 1 }, prevVersion: 0 }))))).toEqual(guids.map(() => 'ok'))
    const before = await scriptCalls(masters)
    const answers = await Promise.all(
      guids.flatMap(([known, fresh]) => [
        outcome(journal.append({ next: { guid: known!, user: 'stale', expire: at, version: 1 }, prevVersion: 0 })),
        outcome(journal.append({ next: { guid: fresh!, user: 'second', expire: at, version: 1 }, prevVersion: 0 })),
      ]),
    )
    // Every master's first call may be an EVALSHA answered NOSCRIPT, then the EVAL.
    expect((await scriptCalls(masters)) - before).toBeLessThanOrEqual(2 * masters.length)
    expect(answers).toEqual(guids.flatMap(() => ['conflict:1', 'ok']))
    for (let p = 0; p < keys.partitions; p++) {
      const entries = (await client.xRange(keys.partition(p).journal, '-', '+')) ?? []
      expect(entries.map((e) => (JSON.parse(e.message.m!) as { user: string }).user)).toEqual(['first', 'second'])
      expect(await client.get(keys.guid(guids[p]![1]!))).toStartWith('1:')
    }
    await journal.close()
  })

  test('a slot migrating away: the master writes nothing of the turn, and each partition goes on its own call', async () => {
    const keys = clusterKeys(cluster.prefix(), 16)
    const journal = journalOf(keys)
    const { master, partitions } = await twoOnOneMaster(keys)
    const [moving, staying] = partitions
    const at = expire()
    // The journals exist (a first write each), so the migrating slot holds the journal but not a new GUID's key.
    const [firstMoving, newMoving] = guidsIn(keys, moving, 2)
    const [firstStaying, newStaying] = guidsIn(keys, staying, 2)
    for (const guid of [firstMoving!, firstStaying!]) await journal.append({ next: { guid, user: 'first', expire: at, version: 1 }, prevVersion: 0 })
    await migrating(hashSlot(keys.partition(moving).journal), master, async () => {
      const answers = await Promise.all([newMoving!, newStaying!].map((guid) => outcome(journal.append({ next: { guid, user: 'second', expire: at, version: 1 }, prevVersion: 0 }))))
      // The migrating partition's own call is refused (TRYAGAIN: its journal is here, the new key is not): 503, never a 2xx or a 500.
      expect(answers).toEqual(['unavailable', 'ok'])
      expect(await client.get(keys.guid(newMoving!))).toBeNull()
      expect((await client.xRange(keys.partition(moving).journal, '-', '+'))?.length).toBe(1)
      expect((await client.xRange(keys.partition(staying).journal, '-', '+'))?.length).toBe(2)
    })
    // Stable again: the write goes through.
    expect(await outcome(journal.append({ next: { guid: newMoving!, user: 'second', expire: at, version: 1 }, prevVersion: 0 }))).toBe('ok')
    await journal.close()
  })

  test("the feed follower reads a master's partitions in one call, and on its own a stream that master does not serve (an empty partition of a migrating slot)", async () => {
    const keys = clusterKeys(cluster.prefix(), 16)
    const journal = journalOf(keys)
    const log = new PartitionedEventLog({
      client,
      keys,
      routing: partitionMasters(client, keys),
      timeoutMs: 2_000,
      retentionSeconds: 3_600,
      pollMs: 10,
      clock: systemClock,
      logger: createLogger('silent'),
    })
    const { master, partitions } = await twoOnOneMaster(keys)
    const [moving, staying] = partitions
    const at = expire()
    const create = (guid: string) =>
      journal.append({
        next: { guid, user: 'fed', expire: at, version: 1 },
        prevVersion: 0,
        changes: [{ type: 'created', guid, version: 1, user: 'fed', record: { guid, user: 'fed', expire: at, version: 1 } }],
      })
    const delivered: LoggedChange[] = []
    const follower = log.follow(await log.head(), (events) => delivered.push(...events))
    try {
      const [first] = guidsIn(keys, staying, 1)
      await create(first!)
      await eventually("the event of a partition read by its master's call", async () => delivered.some((e) => e.guid === first), { timeoutMs: 5_000 })
      // The moving partition has no events stream yet: inside the master's call it is a non-local key.
      expect(await client.exists(keys.partition(moving).events)).toBe(0)
      await migrating(hashSlot(keys.partition(moving).events), master, async () => {
        const [second] = guidsIn(keys, staying, 1, 1_000)
        await create(second!)
        await eventually('the event read while a partition of that master migrates', async () => delivered.some((e) => e.guid === second), { timeoutMs: 5_000 })
      })
    } finally {
      await follower.stop()
      await journal.close()
    }
  })
})
