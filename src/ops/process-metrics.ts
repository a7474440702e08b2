import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Registry } from 'prom-client'
import { registerCollector } from './collector'

const NS = 1e9

/**
 * The process's memory and event-loop lag. Memory is read at scrape time; the lag comes from
 * the runtime's own event-loop delay sampler (perf_hooks), running only between start() and
 * stop(), and reset at each scrape so its quantiles describe the time since the previous one.
 */
export class ProcessMetrics {
  private readonly lag = monitorEventLoopDelay({ resolution: 20 })
  private running = false

  constructor(registry: Registry) {
    registerCollector(registry, 'guidd_process_resident_memory_bytes', 'Resident set size of the process.', 'gauge', () => [{ value: process.memoryUsage.rss(), labels: {} }])
    registerCollector(registry, 'guidd_process_heap_used_bytes', 'JavaScript heap in use.', 'gauge', () => [{ value: process.memoryUsage().heapUsed, labels: {} }])
    registerCollector(registry, 'guidd_event_loop_lag_seconds', 'Event-loop delay since the previous scrape, by quantile (1 = the maximum); 0 until sampled.', 'gauge', () => {
      const sampled = this.running && this.lag.count > 0
      const at = (q: number) => (sampled ? this.lag.percentile(q) / NS : 0)
      const values = [
        { value: at(50), labels: { quantile: '0.5' } },
        { value: at(99), labels: { quantile: '0.99' } },
        { value: sampled ? this.lag.max / NS : 0, labels: { quantile: '1' } },
      ]
      this.lag.reset()
      return values
    })
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.lag.enable()
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    this.lag.disable()
  }
}
