import type { Metric, Registry } from 'prom-client'

type MetricType = 'counter' | 'histogram'

/**
 * Labelled counters and histograms for the per-request hot path. prom-client hashes the
 * label object on every call (~250-300 ns each, measured); these key a Map by a string
 * the caller already has and hand prom-client plain values at scrape time.
 */

type Labels = Record<string, string | number>

interface Series<T> {
  labels: Labels
  data: T
}

abstract class FastMetric<T> {
  protected readonly series = new Map<string, Series<T>>()
  abstract readonly type: MetricType

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric)
  }

  protected at(key: string, labels: () => Labels, init: () => T): T {
    let s = this.series.get(key)
    if (s === undefined) {
      s = { labels: labels(), data: init() }
      this.series.set(key, s)
    }
    return s.data
  }

  abstract get(): Promise<{ name: string; help: string; type: MetricType; aggregator: 'sum'; values: Array<{ value: number; labels: Labels; metricName?: string }> }>
}

export class FastCounter extends FastMetric<{ n: number }> {
  readonly type: MetricType = 'counter'

  /** `key` must identify `labels()` one to one; labels() runs only the first time a key is seen. */
  inc(key: string, labels: () => Labels, by = 1): void {
    this.at(key, labels, () => ({ n: 0 })).n += by
  }

  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum' as const, values: [...this.series.values()].map((s) => ({ value: s.data.n, labels: s.labels })) }
  }
}

export class FastHistogram extends FastMetric<{ counts: Float64Array; sum: number; count: number }> {
  readonly type: MetricType = 'histogram'

  constructor(
    name: string,
    help: string,
    registry: Registry,
    private readonly buckets: readonly number[],
  ) {
    super(name, help, registry)
  }

  observe(key: string, labels: () => Labels, value: number): void {
    const d = this.at(key, labels, () => ({ counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }))
    d.sum += value
    d.count++
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        d.counts[i]!++
        break
      }
    }
  }

  async get() {
    const values: Array<{ value: number; labels: Labels; metricName: string }> = []
    for (const { labels, data } of this.series.values()) {
      let cumulative = 0
      this.buckets.forEach((le, i) => {
        cumulative += data.counts[i]!
        values.push({ value: cumulative, labels: { ...labels, le }, metricName: `${this.name}_bucket` })
      })
      values.push({ value: data.count, labels: { ...labels, le: '+Inf' }, metricName: `${this.name}_bucket` })
      values.push({ value: data.sum, labels, metricName: `${this.name}_sum` })
      values.push({ value: data.count, labels, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum' as const, values }
  }
}
