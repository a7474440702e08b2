import { afterEach, describe, expect, test } from 'bun:test'
import { createTestApp, T0_SECONDS, type TestApp } from '../support/app'
import { expectProblem, GUID, OTHER_GUID } from '../support/http'
import { SseReader } from '../support/sse'

let app: TestApp
afterEach(() => app?.close())

const open = async (env: Record<string, string> = {}, sseTiming = { heartbeatMs: 60_000, stallMs: 60_000 }) => {
  app = await createTestApp(env, { sseTiming })
  return app
}

type Page = { items: Array<{ id: string; type: string; guid: string; version: number; record?: unknown }>; next: string }
const page = async (query = '', headers: Record<string, string> = {}): Promise<Page> => {
  const res = await app.req('GET', `/events${query}`, undefined, { accept: 'application/json', ...headers })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toStartWith('application/json')
  return (await res.json()) as Page
}
const etagValue = (res: Response) => Number(res.headers.get('etag')!.replaceAll('"', ''))

describe('GET /events (pages of JSON)', () => {
  test('created, updated, deleted in order, each with the version its ETag carried and the record for created and updated', async () => {
    await open()
    const created = await app.req('POST', '/guid', { guid: GUID, user: 'u1', expire: T0_SECONDS + 100 })
    const patched = await app.req('PATCH', `/guid/${GUID}`, { user: 'u2' })
    expect((await app.req('DELETE', `/guid/${GUID}`)).status).toBe(204)
    const { items, next } = await page()
    expect(items.map((e) => e.type)).toEqual(['created', 'updated', 'deleted'])
    expect(items[0]).toMatchObject({ guid: GUID, version: etagValue(created), record: { guid: GUID, user: 'u1', expire: T0_SECONDS + 100 } })
    expect(items[1]).toMatchObject({ guid: GUID, version: etagValue(patched), record: { guid: GUID, user: 'u2', expire: T0_SECONDS + 100 } })
    expect(items[2]!.record).toBeUndefined()
    expect(items[2]!.version).toBeGreaterThan(items[1]!.version)
    expect(next).toBe(items[2]!.id)
    // Positions are ordered; resuming after one answers exactly what follows it.
    expect((await page(`?after=${items[0]!.id}`)).items.map((e) => e.id)).toEqual([items[1]!.id, items[2]!.id])
    expect(await page(`?after=${next}`)).toEqual({ items: [], next })
  })

  test('refusals and writes that change nothing record nothing', async () => {
    await open()
    await app.req('POST', '/guid', { guid: GUID, user: 'u' })
    await expectProblem(await app.req('POST', '/guid', { guid: GUID, user: 'u' }), 409, 'guid-exists')
    await expectProblem(await app.req('PATCH', `/guid/${GUID}`, { user: 'x' }, { 'if-match': '"1"' }), 412, 'precondition-failed')
    expect((await app.req('POST', `/guid/${GUID}`, {})).status).toBe(200)
    expect((await page()).items.map((e) => e.type)).toEqual(['created'])
  })

  test('limit pages through; next resumes with nothing missed or repeated', async () => {
    await open()
    for (let i = 0; i < 7; i++) await app.req('POST', '/guid', { user: `u${i}` })
    const seen: string[] = []
    let after = ''
    for (let round = 0; round < 10; round++) {
      const p = await page(`?limit=3${after}`)
      if (p.items.length === 0) break
      seen.push(...p.items.map((e) => e.id))
      after = `&after=${p.next}`
    }
    expect(seen).toHaveLength(7)
    expect(new Set(seen).size).toBe(7)
  })

  test('?guid= and ?user= filter; next moves past what the filter skipped', async () => {
    await open()
    await app.req('POST', '/guid', { guid: GUID, user: 'alice' })
    await app.req('POST', '/guid', { guid: OTHER_GUID, user: 'bob' })
    await app.req('DELETE', `/guid/${GUID}`)
    const byGuid = await page(`?guid=${OTHER_GUID.toLowerCase()}`)
    expect(byGuid.items.map((e) => [e.type, e.guid])).toEqual([['created', OTHER_GUID]])
    const all = await page()
    expect(byGuid.next).toBe(all.next)
    // A deleted GUID's events keep its user for the filter.
    expect((await page('?user=alice')).items.map((e) => e.type)).toEqual(['created', 'deleted'])
    expect((await page('?user=nobody')).items).toEqual([])
  })

  test('400 for a malformed position, GUID, user, limit or an unknown parameter', async () => {
    await open()
    await expectProblem(await app.req('GET', '/events?after=nonsense', undefined, { accept: 'application/json' }), 400, 'validation')
    await expectProblem(await app.req('GET', '/events?guid=123', undefined, { accept: 'application/json' }), 400, 'invalid-guid')
    await expectProblem(await app.req('GET', '/events?user=', undefined, { accept: 'application/json' }), 400, 'validation')
    await expectProblem(await app.req('GET', '/events?limit=0', undefined, { accept: 'application/json' }), 400, 'validation')
    await expectProblem(await app.req('GET', '/events?limit=1001', undefined, { accept: 'application/json' }), 400, 'validation')
    await expectProblem(await app.req('GET', '/events?since=1', undefined, { accept: 'application/json' }), 400, 'validation')
    await expectProblem(await app.req('GET', '/events?after=nonsense'), 400, 'validation')
  })

  test('410 for a position older than EVENTS_RETENTION_SECONDS, or from another feed; a caught-up position stays valid', async () => {
    await open({ EVENTS_RETENTION_SECONDS: '60' })
    await app.req('POST', '/guid', { user: 'a' })
    const first = (await page()).items[0]!.id
    const start = (await page()).items.length === 1 ? first.replace(/\.\d+$/, '.0') : ''
    await app.req('POST', '/guid', { user: 'b' })
    app.clock.advance(61_000)
    await app.req('POST', '/guid', { user: 'c' })
    const second = (await page(`?after=${first}`)).items[0]!.id
    await app.runtime.feed!.hub.log.read(second, 1)
    // Trim: the first two events are older than 60 s.
    expect(await app.runtime.feed!.hub.log.trim()).toBe(2)
    await expectProblem(await app.req('GET', `/events?after=${start}`, undefined, { accept: 'application/json' }), 410, 'position-gone')
    await expectProblem(await app.req('GET', `/events?after=${first}`), 410, 'position-gone')
    // Right after the newest trimmed event nothing is missed: still valid.
    expect((await page(`?after=${second}`)).items.map((e) => e.record)).toEqual([expect.objectContaining({ user: 'c' })])
    await expectProblem(await app.req('GET', '/events?after=0badf00d.1', undefined, { accept: 'application/json' }), 410, 'position-gone')
    // Past the newest event ever written: a position this feed never handed out (a restored store's).
    const future = second.replace(/\.\d+$/, '.999')
    await expectProblem(await app.req('GET', `/events?after=${future}`, undefined, { accept: 'application/json' }), 410, 'position-gone')
    await expectProblem(await app.req('GET', `/events?after=${future}`), 410, 'position-gone')
    // Without a position, a page starts at the oldest event kept.
    expect((await page()).items).toHaveLength(1)
  })
})

