import type { Registry } from 'prom-client'
import { registerCollector, type Sample } from './collector'

/** Upper bounds up to 10 s, the default REQUEST_TIMEOUT_MS. */
const BASE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * The latency buckets for requests that may last up to `longestSeconds` (the request
 * timeout): the 1-2.5-5 steps go on past 10 s until one reaches it, so that no answer short
 * of the timeout falls only into +Inf. A request answered `503 timeout` is observed a little
 * after the timeout (deadlines are checked every tenth of it), so it lands above the last
 * bound: `+Inf` minus the last bucket counts the timeouts.
 */
export const latencyBuckets = (longestSeconds = 10): number[] => {
  const buckets = [...BASE_BUCKETS]
  for (let decade = 10; buckets[buckets.length - 1]! < longestSeconds; decade *= 10) {
    for (const step of [2.5, 5, 10]) if (buckets[buckets.length - 1]! < longestSeconds) buckets.push(step * decade)
  }
  return buckets
}

/** One route's request count by status and latency histogram. */
export class RouteStats {
  readonly statuses = new Map<number, number>()
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(
    readonly method: string,
    readonly route: string,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length)
  }

  observe(status: number, seconds: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1)
    this.sum += seconds
    this.count++
    const bounds = this.bounds
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= bounds[i]!) {
        this.counts[i]!++
        return
      }
    }
  }
}

/**
 * Request counters and latency histograms for the hot path. prom-client hashes the label
 * object on every call (~250-300 ns each, measured, of a ~8 us request); here a route
 * resolves its RouteStats once, and prom-client is handed plain values at scrape time.
 */
export class HttpMetrics {
  private readonly routes = new Map<string, RouteStats>()
  private readonly bounds: readonly number[]

  /** `longestSeconds`: the longest a request may take (the request timeout; 0 = none, 10 s assumed). */
  constructor(registry: Registry, longestSeconds = 10) {
    this.bounds = latencyBuckets(longestSeconds || 10)
    const collector = (name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]) => registerCollector(registry, name, help, type, values)
    collector('guidd_http_requests_total', 'HTTP requests answered, by method, route and status.', 'counter', () =>
      [...this.routes.values()].flatMap((r) => [...r.statuses].map(([status, value]) => ({ value, labels: { method: r.method, route: r.route, status } }))),
    )
    collector('guidd_http_request_duration_seconds', 'Time from request received to response built, by method and route.', 'histogram', () =>
      [...this.routes.values()].flatMap((r) => {
        const labels = { method: r.method, route: r.route }
        let cumulative = 0
        const out: Sample[] = r.bounds.map((le, i) => ({ value: (cumulative += r.counts[i]!), labels: { ...labels, le }, metricName: 'guidd_http_request_duration_seconds_bucket' }))
        out.push({ value: r.count, labels: { ...labels, le: '+Inf' }, metricName: 'guidd_http_request_duration_seconds_bucket' })
        out.push({ value: r.sum, labels, metricName: 'guidd_http_request_duration_seconds_sum' })
        out.push({ value: r.count, labels, metricName: 'guidd_http_request_duration_seconds_count' })
        return out
      }),
    )
  }

  /** The stats of one method + route pattern (never a raw path: label cardinality stays bounded). */
  forRoute(method: string, route: string): RouteStats {
    const key = `${method} ${route}`
    let stats = this.routes.get(key)
    if (stats === undefined) {
      stats = new RouteStats(method, route, this.bounds)
      this.routes.set(key, stats)
    }
    return stats
  }
}
