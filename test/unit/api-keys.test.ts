import { describe, expect, test } from 'bun:test'
import { ApiKeys, NO_CREDENTIALS, WRONG_KEY } from '../../src/http/api-keys'

const KEY_A = 'alpha-key-0123456789'
const KEY_B = 'bravo.key~+/AZ09=='

describe('ApiKeys.verify', () => {
  const keys = new ApiKeys([KEY_A, KEY_B])

  test('a configured key is accepted, naming which one', () => {
    expect(keys.verify(`Bearer ${KEY_A}`)).toBe(0)
    expect(keys.verify(`Bearer ${KEY_B}`)).toBe(1)
  })

  test('the scheme is case-insensitive (RFC 7235) and surrounding blanks are ignored', () => {
    expect(keys.verify(`bearer ${KEY_A}`)).toBe(0)
    expect(keys.verify(`BEARER ${KEY_A}  `)).toBe(0)
  })

  test.each([
    ['no header', null],
    ['an empty header', ''],
    ['another scheme', `Basic ${btoa('user:pass')}`],
    ['a bare key', KEY_A],
    ['the scheme alone', 'Bearer'],
  ])('%s is no credentials', (_name, header) => {
    expect(keys.verify(header)).toBe(NO_CREDENTIALS)
  })

  test.each([
    ['a wrong key', 'Bearer not-a-key'],
    ['a prefix of a key', `Bearer ${KEY_A.slice(0, -1)}`],
    ['a key plus a character', `Bearer ${KEY_A}x`],
    ['a key in another case', `Bearer ${KEY_A.toUpperCase()}`],
    ['an empty key', 'Bearer  '],
  ])('%s is a wrong key', (_name, header) => {
    expect(keys.verify(header)).toBe(WRONG_KEY)
  })

  test('keeps digests, not keys', () => {
    expect(JSON.stringify(keys)).not.toContain(KEY_A)
    expect(Object.values(keys).some((v) => typeof v === 'string' && v.includes(KEY_A))).toBe(false)
  })
})

describe('ApiKeys.replace', () => {
  test('swaps the whole set: old keys stop working, new ones start', () => {
    const keys = new ApiKeys([KEY_A])
    keys.replace([KEY_B])
    expect(keys.verify(`Bearer ${KEY_A}`)).toBe(WRONG_KEY)
    expect(keys.verify(`Bearer ${KEY_B}`)).toBe(0)
    expect(keys.size).toBe(1)
  })

  test('an empty set admits no one', () => {
    const keys = new ApiKeys([])
    expect(keys.verify(`Bearer ${KEY_A}`)).toBe(WRONG_KEY)
  })

  test('duplicates count once', () => {
    expect(new ApiKeys([KEY_A, KEY_A]).size).toBe(1)
  })
})

describe('ApiKeys.idOf', () => {
  test('is stable across reloads, differs per key and does not contain the key', () => {
    const keys = new ApiKeys([KEY_A, KEY_B])
    const a = keys.idOf(keys.verify(`Bearer ${KEY_A}`))
    const b = keys.idOf(keys.verify(`Bearer ${KEY_B}`))
    expect(a).not.toBe(b)
    expect(a).toMatch(/^key:[0-9a-f]{16}$/)
    expect(a).not.toContain(KEY_A)
    keys.replace([KEY_B, KEY_A])
    expect(keys.idOf(keys.verify(`Bearer ${KEY_A}`))).toBe(a)
  })
})
