import { describe, expect, test } from 'bun:test'
import { Config, ConfigError, loadConfig } from '../../src/runtime/config'

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error(`loadConfig(${JSON.stringify(env)}) did not throw`)
}

describe('loadConfig', () => {
  test('defaults for an empty environment', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      PORT: 8888,
      HOST: '0.0.0.0',
      MONGODB_DB: 'guidd',
      DEFAULT_TTL_SECONDS: 2_592_000,
      LRU_MAX_ENTRIES: 100_000,
      FLUSH_BATCH_MAX: 500,
      FLUSH_INTERVAL_MS: 100,
      JOURNAL_MAX_LAG: 100_000,
      LOG_LEVEL: 'info',
      SQLITE_SYNCHRONOUS: 'NORMAL',
      SQLITE_CACHE_MIB: 32,
    })
    expect(config.REDIS_URL).toBeUndefined()
    expect(config.MONGODB_URL).toBeUndefined()
    expect(config.API_KEYS).toBeUndefined()
  })

  test('converts numbers and keeps strings', () => {
    const config = loadConfig({ PORT: '0', LRU_MAX_ENTRIES: '0', SQLITE_PATH: '/tmp/x.sqlite', LOG_LEVEL: 'debug', REDIS_URL: 'redis://localhost:6379', MONGODB_URL: 'mongodb+srv://h/db' })
    expect(config).toMatchObject({ PORT: 0, LRU_MAX_ENTRIES: 0, SQLITE_PATH: '/tmp/x.sqlite', LOG_LEVEL: 'debug', REDIS_URL: 'redis://localhost:6379', MONGODB_URL: 'mongodb+srv://h/db' })
  })

  test('an empty string counts as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '' })).toMatchObject({ PORT: 8888, LOG_LEVEL: 'info' })
  })

  test('ignores variables it does not know', () => {
    expect(() => loadConfig({ PATH: '/usr/bin', HOME: '/root' })).not.toThrow()
  })

  test('names every bad variable at once', () => {
    const problems = problemsOf({ PORT: 'abc', LRU_MAX_ENTRIES: '-1', LOG_LEVEL: 'loud' })
    expect(problems).toHaveLength(3)
    expect(problems.find((p) => p.startsWith('PORT='))).toContain('"abc"')
    expect(problems.find((p) => p.startsWith('LRU_MAX_ENTRIES='))).toContain('>= 0')
    expect(problems.find((p) => p.startsWith('LOG_LEVEL='))).toContain('info')
  })

  test('the error message lists every problem', () => {
    try {
      loadConfig({ PORT: 'abc', LRU_MAX_ENTRIES: '-1', LOG_LEVEL: 'loud' })
      throw new Error('did not throw')
    } catch (error) {
      const message = (error as Error).message
      for (const name of ['PORT', 'LRU_MAX_ENTRIES', 'LOG_LEVEL']) expect(message).toContain(name)
    }
  })

  test.each([
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', 'true'],
    ['LRU_MAX_ENTRIES', '1e3'],
    ['DEFAULT_TTL_SECONDS', '0'],
    ['COMMIT_WINDOW_MS', '101'],
    ['COMMIT_BATCH_MAX', '0'],
    ['FLUSH_BATCH_MAX', 'many'],
    ['JOURNAL_MAX_LAG', '0'],
    ['REDIS_URL', 'localhost:6379'],
    ['MONGODB_URL', 'http://mongo'],
    ['SQLITE_SYNCHRONOUS', 'OFF'],
    ['SQLITE_CACHE_MIB', '0'],
    ['SQLITE_CACHE_MIB', '65537'],
    ['LOG_LEVEL', 'INFO'],
    ['API_KEYS', 'has space'],
    ['API_KEYS', ','],
    ['AUTH_OPS_ENDPOINTS', 'yes'],
    ['TRUST_PROXY', '1'],
    ['RATE_LIMIT_BURST', '0'],
    ['MAX_HEADER_BYTES', '16385'],
    ['IDLE_TIMEOUT_SECONDS', '0'],
    ['IDLE_TIMEOUT_SECONDS', '256'],
    ['CORS_ORIGINS', 'https://app.example/path'],
    ['CORS_ORIGINS', 'app.example'],
    ['LOG_SAMPLE_2XX', '1.5'],
    ['LOG_SAMPLE_2XX', '-0.1'],
    ['LOG_SAMPLE_2XX', '1e-2'],
    ['LOG_SAMPLE_2XX', '.5'],
    ['LOG_SAMPLE_2XX', 'half'],
  ])('rejects %s=%s', (name, value) => {
    const problems = problemsOf({ [name]: value })
    expect(problems).toHaveLength(1)
    expect(problems[0]).toStartWith(`${name}=`)
  })

  test("the operations settings default to open, unlimited, with a 10 s timeout and Bun's own header limit", () => {
    expect(loadConfig({})).toMatchObject({
      AUTH_OPS_ENDPOINTS: false,
      RATE_LIMIT_PER_SECOND: 0,
      RATE_LIMIT_BURST: 100,
      RATE_LIMIT_CLIENTS: 100_000,
      TRUST_PROXY: false,
      REQUEST_TIMEOUT_MS: 10_000,
      MAX_HEADER_BYTES: 0,
      IDLE_TIMEOUT_SECONDS: 10,
    })
    expect(loadConfig({}).API_KEYS_FILE).toBeUndefined()
    expect(loadConfig({}).CORS_ORIGINS).toBeUndefined()
  })

  test('booleans are the words true and false', () => {
    expect(loadConfig({ AUTH_OPS_ENDPOINTS: 'true', TRUST_PROXY: 'false' })).toMatchObject({ AUTH_OPS_ENDPOINTS: true, TRUST_PROXY: false })
  })

  test.each(['*', 'https://app.example', 'https://a.example, http://localhost:3000'])('accepts CORS_ORIGINS=%s', (value) => {
    expect(loadConfig({ CORS_ORIGINS: value }).CORS_ORIGINS).toBe(value)
  })

  test.each([
    ['0', 0],
    ['0.01', 0.01],
    ['0.5', 0.5],
    ['1', 1],
    ['1.0', 1],
  ])('LOG_SAMPLE_2XX=%s is a share of 2xx request lines, %p', (text, share) => {
    expect(loadConfig({ LOG_SAMPLE_2XX: text }).LOG_SAMPLE_2XX).toBe(share)
  })

  test('LOG_SAMPLE_2XX defaults to 1 (every line); a bad one says what it accepts', () => {
    expect(loadConfig({}).LOG_SAMPLE_2XX).toBe(1)
    expect(problemsOf({ LOG_SAMPLE_2XX: '2' })).toEqual(['LOG_SAMPLE_2XX=2: must be a number >= 0 and <= 1'])
  })

  test('every setting has a description (the help text and README are made of them)', () => {
    for (const [name, schema] of Object.entries(Config.properties)) expect(`${name}: ${(schema as { description?: string }).description ?? ''}`).toMatch(/^[A-Z_0-9]+: \S.{10,}$/)
  })

  test('a bad API_KEYS is reported without its value: keys must not reach logs', () => {
    const problems = problemsOf({ API_KEYS: 'top secret key' })
    expect(problems[0]).toStartWith('API_KEYS=(hidden)')
    expect(problems.join()).not.toContain('secret')
  })
})
