import { Elysia } from 'elysia'
import type { Metrics } from '../ops/metrics'
import type { Readiness } from '../ops/readiness'
import type { RoutePolicy } from './guard'
import { NOSNIFF } from './headers'
import type { Observe } from './observe'
import { docs } from './openapi'
import { json } from './respond'

const NO_STORE = { 'cache-control': 'no-store' }

/**
 * Operational endpoints (SPEC §3): liveness and readiness, always open (probes carry no key);
 * Prometheus metrics, open unless `metricsPolicy` asks for a key.
 */
export const opsRoutes = (readiness: Readiness, metrics: Metrics, observe: Observe, metricsPolicy: RoutePolicy) =>
  new Elysia({ name: 'ops-routes' })
    .get(
      '/healthz',
      observe('GET', '/healthz', (call) => json(200, { status: 'ok' }, call, NO_STORE)),
      { detail: docs.healthz },
    )
    .get(
      '/readyz',
      observe('GET', '/readyz', async (call) => {
        const report = await readiness.report()
        return report.ready
          ? json(200, { status: 'ready', checks: report.checks }, call, NO_STORE)
          : json(503, { status: 'unavailable', checks: report.checks }, call, { ...NO_STORE, 'retry-after': '5' })
      }),
      { detail: docs.readyz },
    )
    .get(
      '/metrics',
      observe(
        'GET',
        '/metrics',
        async (call) => {
          const text = await metrics.registry.metrics()
          call.bytes = Buffer.byteLength(text)
          return new Response(text, { headers: { 'content-type': metrics.registry.contentType, 'x-content-type-options': NOSNIFF, 'x-request-id': call.requestId, ...NO_STORE } })
        },
        metricsPolicy,
      ),
      { detail: docs.metrics },
    )
