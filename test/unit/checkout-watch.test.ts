import { describe, expect, test } from 'bun:test'
import { CheckoutWatch } from '../../src/adapters/mongo/checkout-watch'

const watchAt = () => {
  const clock = { t: 0 }
  const watch = new CheckoutWatch({ socketTimeoutMS: 5_000, graceMs: 500, now: () => clock.t })
  return { clock, watch }
}

describe("the driver pool's checkout watch", () => {
  test('a connection is overdue only past socketTimeoutMS and the grace, and reported once', () => {
    const { clock, watch } = watchAt()
    watch.checkedOut('db:27017', 3)
    clock.t = 5_500
    expect(watch.overdue()).toEqual([])
    clock.t = 5_600
    expect(watch.overdue()).toEqual([{ address: 'db:27017', connectionId: 3, lateMs: 100 }])
    expect(watch.overdue()).toEqual([])
  })

  test('one checked in or closed is not watched; a new checkout starts its own bound', () => {
    const { clock, watch } = watchAt()
    watch.checkedOut('a:1', 1)
    watch.checkedOut('a:1', 2)
    watch.checkedOut('b:1', 1)
    watch.ended('a:1', 1)
    watch.ended('b:1', 1)
    clock.t = 4_000
    watch.checkedOut('a:1', 1)
    clock.t = 6_000
    expect(watch.overdue()).toEqual([{ address: 'a:1', connectionId: 2, lateMs: 500 }])
    clock.t = 10_000
    expect(watch.overdue()).toEqual([{ address: 'a:1', connectionId: 1, lateMs: 500 }])
  })

  test('reset forgets every checkout (the client and its pool were replaced)', () => {
    const { clock, watch } = watchAt()
    watch.checkedOut('a:1', 1)
    watch.reset()
    clock.t = 60_000
    expect(watch.overdue()).toEqual([])
  })
})
