/**
 * The bare server and the floors of the stack over HTTP: a `Bun.serve` that does only what a
 * guidd request cannot avoid, alone or with one of guidd's own components, so that
 * `npm run bench` can put each beside guidd under the same wrk load. FLOOR picks what it does
 * per request:
 *
 * - bare         (the default) any request: a fixed small JSON with one header, the ratio's base
 * - get-route    GET through Bun.serve's router on `/guid/:guid` (the route guidd's GET takes),
 *                the fixed JSON with one header
 * - get-headers  get-route answered with the headers guidd's contract puts on a record (content
 *                type, cache-control, nosniff, an ETag and an X-Request-Id made per request)
 * - get-contract get-headers + the two request headers the contract makes a GET read: the
 *                client's X-Request-Id (echoed when given) and If-None-Match (a 304 when it
 *                matches); neither is sent by the load, as for guidd
 * - get-log      get-contract + the client address (`server.requestIP`) and guidd's request log
 *                line (info, to a file, one write per turn): what a GET at info cannot avoid
 * - post         POST: read the body, JSON.parse it, answer 201 with a new GUID's JSON
 * - post-commit  post + a durable create through guidd's group commit (SqliteStore in WAL,
 *                synchronous NORMAL, its checkpoint thread): answered after the commit
 * - post-redis   post + guidd's Redis journal append (one script call per turn; REDIS_URL),
 *                without the flusher that would then commit it to SQLite
 * - post-mongo   post + one insert of the new document through the MongoDB driver (MONGODB_URL;
 *                write concern majority, journaled, as guidd's), without guidd's compare-and-set
 *                or FerretDB's claims: the least a durable create in the MongoDB modes costs
 *
 * No validation, actor, LRU, metrics, request id, ETag or error handling: whatever guidd
 * costs above these is its own code. guidd's modules are loaded only by the floors that use
 * them, so the bare server is Bun alone.
 */
import { join } from 'node:path'
import type { Journal } from '../src/data/journal'
import type { LogRequest } from '../src/ops/request-log'

const floor = Bun.env.FLOOR ?? 'bare'
const json = { 'content-type': 'application/json' }
const fixed = JSON.stringify({ guid: '9094E4C980C74043A4B586B420E69DDF', user: 'Cylance, Inc.', expire: 1893456000 })
const THIRTY_DAYS = 2_592_000

const journalOf = async (): Promise<Journal | undefined> => {
  if (floor === 'post-commit') {
    const [{ SqliteStore }, { GroupCommitJournal }, { systemClock }] = await Promise.all([
      import('../src/adapters/sqlite/store'),
      import('../src/adapters/sqlite/group-commit'),
      import('../src/domain/clock'),
    ])
    const store = new SqliteStore({ path: Bun.env.SQLITE_PATH ?? join(process.cwd(), 'floor.sqlite'), synchronous: 'NORMAL' })
    return new GroupCommitJournal(store, { batchMax: 1_000, windowMs: 0, clock: systemClock })
  }
  if (floor === 'post-redis') {
    const [{ connectRedis }, { RedisJournal }, { redisKeys }] = await Promise.all([
      import('../src/adapters/redis/client'),
      import('../src/adapters/redis/journal'),
      import('../src/adapters/redis/keys'),
    ])
    const client = await connectRedis({ url: Bun.env.REDIS_URL!, onError: (error) => console.error(error) })
    return new RedisJournal({ client, keys: redisKeys('floor:'), maxLag: 100_000_000, timeoutMs: 5_000, instanceId: 'floor', retainSeconds: 86_400 })
  }
  if (floor === 'post-mongo') {
    const { MongoClient } = await import('mongodb')
    const client = await new MongoClient(Bun.env.MONGODB_URL!).connect()
    const docs = client.db('floor').collection<{ _id: string }>('guids')
    const writeConcern = { w: 'majority', j: true } as const
    return {
      append: async ({ next }) => {
        await docs.insertOne({ _id: next.guid, ...next }, { writeConcern })
      },
      close: () => client.close(),
    }
  }
  return undefined
}

const requestLogOf = async (): Promise<LogRequest | undefined> => {
  if (floor !== 'get-log') return undefined
  const [{ openSync }, { LogSink }, { createLogger }, { requestLog }] = await Promise.all([
    import('node:fs'),
    import('../src/ops/log-sink'),
    import('../src/ops/logger'),
    import('../src/ops/request-log'),
  ])
  return requestLog(createLogger('info', new LogSink({ fd: openSync(join(process.cwd(), 'floor.log'), 'a') })))
}

const journal = await journalOf()
const log = await requestLogOf()
const newGuid = floor.startsWith('post') ? (await import('../src/domain/normalise')).generateGuid : undefined

const post = async (request: Request): Promise<Response> => {
  const body = JSON.parse(await request.text()) as { user?: string }
  const now = Math.floor(Date.now() / 1000)
  const next = { guid: newGuid!(), user: body.user ?? '', expire: now + THIRTY_DAYS, version: now * 1_000_000 + 1 }
  if (journal !== undefined) await journal.append({ next, prevVersion: 0 })
  return new Response(JSON.stringify({ guid: next.guid, user: next.user, expire: next.expire }), { status: 201, headers: json })
}

let served = 0
const VERSION = 1764633600000000
const ETAG = `"${VERSION}"`
const withHeaders = (requestId: string) =>
  new Response(fixed, {
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      etag: `"${VERSION + served}"`,
      'x-request-id': requestId,
    },
  })
const requestIdOf = (request: Request): string => request.headers.get('x-request-id') ?? `floor-${(++served).toString(36)}`
const contract = (request: Request, requestId = requestIdOf(request)): Response => {
  if (request.headers.get('if-none-match') === ETAG) return new Response(null, { status: 304, headers: { etag: ETAG, 'x-request-id': requestId } })
  return withHeaders(requestId)
}
const routes = {
  'get-route': { '/guid/:guid': () => new Response(fixed, { headers: json }) },
  'get-headers': { '/guid/:guid': () => withHeaders(`floor-${(++served).toString(36)}`) },
  'get-contract': { '/guid/:guid': (request: Request) => contract(request) },
  'get-log': {
    '/guid/:guid': (request: Request, server: Bun.Server<undefined>) => {
      const started = performance.now()
      const requestId = requestIdOf(request)
      const response = contract(request, requestId)
      log!(requestId, request.method, '/guid/:guid', response.status, (performance.now() - started) / 1000, fixed.length, server.requestIP(request)?.address)
      return response
    },
  },
}[floor]

const server = Bun.serve({
  port: Number(Bun.env.PORT ?? 0),
  hostname: '127.0.0.1',
  ...(routes === undefined ? {} : { routes }),
  fetch(request) {
    if (request.method === 'POST' && newGuid !== undefined) return post(request)
    // Everything else (the bare server, the bench's /healthz poll, the GET floors' other paths): the fixed JSON.
    return new Response(fixed, { headers: json })
  },
})
console.log(`listening ${server.port}`)
process.on('SIGTERM', () => process.exit(0))
