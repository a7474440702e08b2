import { describe, expect, test } from 'bun:test'
import { eventually } from '../support/eventually'
import { expectProblem } from '../support/http'
import { feedContract, page } from '../support/feed-contract'
import { redisAppSuite } from '../support/redis-app'

const redis = redisAppSuite('Redis mode change feed')

describe.skipIf(!redis.enabled)('change feed, Redis mode, two instances', () => {
  feedContract(async () => {
    const first = await redis.app()
    const second = await redis.app({ like: first })
    return { a: first.app, b: second.app }
  })

  test('each change is appended to the events stream by the write script itself', async () => {
    const { app, keys } = await redis.app()
    const res = await app.req('POST', '/guid', { user: 'streamed' })
    const entries = await redis.client.xRange(keys.events, '-', '+')
    expect(entries).toHaveLength(1)
    const { guid, expire } = await res.json()
    expect(entries![0]!.message).toEqual({ t: 'created', g: guid, v: res.headers.get('etag')!.replaceAll('"', ''), e: String(expire), u: 'streamed' })
    expect((await page(app)).items[0]!.id).toBe(entries![0]!.id)
  })

  test('a user with any character (separators, newlines, emoji) comes back as written', async () => {
    const { app } = await redis.app()
    const user = 'a|b:c\nd "e" \u{1F600} 7:x|'
    const res = await app.req('POST', '/guid', { user })
    expect(res.status).toBe(201)
    const [event] = (await page(app)).items
    expect(event?.record?.user).toBe(user)
    await app.req('DELETE', `/guid/${event!.guid}`)
    expect((await page(app, `?user=${encodeURIComponent(user)}`)).items.map((e) => e.type)).toEqual(['created', 'deleted'])
  })

  test('410 once the stream has been trimmed past a position; a position at or after the trim stays valid', async () => {
    const writer = await redis.app()
    for (const user of ['a', 'b']) await writer.app.req('POST', '/guid', { user })
    // The trim goes by the stream ids' milliseconds (Redis' clock): the third event must fall in a
    // later millisecond than the second, or the trim below keeps the second too (seen in CI).
    const second = Number((await page(writer.app)).items[1]!.id.split('-')[0])
    await eventually("Redis is past the second event's millisecond", async () => {
      const [seconds, micros] = (await redis.client.sendCommand(['TIME'])) as [string, string]
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) > second
    })
    await writer.app.req('POST', '/guid', { user: 'c' })
    const ids = (await page(writer.app)).items.map((e) => e.id)
    // Once the first two outlive EVENTS_RETENTION_SECONDS, the trim removes them.
    writer.app.clock.set(Number(ids[2]!.split('-')[0]) + writer.app.config.EVENTS_RETENTION_SECONDS * 1000)
    expect(await writer.app.runtime.feed!.hub.log.trim()).toBe(2)
    // An instance started since holds none of them in memory: it answers from the stream.
    const { app } = await redis.app({ like: writer })
    await expectProblem(await app.req('GET', `/events?after=${ids[0]}`, undefined, { accept: 'application/json' }), 410, 'position-gone')
    await expectProblem(await app.req('GET', `/events?after=${ids[0]}`), 410, 'position-gone')
    expect((await page(app, `?after=${ids[1]}`)).items.map((e) => e.id)).toEqual([ids[2]!])
    expect((await page(app)).items.map((e) => e.id)).toEqual([ids[2]!])
  })

  test('the expiry list follows the state: a tombstone or an expiry removes the GUID', async () => {
    const { app, keys } = await redis.app()
    const res = await app.req('POST', '/guid', { user: 'z' })
    const { guid, expire } = await res.json()
    expect(await redis.client.zScore(keys.expiries, guid)).toBe(expire)
    await app.req('DELETE', `/guid/${guid}`)
    expect(await redis.client.zScore(keys.expiries, guid)).toBeNull()
  })
})
