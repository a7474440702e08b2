import { Elysia } from 'elysia'
import type { Metrics } from '../ops/metrics'
import type { Readiness } from '../ops/readiness'
import { docs } from './openapi'
import { json } from './respond'

/** Operational endpoints (SPEC §3): liveness, readiness, Prometheus metrics. */
export const opsRoutes = (readiness: Readiness, metrics: Metrics) =>
  new Elysia({ name: 'ops-routes' })
    .get('/healthz', () => json(200, { status: 'ok' }, { 'cache-control': 'no-store' }), { detail: docs.healthz })
    .get(
      '/readyz',
      async () => {
        const report = await readiness.report()
        return report.ready
          ? json(200, { status: 'ready', checks: report.checks }, { 'cache-control': 'no-store' })
          : json(503, { status: 'unavailable', checks: report.checks }, { 'cache-control': 'no-store', 'retry-after': '5' })
      },
      { detail: docs.readyz },
    )
    .get('/metrics', async () => new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' } }), { detail: docs.metrics })
