import { Elysia } from 'elysia'
import { ASSETS, loader } from './docs/assets'
import type { RoutePolicy } from './guard'
import { DOCS_HEADERS, NOSNIFF } from './headers'
import type { Observe } from './observe'

const acceptsGzip = (request: Request): boolean => (request.headers.get('accept-encoding') ?? '').includes('gzip')

/**
 * /docs (Swagger UI, served from the executable itself: no CDN) and /docs/json (the OpenAPI
 * document, built on first request once every route is registered, then kept).
 */
export const docsRoutes = (observe: Observe, policy: RoutePolicy, document: () => object) => {
  const app = new Elysia({ name: 'docs-routes' })
  for (const asset of ASSETS) {
    const load = loader(asset)
    const route = asset.path === '/docs' ? '/docs' : '/docs/*'
    app.get(
      asset.path,
      observe(
        'GET',
        route,
        async (call) => {
          const { plain, gzip } = await load()
          const zipped = gzip !== undefined && acceptsGzip(call.request)
          const body = zipped ? gzip : plain
          call.bytes = body.byteLength
          const headers: Record<string, string> = { 'content-type': asset.contentType, 'cache-control': asset.cacheControl, vary: 'Accept-Encoding', ...DOCS_HEADERS, 'x-request-id': call.requestId }
          if (zipped) headers['content-encoding'] = 'gzip'
          return new Response(body as Uint8Array<ArrayBuffer>, { headers })
        },
        policy,
      ),
      { detail: { hide: true } },
    )
  }
  let text: string | undefined
  return app.get(
    '/docs/json',
    observe(
      'GET',
      '/docs/json',
      (call) => {
        text ??= JSON.stringify(document())
        call.bytes = Buffer.byteLength(text)
        return new Response(text, { headers: { 'content-type': 'application/json', 'cache-control': 'no-cache', 'x-content-type-options': NOSNIFF, 'x-request-id': call.requestId } })
      },
      policy,
    ),
    { detail: { hide: true } },
  )
}
