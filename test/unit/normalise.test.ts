import { describe, expect, test } from 'bun:test'
import { ServiceError } from '../../src/domain/errors'
import { canonicalGuid, generateGuid, normaliseGuid } from '../../src/domain/normalise'

const CANONICAL = '9094E4C980C74043A4B586B420E69DDF'

describe('canonicalGuid', () => {
  test.each([
    CANONICAL,
    CANONICAL.toLowerCase(),
    '9094e4C980c74043A4b586B420e69DdF',
    '9094E4C9-80C7-4043-A4B5-86B420E69DDF',
    '9094e4c9-80c7-4043-a4b5-86b420e69ddf',
    '{9094e4c9-80c7-4043-a4b5-86b420e69ddf}',
    '{9094E4C9-80C7-4043-A4B5-86B420E69DDF}',
  ])('%s -> canonical', (input) => {
    expect(canonicalGuid(input)).toBe(CANONICAL)
  })

  test.each([
    ['empty', ''],
    ['31 digits', CANONICAL.slice(1)],
    ['33 digits', `${CANONICAL}0`],
    ['a non-hex digit', `G${CANONICAL.slice(1)}`],
    ['plain in braces', `{${CANONICAL}}`],
    ['an opening brace only', '{9094e4c9-80c7-4043-a4b5-86b420e69ddf'],
    ['a closing brace only', '9094e4c9-80c7-4043-a4b5-86b420e69ddf}'],
    ['parentheses', '(9094e4c9-80c7-4043-a4b5-86b420e69ddf)'],
    ['hyphens misplaced', '9094e4c980-c7-4043-a4b5-86b420e69ddf'],
    ['a hyphen missing', '9094e4c980c7-4043-a4b5-86b420e69ddf'],
    ['surrounding spaces', ` ${CANONICAL} `],
    ['a urn prefix', 'urn:uuid:9094e4c9-80c7-4043-a4b5-86b420e69ddf'],
    ['32 characters with hyphens', '9094e4c9-80c7-4043-a4b5-86b420e6'],
  ])('%s -> null', (_name, input) => {
    expect(canonicalGuid(input)).toBeNull()
  })
})

describe('normaliseGuid', () => {
  test('returns the canonical form', () => {
    expect(normaliseGuid('{9094e4c9-80c7-4043-a4b5-86b420e69ddf}')).toBe(CANONICAL)
  })

  test('throws a 400 invalid-guid naming the given path', () => {
    let caught: unknown
    try {
      normaliseGuid('nope', '/guid')
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ServiceError)
    const error = caught as ServiceError
    expect(error.kind).toBe('invalid-guid')
    expect(error.details.errors?.[0]?.path).toBe('/guid')
  })

  test('names the path parameter by default', () => {
    expect(() => normaliseGuid('nope')).toThrow(expect.objectContaining({ details: expect.objectContaining({ errors: [expect.objectContaining({ path: 'guid' })] }) }))
  })
})

describe('generateGuid', () => {
  test('is canonical', () => {
    for (let i = 0; i < 100; i++) {
      const guid = generateGuid()
      expect(guid).toMatch(/^[0-9A-F]{32}$/)
      expect(canonicalGuid(guid)).toBe(guid)
    }
  })

  test('does not repeat', () => {
    const seen = new Set(Array.from({ length: 10_000 }, generateGuid))
    expect(seen.size).toBe(10_000)
  })
})
