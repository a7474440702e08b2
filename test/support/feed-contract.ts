import { expect, test } from 'bun:test'
import type { TestApp } from './app'
import { SseReader } from './sse'

/**
 * The change feed's contract, for every mode: `open` gives two instances over the same data
 * (the same one twice where a mode has one) on a shared manual clock at real time (Redis and
 * MongoDB expire by their own clocks).
 */
export interface FeedInstances {
  a: TestApp
  b: TestApp
  /** Waits until `b` has caught up with `a`'s writes where it learns of them asynchronously. */
  settle?: () => Promise<void>
}

type Page = { items: Array<{ id: string; type: string; guid: string; version: number; record?: { user: string; expire: number } }>; next: string }

export const page = async (app: TestApp, query = ''): Promise<Page> => {
  const res = await app.req('GET', `/events${query}`, undefined, { accept: 'application/json' })
  expect(res.status).toBe(200)
  return (await res.json()) as Page
}

const etagValue = (res: Response) => Number(res.headers.get('etag')!.replaceAll('"', ''))
const nowSec = (app: TestApp) => Math.floor(app.clock.now() / 1000)
const guidOf = () => crypto.randomUUID().replaceAll('-', '').toUpperCase()

export const feedContract = (open: () => Promise<FeedInstances>): void => {
  test('writes through either instance appear in one order on both, per GUID in version order, with the ETag as version', async () => {
    const { a, b } = await open()
    const guid = guidOf()
    const start = await page(a, '?limit=1000')
    const versions: number[] = []
    const created = await a.req('POST', '/guid', { guid, user: 'u0', expire: nowSec(a) + 3_600 })
    versions.push(etagValue(created))
    for (let i = 1; i <= 4; i++) {
      const res = await (i % 2 ? b : a).req('PATCH', `/guid/${guid}`, { user: `u${i}` })
      expect(res.status).toBe(200)
      versions.push(etagValue(res))
    }
    expect((await b.req('DELETE', `/guid/${guid}`)).status).toBe(204)
    for (const app of [a, b]) {
      const { items } = await page(app, `?guid=${guid}&after=${start.next}`)
      expect(items.map((e) => e.type)).toEqual(['created', 'updated', 'updated', 'updated', 'updated', 'deleted'])
      expect(items.slice(0, 5).map((e) => e.version)).toEqual(versions)
      expect(items.map((e) => e.record?.user)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4', undefined])
      expect(items[5]!.version).toBeGreaterThan(versions[4]!)
    }
    // Both instances hand out the same positions.
    expect((await page(a, `?after=${start.next}`)).items.map((e) => e.id)).toEqual((await page(b, `?after=${start.next}`)).items.map((e) => e.id))
  })

  test('a stream on one instance sees writes made through the other; Last-Event-ID resumes on either with nothing missed or repeated', async () => {
    const { a, b } = await open()
    const sse = new SseReader(await b.req('GET', '/events?user=streamed'))
    await sse.next()
    const guids: string[] = [guidOf(), guidOf(), guidOf()]
    await a.req('POST', '/guid', { guid: guids[0], user: 'streamed' })
    const first = await sse.events(1)
    expect(first.map((e) => [e.type, e.guid])).toEqual([['created', guids[0]!]])
    await sse.cancel()
    await a.req('POST', '/guid', { guid: guids[1], user: 'streamed' })
    await b.req('POST', '/guid', { guid: guids[2], user: 'streamed' })
    const resumed = new SseReader(await a.req('GET', '/events?user=streamed', undefined, { 'last-event-id': first[0]!.id }))
    expect((await resumed.events(2)).map((e) => e.guid)).toEqual([guids[1]!, guids[2]!])
    await resumed.cancel()
  })

  test('expired: recorded exactly once with both instances sweeping, after the GUID other events; a create over an expired GUID records it first', async () => {
    const { a, b } = await open()
    const start = await page(a, '?limit=1000')
    const [g1, g2] = [guidOf(), guidOf()]
    const expire = nowSec(a) + 1
    await a.req('POST', '/guid', { guid: g1, user: 'x', expire })
    await b.req('PATCH', `/guid/${g1}`, { user: 'y' })
    await a.req('POST', '/guid', { guid: g2, user: 'z', expire })
    a.clock.advance(1_000)
    if (b.clock !== a.clock) b.clock.advance(1_000)
    const again = await b.req('POST', `/guid/${g2}`, { user: 'z2' })
    expect(again.status).toBe(201)
    const counts = await Promise.all([a.runtime.feed!.expirer.runOnce(), b.runtime.feed!.expirer.runOnce(), a.runtime.feed!.expirer.runOnce()])
    expect(counts.reduce((x, y) => x + y, 0)).toBe(1)
    expect(await b.runtime.feed!.expirer.runOnce()).toBe(0)
    const one = (await page(b, `?guid=${g1}&after=${start.next}`)).items
    expect(one.map((e) => e.type)).toEqual(['created', 'updated', 'expired'])
    expect(one[2]!.version).toBe(one[1]!.version + 1)
    const two = (await page(a, `?guid=${g2}&after=${start.next}`)).items
    expect(two.map((e) => e.type)).toEqual(['created', 'expired', 'created'])
    expect(two[2]!.version).toBe(etagValue(again))
  })

  test('pages: limit and next walk every event once', async () => {
    const { a, b } = await open()
    const start = await page(a, '?limit=1000')
    for (let i = 0; i < 5; i++) await (i % 2 ? a : b).req('POST', '/guid', { user: 'paged' })
    const seen: string[] = []
    let after = start.next
    for (let round = 0; round < 10; round++) {
      const p = await page(round % 2 ? a : b, `?limit=2&user=paged&after=${after}`)
      if (p.items.length === 0) break
      seen.push(...p.items.map((e) => e.id))
      after = p.next
    }
    expect(seen).toHaveLength(5)
    expect(new Set(seen).size).toBe(5)
  })
}
