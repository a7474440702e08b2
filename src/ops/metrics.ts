import { Counter, Histogram, Registry } from 'prom-client'
import { registerCollector, type Sample } from './collector'
import { GuardMetrics } from './guard-metrics'
import { HttpMetrics } from './http-metrics'
import { ProcessMetrics } from './process-metrics'

/** Read-only views of the parts whose size the metrics report at scrape time. */
export interface MetricSources {
  lruSize: () => number
  lruStats: () => { hits: number; misses: number }
  actorsInFlight: () => number
  /** Bearer keys loaded (0 when auth is off). */
  apiKeys?: () => number
  /** Clients with a rate-limit bucket (0 when the limit is off). */
  rateLimitClients?: () => number
  /** Log lines dropped because the log's reader did not keep up (0 when it never dropped). */
  logLinesDropped?: () => number
  /** REQUEST_TIMEOUT_MS: the latency buckets reach it (10 s when 0 or unset). */
  requestTimeoutMs?: number
}

/**
 * The service's Prometheus metrics, on a registry of its own (so several apps in one test
 * process do not collide). What the hot path counts (requests, LRU hits) is kept by its
 * owner as plain numbers and read at scrape time (registerCollector); prom-client's own
 * Counter and Histogram serve the background work (commits, flushes, sweeps).
 */
const one = (value: number): Sample[] => [{ value, labels: {} }]

export class Metrics {
  readonly registry = new Registry()
  readonly http: HttpMetrics
  readonly guards: GuardMetrics
  readonly process: ProcessMetrics
  readonly commitBatch: Histogram
  readonly commitSeconds: Histogram
  readonly sweptTotal: Counter
  readonly flushedTotal: Counter
  readonly deadLettersTotal: Counter
  readonly flushFailuresTotal: Counter
  readonly invalidationsTotal: Counter
  readonly idempotentReplaysTotal: Counter

  constructor(sources: MetricSources) {
    const registers = [this.registry]
    this.http = new HttpMetrics(this.registry, (sources.requestTimeoutMs ?? 0) / 1000)
    this.guards = new GuardMetrics(this.registry, { apiKeys: sources.apiKeys ?? (() => 0), rateLimitClients: sources.rateLimitClients ?? (() => 0) })
    this.process = new ProcessMetrics(this.registry)
    this.commitBatch = new Histogram({
      name: 'guidd_store_commit_batch_size',
      help: 'Mutations per durable commit (group commit or flush batch).',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    })
    this.commitSeconds = new Histogram({
      name: 'guidd_store_commit_duration_seconds',
      help: 'Time to commit one batch to the durable store.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    })
    this.sweptTotal = new Counter({ name: 'guidd_store_swept_total', help: 'Expired records deleted from the durable store by the sweep.', registers })
    this.flushedTotal = new Counter({ name: 'guidd_journal_flushed_total', help: 'Journal entries written to the durable store and acknowledged.', registers })
    this.deadLettersTotal = new Counter({ name: 'guidd_journal_dead_letters_total', help: 'Journal entries moved to the dead-letter stream.', registers })
    this.flushFailuresTotal = new Counter({ name: 'guidd_journal_flush_failures_total', help: 'Flush rounds that failed (store or Redis unavailable) and were retried with backoff.', registers })
    this.invalidationsTotal = new Counter({ name: 'guidd_lru_invalidations_total', help: 'LRU entries dropped because another instance changed the GUID.', registers })
    this.idempotentReplaysTotal = new Counter({
      name: 'guidd_idempotent_replays_total',
      help: 'Writes answered from the answer kept under their Idempotency-Key (Idempotent-Replayed: true) instead of running again.',
      registers,
    })
    // Values other parts keep, read at scrape time: nothing on the request path touches them.
    registerCollector(this.registry, 'guidd_lru_entries', 'Entries (records, tombstones, negative entries, version floors) in the in-memory LRU.', 'gauge', () => one(sources.lruSize()))
    registerCollector(this.registry, 'guidd_lru_hits_total', 'LRU lookups answered from memory.', 'counter', () => one(sources.lruStats().hits))
    registerCollector(this.registry, 'guidd_lru_misses_total', 'LRU lookups that went to a lower tier.', 'counter', () => one(sources.lruStats().misses))
    const logLinesDropped = sources.logLinesDropped ?? (() => 0)
    registerCollector(this.registry, 'guidd_log_lines_dropped_total', 'Log lines dropped because stdout was not read fast enough (request lines first).', 'counter', () => one(logLinesDropped()))
    registerCollector(this.registry, 'guidd_actors_in_flight', 'Per-GUID actors with work in flight.', 'gauge', () => one(sources.actorsInFlight()))
  }

  /** The write-behind journal's gauges (Redis mode): unflushed entries and the age of the oldest. */
  watchJournal(journal: () => Promise<{ length: number; oldestAgeSeconds: number }>): void {
    // Both journal gauges come from one Redis round trip per scrape: the registry asks every
    // metric in the same turn, and the answer is dropped before the next one.
    let pending: ReturnType<typeof journal> | undefined
    const state = () => {
      if (pending === undefined) {
        pending = journal()
        setImmediate(() => {
          pending = undefined
        })
      }
      return pending
    }
    registerCollector(this.registry, 'guidd_journal_length', 'Mutations journaled in Redis and not yet flushed to the durable store.', 'gauge', async () => one((await state()).length))
    registerCollector(this.registry, 'guidd_journal_oldest_age_seconds', 'Age of the oldest unflushed journal entry (0 when empty).', 'gauge', async () => one((await state()).oldestAgeSeconds))
  }

  /** The embedded store's WAL rewinds (its checkpoint thread's catch-ups with commits held), read at scrape time. */
  watchWalRewinds(checkpointer: { holds: number; heldSeconds: number; rewinds: number }): void {
    registerCollector(this.registry, 'guidd_sqlite_write_holds_total', "Times commits were held while SQLite's checkpoint thread caught up with the WAL, so that it could be rewound.", 'counter', () =>
      one(checkpointer.holds),
    )
    registerCollector(
      this.registry,
      'guidd_sqlite_write_held_seconds_total',
      'Seconds commits were held in all for those catch-ups (each write that arrived meanwhile waited up to that long).',
      'counter',
      () => one(checkpointer.heldSeconds),
    )
    registerCollector(this.registry, 'guidd_sqlite_wal_rewinds_total', 'Catch-ups that copied the whole WAL, so that the next commit started it over.', 'counter', () => one(checkpointer.rewinds))
  }

  /** The change feed's figures (GET /events), read at scrape time. */
  watchFeed(feed: { streams(): number; followed(): number; expired(): number }): void {
    registerCollector(this.registry, 'guidd_event_streams', 'Change feed streams (GET /events) this instance serves now.', 'gauge', () => one(feed.streams()))
    registerCollector(this.registry, 'guidd_events_followed_total', "Change feed events this instance's follower received from the event log.", 'counter', () => one(feed.followed()))
    registerCollector(this.registry, 'guidd_expiries_recorded_total', 'Expiries this instance recorded in the change feed (the expiry sweep).', 'counter', () => one(feed.expired()))
  }

  /** One answered request outside the route handlers' own stats (errors before routing, docs). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.http.forRoute(method, route).observe(status, seconds)
  }

  observeCommit(size: number, seconds: number): void {
    this.commitBatch.observe(size)
    this.commitSeconds.observe(seconds)
  }
}
