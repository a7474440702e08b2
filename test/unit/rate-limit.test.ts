import { describe, expect, test } from 'bun:test'
import { ManualClock } from '../../src/domain/clock'
import { RateLimiter } from '../../src/http/rate-limit'

const limiter = (perSecond: number, burst: number, maxClients = 100) => {
  const clock = new ManualClock()
  return { clock, limiter: new RateLimiter({ perSecond, burst, maxClients, clock }) }
}

describe('RateLimiter', () => {
  test('a new client may make `burst` requests at once, then must wait for a token', () => {
    const { limiter: l } = limiter(10, 3)
    expect([l.take('a'), l.take('a'), l.take('a')]).toEqual([0, 0, 0])
    expect(l.take('a')).toBe(100)
  })

  test('tokens come back at the configured rate, up to the burst', () => {
    const { clock, limiter: l } = limiter(10, 2)
    l.take('a')
    l.take('a')
    expect(l.take('a')).toBe(100)
    clock.advance(50)
    expect(l.take('a')).toBe(50)
    clock.advance(50)
    expect(l.take('a')).toBe(0)
    clock.advance(60_000)
    expect([l.take('a'), l.take('a'), l.take('a')]).toEqual([0, 0, 100])
  })

  test('clients have their own buckets', () => {
    const { limiter: l } = limiter(1, 1)
    expect(l.take('a')).toBe(0)
    expect(l.take('a')).toBe(1000)
    expect(l.take('b')).toBe(0)
  })

  test('a refused request takes no token: waiting the announced time is enough', () => {
    const { clock, limiter: l } = limiter(2, 1)
    l.take('a')
    for (let i = 0; i < 5; i++) expect(l.take('a')).toBe(500)
    clock.advance(500)
    expect(l.take('a')).toBe(0)
  })

  test('remembers at most maxClients, forgetting the least recently seen', () => {
    const { limiter: l } = limiter(1, 1, 3)
    for (const c of ['a', 'b', 'c', 'd', 'e']) l.take(c)
    expect(l.size).toBe(3)
    expect(l.take('e')).toBe(1000)
    expect(l.take('a')).toBe(0)
  })

  test('a clock going backwards never adds tokens', () => {
    const { clock, limiter: l } = limiter(1, 1)
    l.take('a')
    clock.advance(-10_000)
    expect(l.take('a')).toBeGreaterThan(0)
  })

  test('announces its policy as the IETF RateLimit-Policy value', () => {
    expect(limiter(10, 100).limiter.policy).toBe('100;w=10')
    expect(limiter(50, 20).limiter.policy).toBe('20;w=1')
  })

  test.each([
    [0, 1, 1],
    [1, 0, 1],
    [1, 1, 0],
  ])('refuses perSecond=%p burst=%p maxClients=%p at construction', (perSecond, burst, maxClients) => {
    expect(() => new RateLimiter({ perSecond, burst, maxClients, clock: new ManualClock() })).toThrow(TypeError)
  })
})