describe('a restored backup', () => {
  test('keeps the positions of what it holds; a position of a write made after the backup is 410, not reissued', async () => {
    await open()
    await app.req('POST', '/guid', { user: 'before the backup' })
    const kept = (await page()).items[0]!.id
    const { backupSqlite } = await import('../../src/adapters/sqlite/backup')
    const copy = `${app.dir}/copy.sqlite`
    backupSqlite(app.config.SQLITE_PATH, copy)
    await app.req('POST', '/guid', { user: 'after the backup: lost by the restore' })
    const lost = (await page(`?after=${kept}`)).items[0]!.id
    const restored = await createTestApp({ SQLITE_PATH: copy })
    try {
      const ask = (after: string) => restored.req('GET', `/events?after=${after}`, undefined, { accept: 'application/json' })
      // Resuming at what the copy holds: nothing missed, and what is written next follows.
      expect(((await (await ask(kept)).json()) as Page).items).toEqual([])
      await restored.req('POST', '/guid', { user: 'after the restore' })
      const next = (await (await ask(kept)).json()) as Page
      expect(next.items.map((e) => e.record)).toEqual([expect.objectContaining({ user: 'after the restore' })])
      expect(next.items[0]!.id).not.toBe(lost)
      // Resumed, a consumer goes on with this log's own positions (valid after a second restore too).
      const hello = await new SseReader(await restored.req('GET', '/events', undefined, { 'last-event-id': kept })).next()
      expect(hello?.id).toBe(`${next.items[0]!.id.split('.')[0]}.${kept.split('.')[1]}`)
      // A consumer that saw the lost write must list again.
      await expectProblem(await ask(lost), 410, 'position-gone')
      await expectProblem(await restored.req('GET', `/events?after=${lost}`), 410, 'position-gone')
    } finally {
      await restored.close()
    }
  })
})

