import { describe, expect, test } from 'bun:test'
import { authRequired, loadKeys, parseKeyFile } from '../../src/runtime/key-source'
import { ConfigError } from '../../src/runtime/config'

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('did not throw')
}

describe('parseKeyFile', () => {
  test('one key a line; blanks, comments and surrounding spaces ignored; CRLF accepted', () => {
    expect(parseKeyFile('# keys for guidd\n\n  key-one  \r\nkey-two==\n# retired: key-zero\n', 'k')).toEqual(['key-one', 'key-two=='])
  })

  test('a bad line is named by its number, never by its content', () => {
    const problems = problemsOf(() => parseKeyFile('good-key\nhas a space in-it\nok\nbad"quote\n', '/etc/guidd/keys'))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toContain('line 2, 4')
    expect(problems[0]).toContain('/etc/guidd/keys')
    expect(problems[0]).not.toContain('in-it')
    expect(problems[0]).not.toContain('quote')
  })
})

describe('loadKeys', () => {
  test('API_KEYS alone: comma-separated, trimmed', () => {
    expect(loadKeys({ API_KEYS: ' a1, b2 ,c3' })).toEqual(['a1', 'b2', 'c3'])
  })

  test('API_KEYS and API_KEYS_FILE together', () => {
    expect(loadKeys({ API_KEYS: 'env-key', API_KEYS_FILE: '/keys' }, (path) => (path === '/keys' ? 'file-key\n' : ''))).toEqual(['env-key', 'file-key'])
  })

  test('an unreadable file is a configuration error naming the file, not a silent open service', () => {
    const problems = problemsOf(() =>
      loadKeys({ API_KEYS_FILE: '/nope' }, () => {
        throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' })
      }),
    )
    expect(problems[0]).toContain('/nope')
    expect(problems[0]).toContain('ENOENT')
  })
})

describe('authRequired', () => {
  test('when either source is set, even if the file turns out empty', () => {
    expect(authRequired({})).toBe(false)
    expect(authRequired({ API_KEYS: 'k' })).toBe(true)
    expect(authRequired({ API_KEYS_FILE: '/keys' })).toBe(true)
  })
})
