import { expect, test } from 'bun:test'
import { expectProblem } from './http'
import { freshUser, listPage, type Send } from './listing-contract'

/**
 * Idempotency-Key's contract, run in every mode (embedded and Redis in-process; the MongoDB
 * modes over HTTP) with the first request sent to one instance and its retries to another
 * where there are two. Every test uses keys of its own, so a shared store does not matter.
 */

export interface IdempotencyTarget {
  a: Send
  b: Send
}

let keys = 0
/** A key no other test sends. */
export const freshKey = (): string => `"k-${process.pid}-${Date.now()}-${++keys}"`

const json = async (res: Response): Promise<unknown> => (res.status === 204 ? null : res.json())

/** Asserts `replay` is `first` replayed: same status, body, ETag and Location, and the replay header. */
export const expectReplay = async (first: Response, replay: Response): Promise<void> => {
  expect(replay.status).toBe(first.status)
  expect(first.headers.get('idempotent-replayed')).toBeNull()
  expect(replay.headers.get('idempotent-replayed')).toBe('true')
  for (const h of ['etag', 'location', 'content-type']) expect({ h, v: replay.headers.get(h) }).toEqual({ h, v: first.headers.get(h) })
  expect(await json(replay.clone())).toEqual(await json(first.clone()))
}

const metric = async (send: Send, name: string): Promise<number> => {
  const text = await (await send('GET', '/metrics')).text()
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}

