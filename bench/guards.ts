/**
 * `npm run bench:guards`: what each request guard costs a hot GET, in-process (app.handle, no
 * socket), per configuration, interleaved and best of 8 rounds so that a busy machine blurs
 * the differences less. The request carries 4 headers, as curl sends.
 */
import { openSync } from 'node:fs'
import { LogSink } from '../src/ops/log-sink'
import { createLogger } from '../src/ops/logger'
import { createTestApp, type TestApp } from '../test/support/app'

const KEY = 'k-0123456789abcdef0123456789abcdef'
const N = Number(Bun.env.BENCH_REQUESTS ?? 100_000)
const devNull = () => createLogger('info', new LogSink({ fd: openSync('/dev/null', 'w') }))

const variants: Array<[string, TestApp]> = [
  ['defaults (no key, no limit)', await createTestApp({})],
  ['MAX_HEADER_BYTES=8192', await createTestApp({ MAX_HEADER_BYTES: '8192' })],
  ['API_KEYS (one key)', await createTestApp({ API_KEYS: KEY })],
  ['API_KEYS + rate limit', await createTestApp({ API_KEYS: KEY, RATE_LIMIT_PER_SECOND: '1000000000', RATE_LIMIT_BURST: '1000000000' })],
  ['LOG_LEVEL=info (request log)', await createTestApp({}, { logger: devNull(), clientAddress: () => '192.0.2.7' })],
]
const headers = { host: '127.0.0.1:8888', 'user-agent': 'curl/8.0', accept: '*/*', authorization: `Bearer ${KEY}` }
const urls: string[] = []
for (const [, app] of variants) {
  const res = await app.req('POST', '/guid', { user: 'hot' }, headers)
  urls.push(`http://localhost/guid/${((await res.json()) as { guid: string }).guid}`)
}
const best = variants.map(() => Infinity)
for (let round = 0; round < 8; round++) {
  for (let v = 0; v < variants.length; v++) {
    const handle = variants[v]![1].runtime.app.handle
    const started = performance.now()
    for (let i = 0; i < N; i++) await handle(new Request(urls[v]!, { headers }))
    best[v] = Math.min(best[v]!, ((performance.now() - started) * 1000) / N)
  }
}
console.log(`hot GET in-process, best of 8 x ${N}, Bun ${Bun.version}\n`)
console.log('| configuration | us per GET | vs defaults |\n|---|---:|---:|')
for (let v = 0; v < variants.length; v++) console.log(`| ${variants[v]![0]} | ${best[v]!.toFixed(2)} | +${(best[v]! - best[0]!).toFixed(2)} |`)
for (const [, app] of variants) await app.close()
