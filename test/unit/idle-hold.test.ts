import { describe, expect, test } from 'bun:test'
import { IdleHold } from '../../src/http/idle-hold'

const holdWith = (timeoutMs: number, tickMs: number, idleSeconds = 10) => {
  const set: Array<[string, number]> = []
  const hold = new IdleHold((request, seconds) => set.push([new URL(request.url).pathname, seconds]), idleSeconds, { timeoutMs, tickMs })
  return { set, hold }
}

describe("a pending request's hold on its connection", () => {
  test('holds past the latest its deadline can fire, plus Bun’s 4-second step, then gives back IDLE_TIMEOUT_SECONDS', () => {
    const { set, hold } = holdWith(10_000, 1_000)
    const request = new Request('http://x/guid/A')
    hold.hold(request)
    hold.release(request)
    // The deadline fires by 11 s; Bun closes a 15 s idle connection no sooner than 11 s after its last byte.
    expect(set).toEqual([
      ['/guid/A', 15],
      ['/guid/A', 10],
    ])
  })

  test('never holds for less than IDLE_TIMEOUT_SECONDS, and not at all past what Bun accepts (255 s: no idle timeout)', () => {
    const short = holdWith(100, 10, 30)
    short.hold.hold(new Request('http://x/a'))
    expect(short.set).toEqual([['/a', 30]])
    const long = holdWith(300_000, 1_000)
    long.hold.hold(new Request('http://x/b'))
    expect(long.set).toEqual([['/b', 0]])
  })

  test('an exempt connection (an event stream) stays exempt: neither held nor given back', () => {
    const { set, hold } = holdWith(10_000, 1_000)
    const request = new Request('http://x/events')
    hold.exempt(request)
    hold.hold(request)
    hold.release(request)
    expect(set).toEqual([['/events', 0]])
  })
})
