import type { Store } from '../../data/store'
import type { ReadinessCheck } from '../../ops/readiness'
import type { WriteHealth } from '../../ops/write-health'

/** /readyz for a store: it answers, and (where writes go to it) writes have not been failing. */
export const storeCheck = (store: Store, health?: WriteHealth): ReadinessCheck => ({
  name: store.name,
  check: async () => {
    await health?.check()
    await store.ping()
  },
})
