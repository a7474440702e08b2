import { describe, expect, test } from 'bun:test'
import { ManualClock } from '../../src/domain/clock'
import { Expirer } from '../../src/data/expirer'
import { createLogger } from '../../src/ops/logger'

const T = Date.UTC(2026, 0, 1)

const expirer = (due: string[][], expire: (guid: string) => Promise<boolean>, dismissed: string[] = []) => {
  const rounds = [...due]
  return new Expirer({
    due: async () => rounds.shift() ?? [],
    expire,
    dismiss: async (guid) => void dismissed.push(guid),
    intervalMs: 1_000,
    batch: 2,
    clock: new ManualClock(T),
    logger: createLogger('silent'),
  })
}

describe('Expirer.runOnce', () => {
  test('records every due GUID, batch after batch, then says every expiry up to now is recorded', async () => {
    const seen: string[] = []
    const e = expirer([['A', 'B'], ['C']], async (guid) => {
      seen.push(guid)
      return true
    })
    expect(await e.runOnce()).toBe(3)
    expect(seen).toEqual(['A', 'B', 'C'])
    expect(e.reportedThrough).toBe(T / 1000)
    expect(e.recorded).toBe(3)
  })

  test('a GUID with nothing to record is dismissed from the list', async () => {
    const dismissed: string[] = []
    const e = expirer([['A']], async () => false, dismissed)
    expect(await e.runOnce()).toBe(0)
    expect(dismissed).toEqual(['A'])
  })

  test('one GUID that fails fails the round, the others are still recorded, and the store sweep is held back', async () => {
    const e = expirer([['A', 'B']], async (guid) => {
      if (guid === 'B') throw new Error('mailbox full')
      return true
    })
    await expect(e.runOnce()).rejects.toThrow('mailbox full')
    expect(e.recorded).toBe(1)
    expect(e.reportedThrough).toBe(0)
  })
})
