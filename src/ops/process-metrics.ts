import { readdirSync, readFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Registry } from 'prom-client'
import { registerCollector, type Sample } from './collector'

const NS = 1e9
const US = 1e6

/** A field of /proc/self/status in bytes (`VmSize:  123 kB`), or undefined off Linux. */
const procStatus = (field: string): number | undefined => {
  try {
    const text = readFileSync('/proc/self/status', 'utf8')
    const at = text.indexOf(`\n${field}:`)
    if (at === -1) return undefined
    return Number.parseInt(text.slice(at + field.length + 2).trimStart(), 10) * 1024
  } catch {
    return undefined
  }
}

/** The soft limit on open files (/proc/self/limits), or undefined off Linux. */
const maxFds = (): number | undefined => {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft)
  } catch {
    return undefined
  }
}

/** Open file descriptors: the entries of /proc/self/fd, less the one reading it. */
const openFds = (): number => readdirSync('/proc/self/fd').length - 1

const hasProc = (() => {
  try {
    openFds()
    return true
  } catch {
    return false
  }
})()

/**
 * The standard `process_*` metrics every Prometheus client library exports (same names,
 * types and units as prom-client's and the Go client's, so stock dashboards and alerts work),
 * plus the JavaScript heap and the event-loop lag. Everything is read at scrape time; nothing
 * runs per request. The /proc ones exist on Linux only.
 *
 * The lag comes from the runtime's event-loop delay sampler (perf_hooks), running only
 * between start() and stop(). It is a summary: the quantiles describe the time since the
 * previous scrape (the sampler is reset at each), while _sum and _count accumulate over the
 * whole run, as a summary's must.
 */
export class ProcessMetrics {
  private readonly lag = monitorEventLoopDelay({ resolution: 20 })
  private running = false
  private lagSum = 0
  private lagCount = 0

  constructor(registry: Registry) {
    const one = (value: number) => [{ value, labels: {} }]
    const cpu = () => process.cpuUsage()
    registerCollector(registry, 'process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', 'counter', () => one(cpu().user / US))
    registerCollector(registry, 'process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', 'counter', () => one(cpu().system / US))
    registerCollector(registry, 'process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter', () => {
      const { user, system } = cpu()
      return one((user + system) / US)
    })
    const started = Math.round(performance.timeOrigin) / 1000
    registerCollector(registry, 'process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', 'gauge', () => one(started))
    registerCollector(registry, 'process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', () => one(process.memoryUsage.rss()))
    if (hasProc) {
      registerCollector(registry, 'process_virtual_memory_bytes', 'Virtual memory size in bytes.', 'gauge', () => one(procStatus('VmSize') ?? 0))
      registerCollector(registry, 'process_heap_bytes', 'Process heap (data segment) size in bytes.', 'gauge', () => one(procStatus('VmData') ?? 0))
      registerCollector(registry, 'process_open_fds', 'Number of open file descriptors.', 'gauge', () => one(openFds()))
      const limit = maxFds()
      if (limit !== undefined) registerCollector(registry, 'process_max_fds', 'Maximum number of open file descriptors.', 'gauge', () => one(limit))
    }
    registerCollector(registry, 'guidd_process_heap_used_bytes', 'JavaScript heap in use.', 'gauge', () => one(process.memoryUsage().heapUsed))
    registerCollector(
      registry,
      'guidd_event_loop_lag_seconds',
      'Event-loop delay: quantiles over the time since the previous scrape (quantile 1 = the maximum; 0 until sampled), sum and count over the run.',
      'summary',
      () => {
        const sampled = this.running && this.lag.count > 0
        // The sampler's histogram rounds a percentile up to its bucket's edge: never past the maximum.
        const at = (q: number) => (sampled ? Math.min(this.lag.percentile(q), this.lag.max) / NS : 0)
        const values: Sample[] = [
          { value: at(50), labels: { quantile: '0.5' } },
          { value: at(99), labels: { quantile: '0.99' } },
          { value: sampled ? this.lag.max / NS : 0, labels: { quantile: '1' } },
        ]
        if (sampled) {
          this.lagSum += (this.lag.mean * this.lag.count) / NS
          this.lagCount += this.lag.count
        }
        this.lag.reset()
        values.push({ value: this.lagSum, labels: {}, metricName: 'guidd_event_loop_lag_seconds_sum' })
        values.push({ value: this.lagCount, labels: {}, metricName: 'guidd_event_loop_lag_seconds_count' })
        return values
      },
    )
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
