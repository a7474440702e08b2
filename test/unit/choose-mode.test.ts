import { describe, expect, test } from 'bun:test'
import { loadConfig } from '../../src/runtime/config'
import { chooseMode } from '../../src/runtime/modes/choose'

const choose = (env: Record<string, string>) => chooseMode(loadConfig(env))
const REDIS = 'redis://127.0.0.1:6379'
const MONGO = 'mongodb://127.0.0.1:27017'

describe('the mode the configuration names', () => {
  test('neither URL: embedded on SQLite, LRU entries kept until evicted', () => {
    const choice = choose({ SQLITE_PATH: '/tmp/x.sqlite' })
    expect(choice.name).toBe('embedded')
    if (choice.name !== 'embedded') return
    expect(choice.options.sqlite).toEqual({ kind: 'sqlite', path: '/tmp/x.sqlite', synchronous: 'NORMAL', cacheMiB: expect.any(Number) })
    expect(choice.options.lruTtlMs).toBe(0)
  })

  test('REDIS_URL: Redis mode flushing to SQLite, or to MongoDB when MONGODB_URL is set too', () => {
    const sqlite = choose({ REDIS_URL: REDIS })
    const mongo = choose({ REDIS_URL: REDIS, MONGODB_URL: MONGO, MONGODB_DB: 'd' })
    expect(sqlite.name).toBe('redis')
    expect(mongo.name).toBe('redis')
    if (sqlite.name !== 'redis' || mongo.name !== 'redis') return
    expect(sqlite.options.store.kind).toBe('sqlite')
    expect(mongo.options.store).toEqual({ kind: 'mongodb', url: MONGO, dbName: 'd' })
    expect(sqlite.options.lruTtlMs).toBe(0)
  })

  test('MONGODB_URL alone: MongoDB-only, whose LRU entries live 1 s unless LRU_TTL_MS says otherwise', () => {
    const choice = choose({ MONGODB_URL: MONGO, MONGODB_WRITE_CONCERN: '2' })
    expect(choice.name).toBe('mongodb')
    if (choice.name !== 'mongodb') return
    expect(choice.options.lruTtlMs).toBe(1_000)
    expect(choice.options.writeConcern).toBe(2)
    const set = choose({ MONGODB_URL: MONGO, LRU_TTL_MS: '250' })
    expect(set.name === 'mongodb' && set.options.lruTtlMs).toBe(250)
  })
})
