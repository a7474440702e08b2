import { expect, test } from 'bun:test'
import type { FlakyStore } from './flaky-store'
import { expectProblem } from './http'

/**
 * The listing's contract (GET /guid?user=), run in every mode: in-process (embedded, Redis +
 * SQLite) and against real processes (Redis + MongoDB, MongoDB-only), with writes sent to one
 * instance and listings to another where there are two. Each test lists a user of its own,
 * so a store shared by earlier tests does not matter.
 */

export type Send = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Response>

export interface ListingTarget {
  /** Where writes go. */
  writer: Send
  /** Where listings go: another instance when the mode has two, else the same one. */
  reader: Send
}

interface Page {
  items: Array<{ guid: string; user: string; expire: number }>
  next: string | null
}

let users = 0
/** A user no other test lists: a run id, a counter, and characters a URL must escape. */
export const freshUser = (): string => `lister ${process.pid}-${Date.now()}-${++users} & ü/?`

const listPath = (user: string, limit?: number, cursor?: string): string =>
  `/guid?user=${encodeURIComponent(user)}${limit === undefined ? '' : `&limit=${limit}`}${cursor === undefined ? '' : `&cursor=${cursor}`}`

export const listPage = async (send: Send, user: string, limit?: number, cursor?: string): Promise<Page & { link: string | null }> => {
  const res = await send('GET', listPath(user, limit, cursor))
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toStartWith('application/json')
  const page = (await res.json()) as Page
  return { ...page, link: res.headers.get('link') }
}

/** Every GUID of `user`, page by page, checking each page's shape and Link. */
export const walk = async (send: Send, user: string, limit: number): Promise<{ guids: string[]; pages: number }> => {
  const guids: string[] = []
  let cursor: string | undefined
  let pages = 0
  for (;;) {
    const page = await listPage(send, user, limit, cursor)
    pages++
    expect(page.items.length).toBeLessThanOrEqual(limit)
    for (const item of page.items) expect(item.user).toBe(user)
    guids.push(...page.items.map((i) => i.guid))
    if (page.next === null) {
      expect(page.link).toBeNull()
      return { guids, pages }
    }
    expect(page.items.length).toBe(limit)
    expect(page.link).toBe(`<${listPath(user, limit, page.next)}>; rel="next"`)
    cursor = page.next
    if (pages > 1_000) throw new Error('the walk does not end')
  }
}

const create = async (send: Send, user: string): Promise<string> => {
  const res = await send('POST', '/guid', { user })
  expect(res.status).toBe(201)
  return ((await res.json()) as { guid: string }).guid
}

