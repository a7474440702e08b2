import { invalid } from './errors'
import { MAX_EXPIRE } from './model'

const DIGITS = /^[0-9]{1,12}$/
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** Unix seconds of an RFC 3339 date-time, or null when it is not one (including 2024-02-30 and the like). */
const parseRfc3339 = (text: string): number | null => {
  const m = RFC3339.exec(text)
  if (!m) return null
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const wall = Date.UTC(year, month - 1, day, hour, minute, second)
  const d = new Date(wall)
  // Date.UTC rolls over out-of-range fields; a real date-time survives the round trip.
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || d.getUTCHours() !== hour || d.getUTCMinutes() !== minute || d.getUTCSeconds() !== second) return null
  const zone = m[8]!
  let offsetMinutes = 0
  if (zone !== 'Z' && zone !== 'z') {
    const hours = Number(zone.slice(1, 3))
    const minutes = Number(zone.slice(4, 6))
    if (hours > 23 || minutes > 59) return null
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes)
  }
  // Fractions of a second are dropped: expire is whole seconds.
  return Math.floor(wall / 1000) - offsetMinutes * 60
}

/**
 * `expire` as the client sent it (integer, digit string or RFC 3339) to Unix seconds,
 * checked to lie in the future (after `nowSec`) and no later than 9999-12-31T23:59:59Z.
 */
export const parseExpire = (input: number | string, nowSec: number): number => {
  let seconds: number | null
  if (typeof input === 'number') seconds = Number.isSafeInteger(input) ? input : null
  else if (DIGITS.test(input)) seconds = Number(input)
  else seconds = parseRfc3339(input)
  if (seconds === null) throw invalid('/expire', 'expire must be Unix seconds (integer or digit string) or an RFC 3339 date-time with offset')
  if (seconds <= nowSec) throw invalid('/expire', `expire must lie in the future (now is ${nowSec})`)
  if (seconds > MAX_EXPIRE) throw invalid('/expire', `expire must be no later than ${MAX_EXPIRE} (9999-12-31T23:59:59Z)`)
  return seconds
}
