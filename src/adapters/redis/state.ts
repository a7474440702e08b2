import { checkStored, type Stored } from '../../domain/model'

/**
 * How a GUID's state is held in its Redis key: `<version>:<state JSON>`. The version comes
 * first so the Lua scripts read it with a pattern match and never parse user data (cjson
 * refuses some strings JSON allows, and a version misread as 0 would lose every
 * compare-and-set on that GUID forever).
 */
export const encodeState = (stored: Stored): string => `${stored.version}:${JSON.stringify(stored)}`

/** The state in a key's value, or undefined when it is not one (another shape, or damaged). */
export const decodeState = (raw: string): Stored | undefined => {
  // A value written before the version prefix (a rolling upgrade) is the JSON alone.
  const colon = raw.startsWith('{') ? -1 : raw.indexOf(':')
  let state: unknown
  try {
    state = JSON.parse(raw.slice(colon + 1))
  } catch {
    return undefined
  }
  // Validate what comes out of Redis as we do what comes in over HTTP.
  if (!checkStored.Check(state)) return undefined
  return colon === -1 || String(state.version) === raw.slice(0, colon) ? state : undefined
}