export const idempotencyContract = (target: () => IdempotencyTarget): void => {
  test('POST /guid: a retry gets the first answer replayed (status, body, ETag, Location) and no second GUID; the replay is counted', async () => {
    const { a, b } = target()
    const key = freshKey()
    const user = freshUser()
    const before = await metric(b, 'guidd_idempotent_replays_total')
    const first = await a('POST', '/guid', { user }, { 'idempotency-key': key })
    expect(first.status).toBe(201)
    const replay = await b('POST', '/guid', { user }, { 'idempotency-key': key })
    await expectReplay(first, replay)
    // Members in another order and other spacing are the same body.
    const reordered = await b('POST', '/guid', `{ "user" : ${JSON.stringify(user)} }`, { 'idempotency-key': key })
    await expectReplay(first, reordered)
    expect((await listPage(a, user)).items).toHaveLength(1)
    expect(await metric(b, 'guidd_idempotent_replays_total')).toBe(before + 2)
  })

  test('the same key with another request is 422: another body, path, method or precondition', async () => {
    const { a, b } = target()
    const key = freshKey()
    const user = freshUser()
    const first = await a('POST', '/guid', { user }, { 'idempotency-key': key })
    expect(first.status).toBe(201)
    const { guid } = (await first.json()) as { guid: string }
    await expectProblem(await b('POST', '/guid', { user: `${user}!` }, { 'idempotency-key': key }), 422, 'idempotency-key-reused')
    await expectProblem(await b('POST', `/guid/${guid}`, { user }, { 'idempotency-key': key }), 422, 'idempotency-key-reused')
    await expectProblem(await b('PATCH', `/guid/${guid}`, { user }, { 'idempotency-key': key }), 422, 'idempotency-key-reused')
    await expectProblem(await b('POST', '/guid', { user }, { 'idempotency-key': key, 'if-none-match': '*' }), 422, 'idempotency-key-reused')
    expect((await listPage(a, user)).items).toHaveLength(1)
  })

  test("PATCH, POST /guid/{guid} and DELETE: a retry changes nothing a second time (the ETag stays the first answer's)", async () => {
    const { a, b } = target()
    const user = freshUser()
    const created = await a('POST', '/guid', { user })
    const { guid } = (await created.json()) as { guid: string }
    const path = `/guid/${guid.toLowerCase()}`
    for (const [method, body] of [
      ['PATCH', { user: `${user} 2` }],
      ['POST', { expire: 4102444800 }],
    ] as const) {
      const key = freshKey()
      const first = await a(method, path, body, { 'idempotency-key': key })
      expect(first.status).toBe(200)
      // The GUID in its canonical form is the same path.
      await expectReplay(first, await b(method, `/guid/${guid}`, body, { 'idempotency-key': key }))
      // Still at the first answer's version: a write conditional on it succeeds (decided by the
      // store's compare-and-set, not by a copy an instance may keep).
      expect((await b('PATCH', `/guid/${guid}`, { user }, { 'if-match': first.headers.get('etag')! })).status).toBe(200)
    }
    const key = freshKey()
    const deleted = await a('DELETE', path, undefined, { 'idempotency-key': key })
    expect(deleted.status).toBe(204)
    const again = await b('DELETE', path, undefined, { 'idempotency-key': key })
    expect(again.status).toBe(204)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect((await a('DELETE', path)).status).toBe(404)
  })

  test('the answers the service decided are kept too: a 404, a 409, a 400 are replayed even once the request would succeed', async () => {
    const { a, b } = target()
    const user = freshUser()
    const guid = crypto.randomUUID().replaceAll('-', '').toUpperCase()
    const patchKey = freshKey()
    const missing = await a('PATCH', `/guid/${guid}`, { user }, { 'idempotency-key': patchKey })
    await expectProblem(missing.clone(), 404, 'not-found')
    expect((await a('POST', '/guid', { guid, user })).status).toBe(201)
    await expectReplay(missing, await b('PATCH', `/guid/${guid}`, { user }, { 'idempotency-key': patchKey }))
    const createKey = freshKey()
    const exists = await a('POST', '/guid', { guid, user }, { 'idempotency-key': createKey })
    await expectProblem(exists.clone(), 409, 'guid-exists')
    expect((await a('DELETE', `/guid/${guid}`)).status).toBe(204)
    await expectReplay(exists, await b('POST', '/guid', { guid, user }, { 'idempotency-key': createKey }))
    const badKey = freshKey()
    const bad = await a('POST', '/guid', { user, color: 'red' }, { 'idempotency-key': badKey })
    await expectProblem(bad.clone(), 400, 'validation')
    await expectReplay(bad, await b('POST', '/guid', { user, color: 'red' }, { 'idempotency-key': badKey }))
  })

  test('a malformed key is 400 and nothing runs: not a quoted string, empty, over 255 characters, a bad escape, not ASCII, with parameters', async () => {
    const { a } = target()
    const user = freshUser()
    for (const key of ['abc', '"abc', '""', `"${'x'.repeat(256)}"`, '"a\\b"', '"é"', '"a";p=1', '"a" "b"', '?1']) {
      const problem = await expectProblem(await a('POST', '/guid', { user }, { 'idempotency-key': key }), 400, 'validation')
      expect(problem.errors).toEqual([expect.objectContaining({ path: 'Idempotency-Key' })])
    }
    // 255 characters, and the escapes \" and \\, are fine.
    const longest = `${process.pid}-${Date.now()}-${'x'.repeat(255)}`.slice(0, 255)
    expect((await a('POST', '/guid', { user }, { 'idempotency-key': `"${longest}"` })).status).toBe(201)
    expect((await a('POST', '/guid', { user }, { 'idempotency-key': `"q\\"b\\\\-${Date.now()}"` })).status).toBe(201)
    expect((await listPage(a, user)).items).toHaveLength(2)
  })

  test('the same key sent to both instances at once has one effect: the others get the replay or 409 with Retry-After', async () => {
    const { a, b } = target()
    const key = freshKey()
    const user = freshUser()
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b)('POST', '/guid', { user }, { 'idempotency-key': key })))
    const firsts = answers.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null)
    expect(firsts).toHaveLength(1)
    for (const r of answers) {
      if (r === firsts[0]) continue
      if (r.status === 409) {
        expect(r.headers.get('retry-after')).toBe('1')
        await expectProblem(r, 409, 'idempotency-key-in-flight')
      } else await expectReplay(firsts[0]!, r)
    }
    expect((await listPage(a, user)).items).toHaveLength(1)
  })
}
