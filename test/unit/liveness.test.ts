import { describe, expect, test } from 'bun:test'
import type { RedisConnection } from '../../src/adapters/redis/client'
import { LIVENESS_TTL_MS, Liveness } from '../../src/adapters/redis/liveness'

/** The three commands Liveness sends, over a Map; `down` makes every one fail as a lost node would. */
const fakeRedis = () => {
  const keys = new Map<string, { px: number }>()
  const calls: string[] = []
  const fake = {
    down: false,
    keys,
    calls,
    async set(key: string, _value: string, o: { PX: number }) {
      if (fake.down) throw new Error('connection lost')
      keys.set(key, { px: o.PX })
      return 'OK'
    },
    async del(key: string) {
      if (fake.down) throw new Error('connection lost')
      return keys.delete(key) ? 1 : 0
    },
    async exists(key: string) {
      calls.push(key)
      if (fake.down) throw new Error('connection lost')
      return keys.has(key) ? 1 : 0
    },
  }
  return fake
}

const keys = { alive: (consumer: string) => `t:alive:${consumer}` }

describe('Liveness', () => {
  test('start writes the key with the TTL; stop deletes it', async () => {
    const redis = fakeRedis()
    const liveness = new Liveness({ client: redis as unknown as RedisConnection, keys, consumer: 'me' })
    await liveness.start()
    expect(redis.keys.get('t:alive:me')).toEqual({ px: LIVENESS_TTL_MS })
    await liveness.stop()
    expect(redis.keys.has('t:alive:me')).toBe(false)
  })

  test('another consumer is alive while its key is there; the answer is reused for a second (every partition asks)', async () => {
    const redis = fakeRedis()
    const liveness = new Liveness({ client: redis as unknown as RedisConnection, keys, consumer: 'me' })
    redis.keys.set('t:alive:other', { px: LIVENESS_TTL_MS })
    expect(await liveness.alive('other')).toBe(true)
    expect(await liveness.alive('gone')).toBe(false)
    expect(await liveness.alive('gone')).toBe(false)
    expect(redis.calls).toEqual(['t:alive:other', 't:alive:gone'])
    expect(await liveness.alive('me')).toBe(true)
  })

  test('when Redis cannot tell, a consumer counts as alive (its entries wait for JOURNAL_CLAIM_IDLE_MS)', async () => {
    const redis = fakeRedis()
    const liveness = new Liveness({ client: redis as unknown as RedisConnection, keys, consumer: 'me' })
    redis.down = true
    expect(await liveness.alive('unknown')).toBe(true)
    redis.down = false
    // Not remembered: the next question asks Redis again.
    expect(await liveness.alive('unknown')).toBe(false)
  })
})
