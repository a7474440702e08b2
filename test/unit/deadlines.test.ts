import { describe, expect, test } from 'bun:test'
import { ManualClock } from '../../src/domain/clock'
import { Deadlines } from '../../src/http/deadlines'

describe('Deadlines', () => {
  test('a request still running at its deadline expires, once', () => {
    const clock = new ManualClock()
    const d = new Deadlines(clock, 1_000)
    const expired: string[] = []
    d.add(() => expired.push('a'))
    clock.advance(999)
    expect(d.tick()).toBe(0)
    clock.advance(1)
    expect(d.tick()).toBe(1)
    expect(d.tick()).toBe(0)
    expect(expired).toEqual(['a'])
    expect(d.pending).toBe(0)
  })

  test('a settled request never expires, and settles only once', () => {
    const clock = new ManualClock()
    const d = new Deadlines(clock, 100)
    const p = d.add(() => {
      throw new Error('must not expire')
    })
    expect(d.settle(p)).toBe(true)
    expect(d.settle(p)).toBe(false)
    clock.advance(1_000)
    expect(d.tick()).toBe(0)
  })

  test('an expired request cannot be settled: its late answer is dropped', () => {
    const clock = new ManualClock()
    const d = new Deadlines(clock, 100)
    const p = d.add(() => {})
    clock.advance(100)
    d.tick()
    expect(d.settle(p)).toBe(false)
  })

  test('expires in arrival order, only those due', () => {
    const clock = new ManualClock()
    const d = new Deadlines(clock, 100)
    const order: number[] = []
    for (let i = 0; i < 5; i++) {
      d.add(() => order.push(i))
      clock.advance(10)
    }
    clock.advance(100 - 50 + 20)
    expect(d.tick()).toBe(3)
    expect(order).toEqual([0, 1, 2])
    expect(d.pending).toBe(2)
  })

  test('settled entries behind a long-running one do not pile up', () => {
    const clock = new ManualClock()
    const d = new Deadlines(clock, 60_000)
    d.add(() => {})
    for (let i = 0; i < 100_000; i++) d.settle(d.add(() => {}))
    expect(d.pending).toBe(1)
    expect((d as unknown as { queue: unknown[] }).queue.length).toBeLessThan(3_000)
  })

  test('refuses a timeout that is not positive', () => {
    expect(() => new Deadlines(new ManualClock(), 0)).toThrow(TypeError)
  })
})
