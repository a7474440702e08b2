import { describe, expect, test } from 'bun:test'
import { etagOf, ifMatchHolds, noneMatchFails } from '../../src/domain/etag'

describe('etagOf', () => {
  test('is the version, quoted, strong', () => {
    expect(etagOf(1)).toBe('"1"')
    expect(etagOf(42)).toBe('"42"')
  })

  test('spells an incarnation-sized version in full digits, never in exponent form', () => {
    expect(etagOf(1_767_225_600_000_001)).toBe('"1767225600000001"')
    expect(etagOf(Number.MAX_SAFE_INTEGER)).toBe('"9007199254740991"')
  })
})

/** Versions as the service makes them: creation second * 1e6 + n (src/guid/model.ts). */
const V = 1_767_225_600_000_003

describe('comparisons of incarnation-sized versions', () => {
  test.each([
    ['the same tag', `"${V}"`, true],
    ['the previous version', `"${V - 1}"`, false],
    ['the next version', `"${V + 1}"`, false],
    ['an earlier incarnation (one second before)', `"${V - 1_000_000}"`, false],
    ['the same number in exponent form', '"1.767225600000003e15"', false],
    ['the same number with a leading zero', `"0${V}"`, false],
    ['a prefix of the tag', `"${String(V).slice(0, -1)}"`, false],
    ['a list ending in it', `"${V - 1}", "${V}"`, true],
  ] as const)('If-Match %s: %p -> %p', (_name, header, expected) => {
    expect(ifMatchHolds(header, V)).toBe(expected)
  })

  test.each([
    ['the same tag', `"${V}"`, true],
    ['its weak form', `W/"${V}"`, true],
    ['the previous version', `"${V - 1}"`, false],
    ['the next version, weak', `W/"${V + 1}"`, false],
  ] as const)('If-None-Match %s: %p -> %p', (_name, header, expected) => {
    expect(noneMatchFails(header, V)).toBe(expected)
  })
})

describe('ifMatchHolds (strong comparison)', () => {
  test.each([
    ['the same tag', '"3"', 3, true],
    ['another tag', '"2"', 3, false],
    ['a prefix of the tag', '"1"', 12, false],
    ['the weak form of the tag', 'W/"3"', 3, false],
    ['a list containing it', '"1", "3", "5"', 3, true],
    ['a list containing it without spaces', '"1","3"', 3, true],
    ['a list containing only its weak form', '"1", W/"3"', 3, false],
    ['a list without it', '"1", "2"', 3, false],
    ['*', '*', 3, true],
    ['* with spaces', ' * ', 3, true],
    ['an unquoted tag', '3', 3, false],
    ['an empty header', '', 3, false],
    ['garbage', 'xyz', 3, false],
  ] as const)('%s: %p against version %d -> %p', (_name, header, version, expected) => {
    expect(ifMatchHolds(header, version)).toBe(expected)
  })

  test.each(['*', '"1"', '"1", "2"'])('never holds for an absent record: %p', (header) => {
    expect(ifMatchHolds(header, null)).toBe(false)
  })

  test('a header that parsed once does not disturb the next parse', () => {
    expect(ifMatchHolds('"1", "2", "3"', 3)).toBe(true)
    expect(ifMatchHolds('"3"', 3)).toBe(true)
  })
})

describe('noneMatchFails (weak comparison)', () => {
  test.each([
    ['the same tag', '"3"', 3, true],
    ['the weak form of the tag', 'W/"3"', 3, true],
    ['another tag', '"2"', 3, false],
    ['another weak tag', 'W/"2"', 3, false],
    ['a list containing it', '"1", "3"', 3, true],
    ['a list containing its weak form', '"1", W/"3"', 3, true],
    ['a list without it', '"1", W/"2"', 3, false],
    ['*', '*', 3, true],
    ['garbage', 'nonsense', 3, false],
  ] as const)('%s: %p against version %d -> %p', (_name, header, version, expected) => {
    expect(noneMatchFails(header, version)).toBe(expected)
  })

  test.each(['*', '"1"', 'W/"1"'])('never fails for an absent record: %p', (header) => {
    expect(noneMatchFails(header, null)).toBe(false)
  })
})
