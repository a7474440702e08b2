import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { ManualClock } from '../../src/domain/clock'
import { ServiceError } from '../../src/domain/errors'
import type { Mutation } from '../../src/domain/model'
import { GroupCommitJournal, type GroupCommitOptions } from '../../src/adapters/sqlite/group-commit'
import { guidNo, openTempStore, putOf, record, type TempStore } from '../support/store'

const T0 = Date.UTC(2026, 0, 1)
const NOW = T0 / 1000
const EXPIRE = NOW + 3600

let temp: TempStore
let sizes: number[]
let journal: GroupCommitJournal

const open = (options: Partial<GroupCommitOptions> = {}) => {
  journal = new GroupCommitJournal(temp.store, { batchMax: 100, windowMs: 0, clock: new ManualClock(T0), onCommit: (size) => sizes.push(size), ...options })
  return journal
}

beforeEach(() => {
  temp = openTempStore()
  sizes = []
})
afterEach(async () => {
  await journal.close()
  await temp.cleanup()
})

const puts = (from: number, count: number): Mutation[] => Array.from({ length: count }, (_, i) => putOf(record(guidNo(from + i), 1, EXPIRE)))

/** A mutation the store refuses (user NOT NULL), so its whole transaction fails. */
/** A mutation SQLite refuses (NOT NULL guid), so its whole transaction fails. */
const poison = (n: number): Mutation => putOf({ ...record(guidNo(n), 1, EXPIRE), guid: null as unknown as string })

describe('GroupCommitJournal', () => {
  test('concurrent appends land in one batch, durable when they resolve', async () => {
    open()
    await Promise.all(puts(0, 10).map((m) => journal.append(m)))
    expect(sizes).toEqual([10])
    for (let i = 0; i < 10; i++) expect(await temp.store.get(guidNo(i), NOW)).not.toBeNull()
  })

  test('appends in later turns go to later batches', async () => {
    open()
    await journal.append(puts(0, 1)[0]!)
    await Promise.all(puts(1, 3).map((m) => journal.append(m)))
    expect(sizes).toEqual([1, 3])
  })

  test('batchMax splits a burst', async () => {
    open({ batchMax: 4 })
    await Promise.all(puts(0, 10).map((m) => journal.append(m)))
    expect(sizes).toEqual([4, 4, 2])
    for (let i = 0; i < 10; i++) expect(await temp.store.get(guidNo(i), NOW)).not.toBeNull()
  })

  test('a failing commit rejects every caller of that batch and writes none of it; the next batch works', async () => {
    open()
    const batch = [...puts(0, 2), poison(2), ...puts(3, 2)]
    const outcomes = await Promise.allSettled(batch.map((m) => journal.append(m)))
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected', 'rejected'])
    for (const i of [0, 1, 3, 4]) expect(await temp.store.get(guidNo(i), NOW)).toBeNull()
    await Promise.all(puts(10, 3).map((m) => journal.append(m)))
    expect(sizes).toEqual([3])
    expect(await temp.store.get(guidNo(10), NOW)).toMatchObject({ version: 1 })
  })

  test('a failing batch does not take the batch after it down (batchMax split)', async () => {
    open({ batchMax: 2 })
    const outcomes = await Promise.allSettled([poison(0), ...puts(1, 3)].map((m) => journal.append(m)))
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled'])
    expect(await temp.store.get(guidNo(1), NOW)).toBeNull()
    expect(await temp.store.get(guidNo(3), NOW)).not.toBeNull()
  })

  test('close() commits what is waiting, then refuses with a 503', async () => {
    open()
    const waiting = journal.append(puts(0, 1)[0]!)
    await journal.close()
    await waiting
    expect(await temp.store.get(guidNo(0), NOW)).not.toBeNull()
    const refused = await journal.append(puts(1, 1)[0]!).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ServiceError)
    expect((refused as ServiceError).kind).toBe('unavailable')
  })

  test.each([[{ batchMax: 0 }], [{ batchMax: 1.5 }], [{ windowMs: -1 }]])('rejects bad options %p at construction', (bad) => {
    open()
    expect(() => new GroupCommitJournal(temp.store, { batchMax: 10, windowMs: 0, clock: new ManualClock(T0), ...bad })).toThrow(TypeError)
  })
})
