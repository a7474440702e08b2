import bundlePath from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' }
import cssPath from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' }
import faviconPath from 'swagger-ui-dist/favicon-32x32.png' with { type: 'file' }
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { INDEX_HTML, INIT_JS } from './page'

// Off the event loop: compressing the 1.7 MB bundle takes ~25 ms, which would stall every request.
const gzipAsync = promisify(gzip)

/**
 * The Swagger UI files, from the swagger-ui-dist package. `with { type: 'file' }` makes
 * `bun build --compile` embed them in the executable, so /docs needs neither node_modules
 * nor the internet. Read once on first use, kept in memory with a gzip copy.
 */
export interface Asset {
  /** URL path. */
  readonly path: string
  readonly contentType: string
  readonly cacheControl: string
  readonly read: () => Promise<Uint8Array>
}

const fromFile = (path: string) => () => Bun.file(path).bytes()
const fromText = (text: string) => async () => new TextEncoder().encode(text)

// The page is revalidated (it names the other files); the files themselves change only with a release.
const PAGE_CACHE = 'no-cache'
const FILE_CACHE = 'public, max-age=3600'

export const ASSETS: readonly Asset[] = [
  { path: '/docs', contentType: 'text/html; charset=utf-8', cacheControl: PAGE_CACHE, read: fromText(INDEX_HTML) },
  { path: '/docs/init.js', contentType: 'text/javascript; charset=utf-8', cacheControl: PAGE_CACHE, read: fromText(INIT_JS) },
  { path: '/docs/swagger-ui-bundle.js', contentType: 'text/javascript; charset=utf-8', cacheControl: FILE_CACHE, read: fromFile(bundlePath) },
  { path: '/docs/swagger-ui.css', contentType: 'text/css; charset=utf-8', cacheControl: FILE_CACHE, read: fromFile(cssPath) },
  { path: '/docs/favicon.png', contentType: 'image/png', cacheControl: FILE_CACHE, read: fromFile(faviconPath) },
]

export interface Loaded {
  readonly plain: Uint8Array
  /** Undefined when gzip would not save anything worth having (an image). */
  readonly gzip: Uint8Array | undefined
}

/** Loads an asset once (concurrent first requests share the read) and keeps it. */
export const loader = (asset: Asset): (() => Promise<Loaded>) => {
  let loaded: Promise<Loaded> | undefined
  return () =>
    (loaded ??= asset.read().then(async (plain) => {
      const zipped = asset.contentType.startsWith('image/') ? undefined : new Uint8Array(await gzipAsync(plain))
      return { plain, gzip: zipped }
    }))
}
