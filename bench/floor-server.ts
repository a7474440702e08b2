/**
 * The floors of the stack over HTTP: a bare `Bun.serve` that does only what a guidd request
 * cannot avoid, plus one of guidd's own components, so that `npm run bench` can put each beside
 * guidd under the same wrk load. FLOOR picks what it does per request:
 *
 * - get-route    GET through Bun.serve's router on `/guid/:guid` (the route guidd's GET takes),
 *                a fixed JSON with one header, as the bare server answers
 * - get-headers  get-route answered with the headers guidd's contract puts on a record (content
 *                type, cache-control, nosniff, an ETag and an X-Request-Id made per request)
 * - get-log      GET: the client address (`server.requestIP`) and guidd's request log line
 *                (info, to a file, one write per turn), then a fixed JSON
 * - post         POST: read the body, JSON.parse it, answer 201 with a new GUID's JSON
 * - post-commit  post + a durable create through guidd's group commit (SqliteStore in WAL,
 *                synchronous NORMAL, its checkpoint thread): answered after the commit
 * - post-redis   post + guidd's Redis journal append (one script call per turn; REDIS_URL),
 *                without the flusher that would then commit it to SQLite
 *
 * No validation, actor, LRU, metrics, request id, ETag or error handling: whatever guidd
 * costs above these is its own code.
 */
import { openSync } from 'node:fs'
import { join } from 'node:path'
import { connectRedis } from '../src/adapters/redis/client'
import { RedisJournal } from '../src/adapters/redis/journal'
import { redisKeys } from '../src/adapters/redis/keys'
import { GroupCommitJournal } from '../src/adapters/sqlite/group-commit'
import { SqliteStore } from '../src/adapters/sqlite/store'
import type { Journal } from '../src/data/journal'
import { systemClock } from '../src/domain/clock'
import { generateGuid } from '../src/domain/normalise'
import { BatchedDestination, createLogger } from '../src/ops/logger'
import { requestLog } from '../src/ops/request-log'

const floor = Bun.env.FLOOR ?? 'post'
const json = { 'content-type': 'application/json' }
const fixed = JSON.stringify({ guid: '9094E4C980C74043A4B586B420E69DDF', user: 'Cylance, Inc.', expire: 1893456000 })
const THIRTY_DAYS = 2_592_000

const journalOf = async (): Promise<Journal | undefined> => {
  if (floor === 'post-commit') {
    const store = new SqliteStore({ path: Bun.env.SQLITE_PATH ?? join(process.cwd(), 'floor.sqlite'), synchronous: 'NORMAL' })
    return new GroupCommitJournal(store, { batchMax: 1_000, windowMs: 0, clock: systemClock })
  }
  if (floor === 'post-redis') {
    const client = await connectRedis({ url: Bun.env.REDIS_URL!, onError: (error) => console.error(error) })
    return new RedisJournal({ client, keys: redisKeys('floor:'), maxLag: 100_000_000, timeoutMs: 5_000, instanceId: 'floor', retainSeconds: 86_400 })
  }
  return undefined
}
const journal = await journalOf()

const log = requestLog(createLogger('info', new BatchedDestination(openSync(join(process.cwd(), 'floor.log'), 'a'))))!

const post = async (request: Request): Promise<Response> => {
  const body = JSON.parse(await request.text()) as { user?: string }
  const now = Math.floor(Date.now() / 1000)
  const next = { guid: generateGuid(), user: body.user ?? '', expire: now + THIRTY_DAYS, version: now * 1_000_000 + 1 }
  if (journal !== undefined) await journal.append({ next, prevVersion: 0 })
  return new Response(JSON.stringify({ guid: next.guid, user: next.user, expire: next.expire }), { status: 201, headers: json })
}

let served = 0
const routes = {
  'get-route': { '/guid/:guid': () => new Response(fixed, { headers: json }) },
  'get-headers': {
    '/guid/:guid': () => {
      served++
      return new Response(fixed, {
        headers: {
          'content-type': 'application/json',
          'cache-control': 'no-cache',
          'x-content-type-options': 'nosniff',
          etag: `"${1764633600000000 + served}"`,
          'x-request-id': `floor-${served.toString(36)}`,
        },
      })
    },
  },
}[floor]

const server = Bun.serve({
  port: Number(Bun.env.PORT ?? 0),
  hostname: '127.0.0.1',
  ...(routes === undefined ? {} : { routes }),
  fetch(request, server) {
    // Anything but a POST (the bench's /healthz poll, the GET floors' other paths) gets the fixed JSON.
    if (floor !== 'get-log') return request.method === 'POST' ? post(request) : new Response(fixed, { headers: json })
    const started = performance.now()
    const client = server.requestIP(request)?.address
    log('5156df71-9b68-1a2b', request.method, '/guid/:guid', 200, (performance.now() - started) / 1000, fixed.length, client)
    return new Response(fixed, { headers: json })
  },
})
console.log(`listening ${server.port}`)
process.on('SIGTERM', () => process.exit(0))
