import { describe, expect, test } from 'bun:test'
import { MonitorWatch } from '../../src/adapters/mongo/monitor-watch'

const watchAt = () => {
  const clock = { t: 0 }
  const watch = new MonitorWatch({ connectTimeoutMS: 2_000, heartbeatFrequencyMS: 10_000, graceMs: 1_000, now: () => clock.t })
  return { clock, watch }
}

describe("the driver monitor's watch", () => {
  test('a heartbeat is overdue only past connectTimeoutMS and the grace', () => {
    const { clock, watch } = watchAt()
    watch.started('db:27017', false)
    clock.t = 3_000
    expect(watch.overdue()).toBeUndefined()
    clock.t = 3_001
    expect(watch.overdue()).toEqual({ address: 'db:27017', lateMs: 1 })
  })

  test('an awaited heartbeat (streaming) may also take heartbeatFrequencyMS', () => {
    const { clock, watch } = watchAt()
    watch.started('db:27017', true)
    clock.t = 13_000
    expect(watch.overdue()).toBeUndefined()
    clock.t = 13_500
    expect(watch.overdue()?.lateMs).toBe(500)
  })

  test('one that ended, answered or failed, is not watched; the next one starts its own bound', () => {
    const { clock, watch } = watchAt()
    watch.started('a:1', false)
    watch.started('b:1', false)
    watch.ended('a:1')
    clock.t = 2_500
    watch.started('b:1', false)
    clock.t = 5_000
    expect(watch.overdue()).toBeUndefined()
    clock.t = 6_000
    expect(watch.overdue()).toEqual({ address: 'b:1', lateMs: 500 })
    watch.reset()
    expect(watch.overdue()).toBeUndefined()
  })
})
