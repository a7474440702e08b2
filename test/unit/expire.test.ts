import { describe, expect, test } from 'bun:test'
import { ServiceError } from '../../src/domain/errors'
import { parseExpire } from '../../src/domain/expire'
import { MAX_EXPIRE } from '../../src/domain/model'

/** 2026-01-01T00:00:00Z */
const NOW = 1767225600

const rejects = (input: number | string, now = NOW): ServiceError => {
  try {
    parseExpire(input, now)
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError)
    return error as ServiceError
  }
  throw new Error(`parseExpire(${JSON.stringify(input)}) did not throw`)
}

describe('parseExpire', () => {
  test.each([
    ['an integer', 1893456000, 1893456000],
    ['a digit string', '1893456000', 1893456000],
    ['a digit string with leading zeros', '01893456000', 1893456000],
    ['RFC 3339 with Z', '2030-01-01T00:00:00Z', 1893456000],
    ['RFC 3339 with lowercase t and z', '2030-01-01t00:00:00z', 1893456000],
    ['RFC 3339 with a space for T', '2030-01-01 00:00:00Z', 1893456000],
    ['RFC 3339 with +02:00', '2030-01-01T02:00:00+02:00', 1893456000],
    ['RFC 3339 with -08:00', '2029-12-31T16:00:00-08:00', 1893456000],
    ['RFC 3339 with +00:00', '2030-01-01T00:00:00+00:00', 1893456000],
    ['RFC 3339 with -00:00', '2030-01-01T00:00:00-00:00', 1893456000],
    ['RFC 3339 with +05:45', '2030-01-01T05:45:00+05:45', 1893456000],
    ['RFC 3339 with a fraction, dropped', '2030-01-01T00:00:00.75Z', 1893456000],
    ['a leap day', '2028-02-29T00:00:00Z', 1835395200],
    ['one second after now', NOW + 1, NOW + 1],
    ['the maximum', MAX_EXPIRE, MAX_EXPIRE],
    ['the maximum as RFC 3339', '9999-12-31T23:59:59Z', MAX_EXPIRE],
  ])('accepts %s', (_name, input, expected) => {
    expect(parseExpire(input, NOW)).toBe(expected)
  })

  test.each([
    ['now', NOW],
    ['one second before now', NOW - 1],
    ['zero', 0],
    ['negative', -5],
    ['now as a digit string', String(NOW)],
    ['past RFC 3339', '2025-12-31T23:59:59Z'],
    ['now as RFC 3339 with an offset', '2026-01-01T01:00:00+01:00'],
  ])('rejects %s: not in the future', (_name, input) => {
    const error = rejects(input)
    expect(error.kind).toBe('validation')
    expect(error.details.errors?.[0]?.path).toBe('/expire')
  })

  test.each([
    ['one past the maximum', MAX_EXPIRE + 1],
    ['one past the maximum as digits', String(MAX_EXPIRE + 1)],
    ['past the maximum through an offset', '9999-12-31T23:59:59-00:01'],
    ['an unsafe integer', 2 ** 60],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('rejects %s', (_name, input) => {
    expect(rejects(input).kind).toBe('validation')
  })

  test.each([
    ['February 30th', '2030-02-30T00:00:00Z'],
    ['February 29th of a common year', '2029-02-29T00:00:00Z'],
    ['month 13', '2030-13-01T00:00:00Z'],
    ['hour 24', '2030-01-01T24:00:00Z'],
    ['minute 60', '2030-01-01T00:60:00Z'],
    ['no offset', '2030-01-01T00:00:00'],
    ['a date only', '2030-01-01'],
    ['offset without colon', '2030-01-01T00:00:00+0200'],
    ['offset hours 24', '2030-01-01T00:00:00+24:00'],
    ['offset minutes 60', '2030-01-01T00:00:00+01:60'],
    ['text', 'abc'],
    ['empty', ''],
    ['a signed digit string', '+1893456000'],
    ['a decimal string', '1893456000.5'],
    ['a digit string with spaces', ' 1893456000 '],
    ['an exponent', '1e10'],
  ])('rejects %s', (_name, input) => {
    expect(rejects(input).kind).toBe('validation')
  })
})
