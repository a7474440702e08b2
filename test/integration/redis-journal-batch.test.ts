import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createClient } from 'redis'
import { VersionConflict } from '../../src/data/journal'
import { RedisJournal } from '../../src/adapters/redis/journal'
import { redisKeys } from '../../src/adapters/redis/keys'
import type { Stored } from '../../src/domain/model'
import { ServiceError } from '../../src/domain/errors'
import { redisSuites, startRedis, type TestRedis } from '../support/redis'

/**
 * The writes of one event-loop turn go to Redis in one script call: each must come out
 * exactly as a call of its own would have: its own compare-and-set, its own answer, the
 * journal and the keys in arrival order, the lag bound counted entry by entry.
 */

const enabled = redisSuites('Redis journal: one call per turn')
let redis: TestRedis
let client: ReturnType<typeof createClient>

beforeAll(async () => {
  if (!enabled) return
  redis = await startRedis()
  client = createClient({ url: redis.url })
  await client.connect()
})
afterAll(async () => {
  if (!enabled) return
  await client.quit()
  await redis.stop()
})

const guidOf = (i: number) => i.toString(16).toUpperCase().padStart(32, '0')
const expire = () => Math.floor(Date.now() / 1000) + 3_600
const journalFor = (prefix: string, maxLag = 1_000) => new RedisJournal({ client: client as never, keys: redisKeys(prefix), maxLag, timeoutMs: 2_000, instanceId: 'test', retainSeconds: 60 })
const outcome = (p: Promise<void>) =>
  p.then(
    () => 'ok',
    (error: unknown) => (error instanceof VersionConflict ? `conflict:${error.found}` : error instanceof ServiceError ? error.kind : String(error)),
  )

describe.if(enabled)('Redis journal: the writes of one turn in one call', () => {
  test('each write is compared and answered on its own; the others in the same call go through', async () => {
    const prefix = redis.prefix()
    const keys = redisKeys(prefix)
    const journal = journalFor(prefix)
    const at = expire()
    await journal.append({ next: { guid: guidOf(1), user: 'first', expire: at, version: 5 }, prevVersion: 0 })
    // One turn: a write on a stale version between two good ones, on three GUIDs.
    const answers = await Promise.all([
      outcome(journal.append({ next: { guid: guidOf(2), user: 'a', expire: at, version: 1 }, prevVersion: 0 })),
      outcome(journal.append({ next: { guid: guidOf(1), user: 'stale', expire: at, version: 4 }, prevVersion: 3 })),
      outcome(journal.append({ next: { guid: guidOf(3), user: 'c', expire: at, version: 1 }, prevVersion: 0 })),
    ])
    expect(answers).toEqual(['ok', 'conflict:5', 'ok'])
    expect(await client.get(keys.guid(guidOf(1)))).toStartWith('5:')
    expect(await client.get(keys.guid(guidOf(2)))).toStartWith('1:')
    const entries = await client.xRange(keys.journal, '-', '+')
    expect((entries ?? []).map((e) => (JSON.parse(String(e.message.m)) as Stored).guid)).toEqual([guidOf(1), guidOf(2), guidOf(3)])
  })

  test('the lag bound is counted entry by entry within one call', async () => {
    const prefix = redis.prefix()
    const journal = journalFor(prefix, 3)
    const at = expire()
    await journal.append({ next: { guid: guidOf(10), user: 'x', expire: at, version: 1 }, prevVersion: 0 })
    const answers = await Promise.all([11, 12, 13, 14].map((i) => outcome(journal.append({ next: { guid: guidOf(i), user: 'x', expire: at, version: 1 }, prevVersion: 0 }))))
    expect(answers).toEqual(['ok', 'ok', 'overloaded', 'overloaded'])
    expect(await client.xLen(redisKeys(prefix).journal)).toBe(3)
  })

  test('successive versions of one GUID, each awaited, land in order', async () => {
    const prefix = redis.prefix()
    const keys = redisKeys(prefix)
    const journal = journalFor(prefix)
    const at = expire()
    for (let v = 1; v <= 5; v++) await journal.append({ next: { guid: guidOf(20), user: `v${v}`, expire: at, version: v }, prevVersion: v - 1 })
    expect(await client.get(keys.guid(guidOf(20)))).toStartWith('5:')
    const entries = await client.xRange(keys.journal, '-', '+')
    expect((entries ?? []).map((e) => (JSON.parse(String(e.message.m)) as Stored & { user: string }).user)).toEqual(['v1', 'v2', 'v3', 'v4', 'v5'])
  })

  test('a Redis that refuses the call fails every write of it with 503 unavailable', async () => {
    const prefix = redis.prefix()
    const own = createClient({ url: redis.url, disableOfflineQueue: true })
    await own.connect()
    const journal = new RedisJournal({ client: own as never, keys: redisKeys(prefix), maxLag: 1_000, timeoutMs: 2_000, instanceId: 'test', retainSeconds: 60 })
    own.destroy()
    const at = expire()
    const answers = await Promise.all([1, 2].map((i) => outcome(journal.append({ next: { guid: guidOf(30 + i), user: 'x', expire: at, version: 1 }, prevVersion: 0 }))))
    expect(answers).toEqual(['unavailable', 'unavailable'])
  })
})