export const listingContract = (target: () => ListingTarget, options: { count?: number } = {}): void => {
  const count = options.count ?? 25

  test("pages walk one user's GUIDs in ascending order, each once; Link names the next page; the last has next null", async () => {
    const { writer, reader } = target()
    const user = freshUser()
    const other = freshUser()
    const mine: string[] = []
    for (let i = 0; i < count; i++) mine.push(await create(writer, user))
    await create(writer, other)
    const { guids, pages } = await walk(reader, user, 10)
    expect(guids).toEqual([...mine].sort())
    expect(pages).toBe(Math.ceil(count / 10) + (count % 10 === 0 ? 1 : 0))
    // Default limit (100) takes them all in one page.
    const all = await listPage(reader, user)
    expect(all.items.map((i) => i.guid)).toEqual([...mine].sort())
    expect(all.next).toBeNull()
  })

  test('each item is the record as GET answers it', async () => {
    const { writer, reader } = target()
    const user = freshUser()
    const guid = await create(writer, user)
    const patched = await writer('PATCH', `/guid/${guid}`, { expire: 4102444800 })
    expect(patched.status).toBe(200)
    const page = await listPage(reader, user)
    const got = await reader('GET', `/guid/${guid}`)
    expect(page.items).toEqual([(await got.json()) as Page['items'][number]])
  })

  test('read-your-writes: a listing after an acknowledged create, update or delete (sent to any instance) reflects it', async () => {
    const { writer, reader } = target()
    const user = freshUser()
    const moved = freshUser()
    const a = await create(writer, user)
    expect((await listPage(reader, user)).items.map((i) => i.guid)).toEqual([a])
    const b = await create(writer, user)
    expect((await listPage(reader, user)).items.map((i) => i.guid)).toEqual([a, b].sort())
    expect((await writer('PATCH', `/guid/${a}`, { user: moved })).status).toBe(200)
    expect((await listPage(reader, user)).items.map((i) => i.guid)).toEqual([b])
    expect((await listPage(reader, moved)).items).toEqual([expect.objectContaining({ guid: a, user: moved })])
    expect((await writer('DELETE', `/guid/${b}`)).status).toBe(204)
    expect((await listPage(reader, user)).items).toEqual([])
    expect((await writer('POST', `/guid/${b}`, { user })).status).toBe(201)
    expect((await listPage(reader, user)).items.map((i) => i.guid)).toEqual([b])
  })

  test('a GUID that exists unchanged through the walk appears once, whatever changes around it', async () => {
    const { writer, reader } = target()
    const user = freshUser()
    const stable: string[] = []
    for (let i = 0; i < 12; i++) stable.push(await create(writer, user))
    const seen: string[] = []
    let cursor: string | undefined
    for (let round = 0; ; round++) {
      const page = await listPage(reader, user, 4, cursor)
      seen.push(...page.items.map((i) => i.guid))
      if (page.next === null) break
      cursor = page.next
      // Between pages: new GUIDs land on both sides of the cursor, one seen GUID goes.
      const gone = await create(writer, user)
      expect((await writer('DELETE', `/guid/${gone}`)).status).toBe(204)
      await create(writer, user)
      if (round > 20) throw new Error('the walk does not end')
    }
    expect(new Set(seen).size).toBe(seen.length)
    for (const guid of stable) expect(seen.filter((g) => g === guid)).toHaveLength(1)
    expect([...seen].sort()).toEqual(seen)
  })

  test('a user with no GUIDs: an empty page', async () => {
    const { reader } = target()
    const res = await reader('GET', listPath(freshUser()))
    expect(res.status).toBe(200)
    expect(res.headers.get('link')).toBeNull()
    expect(await res.json()).toEqual({ items: [], next: null })
  })

  test("bad queries are 400 problems naming the parameter: user, limit, cursor (malformed or another user's), unknown", async () => {
    const { writer, reader } = target()
    const user = freshUser()
    await create(writer, user)
    await create(writer, user)
    const first = await listPage(reader, user, 1)
    expect(first.next).not.toBeNull()
    const cases: Array<[string, string]> = [
      ['/guid', 'user'],
      ['/guid?user=', 'user'],
      [`/guid?user=${'x'.repeat(257)}`, 'user'],
      [listPath(user, 0), 'limit'],
      [listPath(user, 1001), 'limit'],
      [`${listPath(user)}&limit=ten`, 'limit'],
      [`${listPath(user)}&limit=1.5`, 'limit'],
      [`${listPath(user)}&limit=007`, 'limit'],
      [`${listPath(user)}&limit=%2B5`, 'limit'],
      [listPath(user, 10, 'not-a-cursor'), 'cursor'],
      [listPath(user, 10, `${first.next}A`), 'cursor'],
      [listPath(freshUser(), 10, first.next!), 'cursor'],
      [`${listPath(user)}&sort=desc`, 'sort'],
      [`${listPath(user)}&user=again`, 'user'],
    ]
    for (const [path, param] of cases) {
      const problem = await expectProblem(await reader('GET', path), 400, 'validation')
      expect({ path, errors: problem.errors }).toEqual({ path, errors: [expect.objectContaining({ path: param })] })
    }
    // The cursor works for its own user, with any limit.
    const rest = await listPage(reader, user, 5, first.next!)
    expect(rest.items).toHaveLength(1)
    expect(rest.items[0]!.guid > first.items[0]!.guid).toBe(true)
  })
}

/**
 * Redis modes: a listing wakes a flusher that is backing off after store failures. Found by
 * the model suite: the disk freed, /readyz 200, and the next listing answered 503 because the
 * flusher was sleeping out a 5 s backoff. `open` starts an instance with LIST_FLUSH_WAIT_MS
 * 2000 and the flusher backoff given; backoffs of 0.4, 0.8, 1.6, then 3.2 s: after the fourth
 * failure the flusher sleeps past the listing's 2 s.
 */
export const listingWakesBackoff = async (open: (flusherBackoffMs: { min: number; max: number }) => Promise<{ app: { req: Send }; store: FlakyStore }>): Promise<void> => {
  const a = await open({ min: 400, max: 60_000 })
  const user = freshUser()
  a.store.writesDown = true
  expect((await a.app.req('POST', '/guid', { user })).status).toBe(201)
  for (const deadline = performance.now() + 10_000; a.store.refused < 4; ) {
    if (performance.now() > deadline) throw new Error('the flusher did not try the store four times')
    await Bun.sleep(5)
  }
  a.store.writesDown = false
  expect((await listPage(a.app.req, user)).items).toHaveLength(1)
}
