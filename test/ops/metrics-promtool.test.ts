import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { latencyBuckets } from '../../src/ops/http-metrics'
import { createTestApp, type TestApp } from '../support/app'
import { eventually } from '../support/eventually'
import { GUID } from '../support/http'

/**
 * A real scrape of /metrics checked by Prometheus's own linter, `promtool check metrics`
 * (Debian package `prometheus`). Without promtool the lint is skipped with a SKIPPED line,
 * except under CI=true, where it fails.
 */

const promtool = Bun.which('promtool')
const lintable = (() => {
  if (promtool !== null) return true
  if (process.env.CI === 'true') throw new Error('promtool is not installed, and CI=true does not skip (apt-get install prometheus)')
  console.log('SKIPPED: promtool check metrics (promtool is not installed; apt-get install prometheus)')
  return false
})()

/** promtool's verdict on an exposition: its exit code and what it complained about. */
const lint = (text: string) => {
  const run = spawnSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 15_000 })
  return { code: run.status, problems: `${run.stdout}${run.stderr}`.trim() }
}

const KEY = 'k-0123456789abcdef'
/** How many event-loop samples a scrape reports. */
const lagCount = (text: string): number => Number(/^guidd_event_loop_lag_seconds_count (\S+)$/m.exec(text)?.[1] ?? 0)
let app: TestApp
let scrape = ''
beforeAll(async () => {
  app = await createTestApp({ API_KEYS: KEY, RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '2' }, { clientAddress: () => '192.0.2.7' })
  app.runtime.start()
  const auth = { authorization: `Bearer ${KEY}` }
  await app.req('POST', '/guid', { guid: GUID, user: 'x' }, auth)
  await app.req('GET', `/guid/${GUID}`, undefined, auth)
  await app.req('GET', `/guid/${GUID}`, undefined, auth) // 429: burst spent
  await app.req('GET', `/guid/${GUID}`) // 401
  await app.req('GET', '/nowhere')
  await app.req('GET', '/healthz')
  // The event-loop sampler ticks on the real clock (every 20 ms): wait until it took samples.
  await eventually('the event-loop sampler has samples', async () => {
    scrape = await (await app.req('GET', '/metrics')).text()
    return lagCount(scrape) >= 2
  })
})
afterAll(() => app.close())

describe('/metrics', () => {
  test.skipIf(!lintable)('passes promtool check metrics', () => {
    expect(scrape).toContain('guidd_http_request_duration_seconds_bucket')
    expect(lint(scrape)).toEqual({ code: 0, problems: '' })
  })

  test.skipIf(!lintable)('the lint can fail: a gauge with a quantile label is flagged', () => {
    const bad = '# HELP guidd_event_loop_lag_seconds lag\n# TYPE guidd_event_loop_lag_seconds gauge\nguidd_event_loop_lag_seconds{quantile="0.5"} 0.001\n'
    const verdict = lint(bad)
    expect(verdict.code).not.toBe(0)
    expect(verdict.problems).toContain('quantile')
  })

  test('has the standard process metrics, with sane values', () => {
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(scrape)?.[1])
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0)
    expect(value('process_cpu_user_seconds_total')).toBeGreaterThan(0)
    expect(value('process_cpu_system_seconds_total')).toBeGreaterThanOrEqual(0)
    expect(value('process_start_time_seconds')).toBeLessThanOrEqual(Date.now() / 1000)
    expect(value('process_start_time_seconds')).toBeGreaterThan(Date.now() / 1000 - 3600)
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024)
    if (process.platform === 'linux') {
      expect(value('process_open_fds')).toBeGreaterThan(2)
      expect(value('process_max_fds')).toBeGreaterThanOrEqual(value('process_open_fds'))
      expect(value('process_virtual_memory_bytes')).toBeGreaterThanOrEqual(value('process_resident_memory_bytes'))
      expect(value('process_heap_bytes')).toBeGreaterThan(0)
    }
    expect(scrape).toContain('# TYPE process_cpu_seconds_total counter')
    expect(scrape).toContain('# TYPE process_start_time_seconds gauge')
  })

  test('the event-loop lag is a summary whose sum and count only grow', async () => {
    expect(scrape).toContain('# TYPE guidd_event_loop_lag_seconds summary')
    const read = (text: string) => ['sum', 'count'].map((part) => Number(new RegExp(`^guidd_event_loop_lag_seconds_${part} (\\S+)$`, 'm').exec(text)?.[1]))
    const [sum1, count1] = read(scrape)
    expect(count1).toBeGreaterThan(0)
    let later = scrape
    await eventually('the sampler took another sample', async () => {
      later = await (await app.req('GET', '/metrics')).text()
      return lagCount(later) > count1!
    })
    const [sum2, count2] = read(later)
    expect(count2).toBeGreaterThan(count1!)
    expect(sum2).toBeGreaterThanOrEqual(sum1!)
  })

  test('latency buckets reach the request timeout (10 s by default)', () => {
    const bounds = [...scrape.matchAll(/^guidd_http_request_duration_seconds_bucket\{method="GET",route="\/healthz",le="([^"]+)"\}/gm)].map((m) => m[1])
    expect(bounds.slice(-3)).toEqual(['5', '10', '+Inf'])
  })
})

describe('latencyBuckets', () => {
  test('go on past 10 s in 1-2.5-5 steps until one reaches the timeout', () => {
    expect(latencyBuckets(10).slice(-3)).toEqual([2.5, 5, 10])
    expect(latencyBuckets(1).at(-1)).toBe(10)
    expect(latencyBuckets(30).slice(-3)).toEqual([10, 25, 50])
    expect(latencyBuckets(100).at(-1)).toBe(100)
    for (const timeout of [0.5, 10, 11, 60, 3600]) expect(latencyBuckets(timeout).at(-1)!).toBeGreaterThanOrEqual(timeout)
  })

  test('REQUEST_TIMEOUT_MS=60000 gives buckets up to 100 s', async () => {
    const slow = await createTestApp({ REQUEST_TIMEOUT_MS: '60000' })
    try {
      await slow.req('GET', '/healthz')
      const text = await (await slow.req('GET', '/metrics')).text()
      expect(text).toContain('guidd_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="100"} 1')
    } finally {
      await slow.close()
    }
  })
})
