import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { createGuid, GUID } from '../support/http'

let app: TestApp
beforeAll(async () => {
  app = await createTestApp()
})
afterAll(() => app.close())

describe('operational endpoints', () => {
  test('/healthz is 200', async () => {
    const res = await app.req('GET', '/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  test('/readyz is 200 when the store answers', async () => {
    const res = await app.req('GET', '/readyz')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ready' })
  })

  test('/readyz is 503 with Retry-After and the reason while draining', async () => {
    const draining = await createTestApp()
    try {
      draining.runtime.readiness.draining = true
      const res = await draining.req('GET', '/readyz')
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBeTruthy()
      expect(await res.json()).toMatchObject({ checks: { lifecycle: 'draining' } })
      expect((await draining.req('GET', '/healthz')).status).toBe(200)
    } finally {
      await draining.close()
    }
  })

  test('/metrics is Prometheus text with the service metrics', async () => {
    await createGuid(app)
    await app.req('GET', `/guid/${GUID}`)
    const res = await app.req('GET', '/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('text/plain')
    const text = await res.text()
    for (const name of [
      'guidd_http_requests_total',
      'guidd_http_request_duration_seconds',
      'guidd_lru_entries',
      'guidd_lru_hits_total',
      'guidd_actors_in_flight',
      'guidd_store_commit_batch_size',
      'guidd_store_commit_duration_seconds',
      'guidd_auth_failures_total',
      'guidd_rate_limited_total',
      'guidd_request_timeouts_total',
      'guidd_request_headers_too_large_total',
      'guidd_api_keys',
      'guidd_api_key_reloads_total',
      'guidd_rate_limit_clients',
      'process_cpu_seconds_total',
      'process_start_time_seconds',
      'process_resident_memory_bytes',
      'guidd_process_heap_used_bytes',
      'guidd_event_loop_lag_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `)
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'))
    }
    expect(text).toContain('guidd_http_requests_total{method="POST",route="/guid",status="201"} 1')
    expect(text).toContain('guidd_http_requests_total{method="GET",route="/guid/:guid",status="200"} 1')
    expect(text).toMatch(/^guidd_lru_entries 1$/m)
    expect(text).toMatch(/^guidd_lru_hits_total 1$/m)
    expect(text).toMatch(/^guidd_actors_in_flight 0$/m)
    expect(text).toMatch(/^guidd_store_commit_batch_size_count 1$/m)
  })

  test('/metrics labels routes by pattern, never by raw path', async () => {
    await app.req('GET', '/guid/0123456789ABCDEF0123456789ABCDEF')
    await app.req('GET', '/some/random/path')
    const text = await (await app.req('GET', '/metrics')).text()
    expect(text).not.toContain('0123456789ABCDEF0123456789ABCDEF')
    expect(text).not.toContain('/some/random/path')
    expect(text).toContain('route="unmatched"')
  })

  test('process memory is reported in bytes, event-loop lag as a summary', async () => {
    const text = await (await app.req('GET', '/metrics')).text()
    const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1])
    expect(rss).toBeGreaterThan(1024 * 1024)
    expect(text).toContain('# TYPE guidd_event_loop_lag_seconds summary')
    for (const q of ['0.5', '0.99', '1']) expect(text).toMatch(new RegExp(`^guidd_event_loop_lag_seconds\\{quantile="${q}"\\} [0-9.e-]+$`, 'm'))
    for (const part of ['sum', 'count']) expect(text).toMatch(new RegExp(`^guidd_event_loop_lag_seconds_${part} [0-9.e-]+$`, 'm'))
  })

  test('every metric the registry exposes is listed in docs/operations.md', async () => {
    const readme = await Bun.file(new URL('../../docs/operations.md', import.meta.url)).text()
    const text = await (await app.req('GET', '/metrics')).text()
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!)
    expect(names.length).toBeGreaterThan(10)
    for (const name of names) expect(readme).toContain(`\`${name}\``)
  })
})
