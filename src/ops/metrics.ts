import { Counter, Gauge, Histogram, Registry } from 'prom-client'
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
  /** The write-behind journal (Redis mode): unflushed entries and the age of the oldest. */
  journal?: () => Promise<{ length: number; oldestAgeSeconds: number }>
}

/**
 * The service's Prometheus metrics, on a registry of its own (so several apps in one test
 * process do not collide). Counters that the hot path would otherwise touch per request
 * (LRU hits/misses) are read from their owners at scrape time instead.
 */
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

  constructor(sources: MetricSources) {
    const registers = [this.registry]
    this.http = new HttpMetrics(this.registry)
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
    const journal = sources.journal
    if (journal) {
      new Gauge({
        name: 'guidd_journal_length',
        help: 'Mutations journaled in Redis and not yet flushed to the durable store.',
        registers,
        async collect() {
          this.set((await journal()).length)
        },
      })
      new Gauge({
        name: 'guidd_journal_oldest_age_seconds',
        help: 'Age of the oldest unflushed journal entry (0 when empty).',
        registers,
        async collect() {
          this.set((await journal()).oldestAgeSeconds)
        },
      })
    }
    new Gauge({
      name: 'guidd_lru_entries',
      help: 'Entries (records and negative entries) in the in-memory LRU.',
      registers,
      collect() {
        this.set(sources.lruSize())
      },
    })
    new Counter({
      name: 'guidd_lru_hits_total',
      help: 'LRU lookups answered from memory.',
      registers,
      collect() {
        this.reset()
        this.inc(sources.lruStats().hits)
      },
    })
    new Counter({
      name: 'guidd_lru_misses_total',
      help: 'LRU lookups that went to a lower tier.',
      registers,
      collect() {
        this.reset()
        this.inc(sources.lruStats().misses)
      },
    })
    new Gauge({
      name: 'guidd_actors_in_flight',
      help: 'Per-GUID actors with work in flight.',
      registers,
      collect() {
        this.set(sources.actorsInFlight())
      },
    })
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