describe('expired', () => {
  test('recorded once by the expiry sweep, after the expire instant, ordered after the GUID other events', async () => {
    await open()
    await app.req('POST', '/guid', { guid: GUID, user: 'u', expire: T0_SECONDS + 2 })
    await app.req('PATCH', `/guid/${GUID}`, { user: 'v' })
    expect(await app.runtime.feed!.expirer.runOnce()).toBe(0)
    app.clock.advance(2_000)
    expect(await app.runtime.feed!.expirer.runOnce()).toBe(1)
    expect(await app.runtime.feed!.expirer.runOnce()).toBe(0)
    const { items } = await page()
    expect(items.map((e) => e.type)).toEqual(['created', 'updated', 'expired'])
    expect(items[2]).toEqual({ id: items[2]!.id, type: 'expired', guid: GUID, version: items[1]!.version + 1 })
    await expectProblem(await app.req('GET', `/guid/${GUID}`), 404, 'not-found')
    // Filtered by user, the expiry carries the user the GUID had.
    expect((await page('?user=v')).items.map((e) => e.type)).toEqual(['updated', 'expired'])
  })

  test('a create over an expired GUID records its expiry first, once: the sweep then finds nothing', async () => {
    await open()
    await app.req('POST', '/guid', { guid: GUID, user: 'u', expire: T0_SECONDS + 1 })
    app.clock.advance(1_000)
    const again = await app.req('POST', `/guid/${GUID}`, { user: 'w' })
    expect(again.status).toBe(201)
    expect(await app.runtime.feed!.expirer.runOnce()).toBe(0)
    const { items } = await page()
    expect(items.map((e) => e.type)).toEqual(['created', 'expired', 'created'])
    expect(items[1]!.version).toBeLessThan(etagValue(again))
    expect(items[2]!.version).toBe(etagValue(again))
  })

  test('the same when the expired record is known only to the store (not in memory)', async () => {
    await open()
    await app.req('POST', '/guid', { guid: GUID, user: 'u', expire: T0_SECONDS + 1 })
    app.clock.advance(1_000)
    app.runtime.lru.clear()
    await expectProblem(await app.req('GET', `/guid/${GUID}`), 404, 'not-found')
    app.runtime.lru.clear()
    expect((await app.req('POST', '/guid', { guid: GUID, user: 'w' })).status).toBe(201)
    expect(await app.runtime.feed!.expirer.runOnce()).toBe(0)
    expect((await page()).items.map((e) => e.type)).toEqual(['created', 'expired', 'created'])
  })

  test('the store sweep keeps a record until its expiry is recorded', async () => {
    await open()
    await app.req('POST', '/guid', { guid: GUID, user: 'u', expire: T0_SECONDS + 1 })
    app.clock.advance(5_000)
    app.runtime.lru.clear()
    // No expiry sweep yet: the record stays in the store (the feed has not told its expiry).
    const { Sweeper } = await import('../../src/data/sweeper')
    const { createLogger } = await import('../../src/ops/logger')
    const sweeper = new Sweeper(app.runtime.store, { intervalMs: 1_000, batch: 100, clock: app.clock, logger: createLogger('silent'), horizon: () => app.runtime.feed!.expirer.reportedThrough })
    expect(await sweeper.sweepOnce()).toBe(0)
    expect(app.runtime.feed!.expirer.reportedThrough).toBe(0)
    expect(await app.runtime.feed!.expirer.runOnce()).toBe(1)
    expect(app.runtime.feed!.expirer.reportedThrough).toBe(T0_SECONDS + 5)
    expect((await page()).items.map((e) => e.type)).toEqual(['created', 'expired'])
  })
})

