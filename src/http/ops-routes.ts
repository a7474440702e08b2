import type { Metrics } from '../ops/metrics'
import type { Readiness } from '../ops/readiness'
import type { RoutePolicy } from './guard'
import { NOSNIFF } from './headers'
import { docs } from './openapi'
import { json } from './respond'
import type { Route } from './routes'

const NO_STORE = { 'cache-control': 'no-store' }

/**
 * Operational endpoints: liveness and readiness, always open (probes carry no key);
 * Prometheus metrics, open unless `metricsPolicy` asks for a key.
 */
export const opsRoutes = (readiness: Readiness, metrics: Metrics, metricsPolicy: RoutePolicy): Route[] => [
  {
    method: 'GET',
    path: '/healthz',
    operation: docs.healthz,
    handle: (call) => json(200, { status: 'ok' }, call, NO_STORE),
  },
  {
    method: 'GET',
    path: '/readyz',
    operation: docs.readyz,
    handle: async (call) => {
      const report = await readiness.report()
      return report.ready
        ? json(200, { status: 'ready', checks: report.checks }, call, NO_STORE)
        : json(503, { status: 'unavailable', checks: report.checks }, call, { ...NO_STORE, 'retry-after': '5' })
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    policy: metricsPolicy,
    operation: docs.metrics,
    handle: async (call) => {
      const text = await metrics.registry.metrics()
      call.bytes = Buffer.byteLength(text)
      return new Response(text, { headers: { 'content-type': metrics.registry.contentType, 'x-content-type-options': NOSNIFF, 'x-request-id': call.requestId, ...NO_STORE } })
    },
  },
]
