import { ASSETS, loader } from './docs/assets'
import type { RoutePolicy } from './guard'
import { DOCS_HEADERS, NOSNIFF } from './headers'
import type { Route } from './routes'

const acceptsGzip = (request: Request): boolean => (request.headers.get('accept-encoding') ?? '').includes('gzip')

/**
 * /docs (Swagger UI, served from the executable itself: no CDN) and /docs/json (the OpenAPI
 * document, built on first request, then kept).
 */
export const docsRoutes = (policy: RoutePolicy, document: () => object): Route[] => {
  const files: Route[] = ASSETS.map((asset) => {
    const load = loader(asset)
    return {
      method: 'GET',
      path: asset.path,
      label: asset.path === '/docs' ? '/docs' : '/docs/*',
      policy,
      handle: async (call) => {
        const { plain, gzip } = await load()
        const zipped = gzip !== undefined && acceptsGzip(call.request)
        const body = zipped ? gzip : plain
        call.bytes = body.byteLength
        const headers: Record<string, string> = { 'content-type': asset.contentType, 'cache-control': asset.cacheControl, vary: 'Accept-Encoding', ...DOCS_HEADERS, 'x-request-id': call.requestId }
        if (zipped) headers['content-encoding'] = 'gzip'
        return new Response(body as Uint8Array<ArrayBuffer>, { headers })
      },
    }
  })
  let text: string | undefined
  const json: Route = {
    method: 'GET',
    path: '/docs/json',
    policy,
    handle: (call) => {
      text ??= JSON.stringify(document())
      call.bytes = Buffer.byteLength(text)
      return new Response(text, { headers: { 'content-type': 'application/json', 'cache-control': 'no-cache', 'x-content-type-options': NOSNIFF, 'x-request-id': call.requestId } })
    },
  }
  return [...files, json]
}