describe('GET /events (Server-Sent Events)', () => {
  test('headers, retry, a starting id, then each write as it is acknowledged', async () => {
    await open()
    const res = await app.req('GET', '/events', undefined, { accept: 'text/event-stream' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(res.headers.get('x-accel-buffering')).toBe('no')
    expect(res.headers.get('cache-control')).toBe('no-store')
    const sse = new SseReader(res)
    const hello = await sse.next()
    expect(hello?.retry).toBe(1_000)
    expect(hello?.id).toMatch(/^[0-9a-f]{8}\.0$/)
    const created = await app.req('POST', '/guid', { guid: GUID, user: 'u' })
    await app.req('DELETE', `/guid/${GUID}`)
    const [a, b] = await sse.events(2)
    expect(a).toMatchObject({ type: 'created', guid: GUID, version: etagValue(created), record: { guid: GUID, user: 'u' } })
    expect(b).toMatchObject({ type: 'deleted', guid: GUID })
    expect(app.runtime.feed!.hub.streams).toBe(1)
    await sse.cancel()
    expect(app.runtime.feed!.hub.streams).toBe(0)
  })

  test('Last-Event-ID resumes right after it (over ?after=), with nothing missed or repeated', async () => {
    await open()
    for (const user of ['a', 'b', 'c']) await app.req('POST', '/guid', { user })
    const all = (await page()).items
    const res = await app.req('GET', `/events?after=${all[2]!.id}`, undefined, { 'last-event-id': all[0]!.id })
    const sse = new SseReader(res)
    expect((await sse.events(2)).map((e) => e.record?.user)).toEqual(['b', 'c'])
    await app.req('POST', '/guid', { user: 'd' })
    expect((await sse.events(1)).map((e) => e.record?.user)).toEqual(['d'])
    await sse.cancel()
  })

  test('a filtered stream moves its resume point past skipped events with an id alone', async () => {
    await open()
    const sse = new SseReader(await app.req('GET', '/events?user=mine'))
    await sse.next()
    await app.req('POST', '/guid', { user: 'theirs' })
    const moved = await sse.next()
    expect(moved?.data).toBeUndefined()
    expect(moved?.id).toBe((await page()).next)
    await app.req('POST', '/guid', { user: 'mine' })
    expect((await sse.events(1))[0]?.record?.user).toBe('mine')
    await sse.cancel()
  })

  test('HEAD: the stream headers, no stream held', async () => {
    await open({ MAX_EVENT_STREAMS: '1' })
    const res = await app.req('HEAD', '/events')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(app.runtime.feed!.hub.streams).toBe(0)
  })

  test('a heartbeat comment when idle', async () => {
    await open({}, { heartbeatMs: 20, stallMs: 60_000 })
    const sse = new SseReader(await app.req('GET', '/events'))
    await sse.next()
    expect((await sse.next())?.comments).toEqual(['heartbeat'])
    await sse.cancel()
  })

  test('MAX_EVENT_STREAMS: 503 with Retry-After beyond it; a closed stream frees its slot', async () => {
    await open({ MAX_EVENT_STREAMS: '1' })
    const sse = new SseReader(await app.req('GET', '/events'))
    const refused = await app.req('GET', '/events')
    await expectProblem(refused, 503, 'overloaded')
    expect(refused.headers.get('retry-after')).toBe('1')
    // Pages are not streams: never refused for it.
    expect((await page()).items).toEqual([])
    await sse.cancel()
    const again = await app.req('GET', '/events')
    expect(again.status).toBe(200)
    await again.body?.cancel()
  })

  test('a consumer that takes nothing is disconnected and its slot freed', async () => {
    await open({ MAX_EVENT_STREAMS: '1' }, { heartbeatMs: 60_000, stallMs: 20 })
    const res = await app.req('GET', '/events')
    expect(app.runtime.feed!.hub.streams).toBe(1)
    const until = Date.now() + 2_000
    while (app.runtime.feed!.hub.streams > 0 && Date.now() < until) await Bun.sleep(5)
    expect(app.runtime.feed!.hub.streams).toBe(0)
    // It resumes from its last id on reconnecting: the stream itself ended in an error.
    await expect(res.text()).rejects.toThrow()
  })

  test('shutdown ends open streams', async () => {
    await open()
    const sse = new SseReader(await app.req('GET', '/events'))
    await sse.next()
    await app.runtime.endStreams()
    expect(await sse.next()).toBeUndefined()
  })
})

describe("the feed bench's baseline (withoutFeed)", () => {
  test('writes record no events and /events is not served: what the feed costs is measured against it', async () => {
    const bare = await createTestApp({}, { withoutFeed: true })
    try {
      expect((await bare.req('POST', `/guid/${GUID}`, { user: 'u' })).status).toBe(201)
      expect((await bare.req('GET', '/events', undefined, { accept: 'application/json' })).status).toBe(404)
      const { Database } = await import('bun:sqlite')
      const db = new Database(bare.config.SQLITE_PATH!, { readonly: true })
      expect(db.query("SELECT name FROM sqlite_master WHERE name = 'events'").get()).toBeNull()
      db.close()
    } finally {
      await bare.close()
    }
  })
})
