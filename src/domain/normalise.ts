import { ServiceError } from './errors'

const PLAIN = /^[0-9a-fA-F]{32}$/
const HYPHENATED = /^\{?([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})\}?$/

/** True when `input` is already canonical: the common case, checked without a regex or a copy. */
const isCanonical = (input: string): boolean => {
  for (let i = 0; i < 32; i++) {
    const c = input.charCodeAt(i)
    // 0-9 or A-F
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70))) return false
  }
  return true
}

/** The canonical form of a GUID (32 uppercase hex digits), or null when the input is not a GUID. */
export const canonicalGuid = (input: string): string | null => {
  if (input.length === 32) return isCanonical(input) ? input : PLAIN.test(input) ? input.toUpperCase() : null
  const m = HYPHENATED.exec(input)
  if (!m) return null
  // Braces come in pairs: "{...}" or none at all.
  if (input.startsWith('{') !== input.endsWith('}')) return null
  return (m[1]! + m[2]! + m[3]! + m[4]! + m[5]!).toUpperCase()
}

export const normaliseGuid = (input: string, path = 'guid'): string => {
  const guid = canonicalGuid(input)
  if (guid === null) {
    const message = 'guid must be 32 hexadecimal digits or the hyphenated 8-4-4-4-12 form, optionally in braces'
    throw new ServiceError('invalid-guid', message, { errors: [{ path, message }] })
  }
  return guid
}

/** 128 random bits from the CSPRNG, canonical form. */
export const generateGuid = (): string => crypto.randomUUID().replaceAll('-', '').toUpperCase()
