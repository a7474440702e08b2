import type { LruTier } from '../../adapters/lru/lru'
import type { EventLog } from '../../data/feed'
import type { Journal } from '../../data/journal'
import type { RateLimit } from '../../data/rate-limit'
import type { Store } from '../../data/store'
import type { ReadBarrier } from '../../data/user-index'
import type { IdempotencyStore } from '../../data/idempotency'
import type { CacheTier } from '../../data/tier'
import type { Clock } from '../../domain/clock'
import type { Logger } from '../../ops/logger'
import type { Metrics } from '../../ops/metrics'
import type { ReadinessCheck } from '../../ops/readiness'
import type { Lifecycle } from '../lifecycle'

/** What a mode adds below the actors: where writes become durable and where reads end. */
export interface Mode {
  name: 'embedded' | 'redis' | 'mongodb'
  journal: Journal
  /** What reads (and the sweeper) go to below the tiers. */
  store: Store
  /** The tier every instance shares (Redis), when there is one. */
  shared?: CacheTier
  /** Where Idempotency-Key answers and claims are kept. */
  idempotency: IdempotencyStore
  /** What a listing waits for before it reads the store (Redis modes: the flusher). */
  barrier?: ReadBarrier
  /** Other instances write the same GUIDs: this instance's LRU may trail them. */
  sharedWriters: boolean
  checks: ReadinessCheck[]
  /**
   * The per-client rate limit shared by every instance (buckets in Redis), built around this
   * instance's local buckets, which decide while the shared ones cannot; absent: local only.
   */
  sharedRateLimit?: (local: RateLimit, rate: { perSecond: number; burst: number }) => RateLimit
  /**
   * The store holds every acknowledged write (it is the journal: embedded, MongoDB-only), so a
   * write may learn an expired state from it (Store.getLatest). Not in Redis modes: the store
   * trails the journal, and Redis itself keeps expired states as long as writes need them.
   */
  latestFromStore?: boolean
  /** The change feed's side of the mode: its log, and where expiries come due. */
  feed?: ModeFeed
}

export interface ModeFeed {
  log: EventLog
  /** GUIDs whose record's expire has passed and whose expiry is not recorded yet (Expirer). */
  due(nowSec: number, limit: number): Promise<string[]>
  /** A listed GUID had no expiry to record (Expirer's `dismiss`). */
  dismiss?(guid: string, nowSec: number): Promise<void>
}

/** What every mode's factory is given besides its own options: the parts the runtime made first. */
export interface ModeDeps {
  lru: LruTier
  clock: Clock
  logger: Logger
  metrics: Metrics
  lifecycle: Lifecycle
  /** Names this instance (Redis consumer, invalidation origin). */
  instanceId: string
  /** A store to use instead of the configured one (tests wrap one to make it fail). */
  store?: Store
  /** Flusher tuning for tests (backoff after a store failure). */
  flusherBackoffMs?: { min: number; max: number }
}
