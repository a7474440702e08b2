import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'
import { GUID, OTHER_GUID } from '../support/http'
import { freshUser, listingContract, listPage } from '../support/listing-contract'

/** GET /guid?user= in the embedded mode (LRU + SQLite), in-process. */

let app: TestApp
beforeEach(async () => {
  app = await createTestApp()
})
afterEach(() => app.close())

describe('GET /guid?user= (embedded)', () => {
  listingContract(() => ({ writer: app.req, reader: app.req }))

  test('an expired GUID is not listed, from the second it expires', async () => {
    const user = freshUser()
    const now = Math.floor(app.clock.now() / 1000)
    expect((await app.req('POST', '/guid', { guid: GUID, user, expire: now + 10 })).status).toBe(201)
    expect((await app.req('POST', '/guid', { guid: OTHER_GUID, user, expire: now + 20 })).status).toBe(201)
    expect((await listPage(app.req, user)).items.map((i) => i.guid)).toEqual([OTHER_GUID, GUID])
    app.clock.advance(10_000)
    expect((await listPage(app.req, user)).items.map((i) => i.guid)).toEqual([OTHER_GUID])
    app.clock.advance(10_000)
    expect((await listPage(app.req, user)).items).toEqual([])
  })

  test('users are matched exactly: no trimming, no case folding, no prefix', async () => {
    const user = freshUser()
    for (const u of [user, ` ${user}`, user.toUpperCase(), `${user}x`]) expect((await app.req('POST', '/guid', { user: u })).status).toBe(201)
    expect((await listPage(app.req, user)).items).toHaveLength(1)
  })

  test('limit 1000 is accepted; a page is never longer than its limit', async () => {
    const user = freshUser()
    for (let i = 0; i < 3; i++) await app.req('POST', '/guid', { user })
    expect((await listPage(app.req, user, 1000)).items).toHaveLength(3)
    const one = await listPage(app.req, user, 1)
    expect(one.items).toHaveLength(1)
    expect(one.next).not.toBeNull()
  })
})
