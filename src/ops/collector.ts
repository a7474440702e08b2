import type { Metric, Registry } from 'prom-client'

export type Sample = { value: number; labels: Record<string, string | number>; metricName?: string }

/**
 * Registers a metric whose samples are computed at scrape time from plain values the service
 * keeps itself: nothing on the request path hashes labels or calls prom-client.
 */
export const registerCollector = (registry: Registry, name: string, help: string, type: 'counter' | 'gauge' | 'histogram' | 'summary', values: () => Sample[] | Promise<Sample[]>): void => {
  registry.registerMetric({ name, help, type, get: async () => ({ name, help, type, aggregator: 'sum', values: await values() }) } as unknown as Metric)
}
