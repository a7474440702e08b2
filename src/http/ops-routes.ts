import { Elysia } from 'elysia'
import type { Metrics } from '../ops/metrics'
import type { Readiness } from '../ops/readiness'
import type { Observe } from './observe'
import { docs } from './openapi'
import { json } from './respond'

const NO_STORE = { 'cache-control': 'no-store' }

/** Operational endpoints (SPEC §3): liveness, readiness, Prometheus metrics. */
export const opsRoutes = (readiness: Readiness, metrics: Metrics, observe: Observe) =>
  new Elysia({ name: 'ops-routes' })
    .get('/healthz', observe('GET', '/healthz', ({ requestId }) => json(200, { status: 'ok' }, requestId, NO_STORE)), { detail: docs.healthz })
    .get(
      '/readyz',
      observe('GET', '/readyz', async ({ requestId }) => {
        const report = await readiness.report()
        return report.ready
          ? json(200, { status: 'ready', checks: report.checks }, requestId, NO_STORE)
          : json(503, { status: 'unavailable', checks: report.checks }, requestId, { ...NO_STORE, 'retry-after': '5' })
      }),
      { detail: docs.readyz },
    )
    .get(
      '/metrics',
      observe('GET', '/metrics', async ({ requestId }) => new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType, 'x-request-id': requestId, ...NO_STORE } })),
      { detail: docs.metrics },
    )
