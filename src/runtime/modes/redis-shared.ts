import type { RateLimit } from '../../data/rate-limit'
import type { Store } from '../../data/store'
import type { Logger } from '../../ops/logger'
import type { ReadinessCheck } from '../../ops/readiness'
import type { WriteHealth } from '../../ops/write-health'
import type { ModeDeps } from './mode'
import { storeCheck } from './store-check'

/**
 * What Redis mode and Redis Cluster mode wire alike, whichever client they hold: readiness,
 * the flusher's settings and what it reports, and what the shared rate limit logs.
 */

/** What readiness asks of Redis: PING, and the journal's length. */
interface JournalProbes {
  ping(): Promise<unknown>
  journalState(): Promise<{ length: number }>
}

/**
 * Ready while the store answers, Redis takes writes (it can answer PING and still refuse them:
 * MISCONF after a failed AOF/RDB write, a full disk, OOM; the journal's own writes tell, and a
 * probe write ends the incident) and the journal holds less than JOURNAL_MAX_LAG.
 */
export const redisChecks = (store: Store, journalHealth: WriteHealth, probes: JournalProbes, journalMaxLag: number): ReadinessCheck[] => [
  storeCheck(store),
  {
    name: 'redis',
    check: async () => {
      await journalHealth.check()
      await probes.ping()
    },
  },
  {
    name: 'journal',
    check: async () => {
      const { length } = await probes.journalState()
      if (length >= journalMaxLag) throw new Error(`journal holds ${length} unflushed mutations (limit ${journalMaxLag})`)
    },
  },
]

/** The flusher's settings from the mode's options, and its reports into the metrics. */
/** The mode's options the flusher reads. */
interface FlusherOptions {
  flushBatchMax: number
  flushIntervalMs: number
  claimIdleMs: number
  maxAttempts: number
}

export const flusherSettings = (options: FlusherOptions, deps: ModeDeps, store: Store) => ({
  store,
  consumer: deps.instanceId,
  batchMax: options.flushBatchMax,
  blockMs: options.flushIntervalMs,
  claimIdleMs: options.claimIdleMs,
  maxAttempts: options.maxAttempts,
  logger: deps.logger,
  backoffMinMs: deps.flusherBackoffMs?.min,
  backoffMaxMs: deps.flusherBackoffMs?.max,
  events: {
    flushed: (n: number, seconds: number) => {
      deps.metrics.flushedTotal.inc(n)
      deps.metrics.observeCommit(n, seconds)
    },
    deadLettered: (n: number) => deps.metrics.deadLettersTotal.inc(n),
    storeFailed: () => deps.metrics.flushFailuresTotal.inc(),
  },
})

/** The shared rate limit's one line when Redis stops deciding, and one when it decides again. */
export const rateLimitFallbackLog =
  (logger: Logger) =>
  (failing: boolean, error?: unknown): void =>
    failing ? logger.warn({ err: error }, "rate limit: Redis does not answer; this instance's own buckets decide until it does") : logger.info('rate limit: shared buckets in Redis decide again')

type Adapters = Pick<typeof import('../../adapters/redis/tier'), 'RedisTier'> &
  Pick<typeof import('../../adapters/redis/rate-limit'), 'RedisRateLimit'> &
  Pick<typeof import('../../adapters/redis/barrier'), 'JournalBarrier'> &
  Pick<typeof import('../../adapters/redis/idempotency'), 'RedisIdempotency'>

type Client = ConstructorParameters<Adapters['RedisTier']>[0]['client'] &
  ConstructorParameters<Adapters['RedisRateLimit']>[0]['client'] &
  ConstructorParameters<Adapters['JournalBarrier']>[0]['client'] &
  ConstructorParameters<Adapters['RedisIdempotency']>[0]['client']

/** The parts over the command client that both modes build alike: the shared tier, rate limit, listing barrier and idempotency keys. */
export const redisServiceParts = (
  adapters: Adapters,
  client: Client,
  keys: ConstructorParameters<Adapters['RedisTier']>[0]['keys'] & ConstructorParameters<Adapters['JournalBarrier']>[0]['keys'] & ConstructorParameters<Adapters['RedisIdempotency']>[0]['keys'],
  options: {
    prefix: string
    timeoutMs: number
    negativeCacheMs: number
    retainSeconds: number
    listFlushWaitMs: number
    idempotencyLeaseMs: number
    idempotencyTtlSeconds: number
  },
  { clock, logger }: Pick<ModeDeps, 'clock' | 'logger'>,
  /** What the writes report to, and the flusher a waiting listing wakes. */
  { journalHealth, flusher }: { journalHealth: WriteHealth; flusher: { retrySoon(): void } },
) => ({
  shared: new adapters.RedisTier({ client, keys, negativeTtlMs: options.negativeCacheMs, timeoutMs: options.timeoutMs, retainSeconds: options.retainSeconds }),
  sharedRateLimit: (local: RateLimit, rate: { perSecond: number; burst: number }) =>
    new adapters.RedisRateLimit({ client, prefix: options.prefix, ...rate, timeoutMs: options.timeoutMs, fallback: local, onFallback: rateLimitFallbackLog(logger) }),
  // A listing waits for the flusher (every partition's, on a cluster) to have stored what the journal held at arrival.
  // While it waits, this instance's flusher does not sit out a backoff (the store may be back).
  barrier: new adapters.JournalBarrier({ client, keys, waitMs: options.listFlushWaitMs, timeoutMs: options.timeoutMs, waiting: () => flusher.retrySoon() }),
  idempotency: new adapters.RedisIdempotency({
    client,
    keys,
    timeoutMs: options.timeoutMs,
    leaseMs: options.idempotencyLeaseMs,
    ttlSeconds: options.idempotencyTtlSeconds,
    clock,
    health: journalHealth,
  }),
})
