import type { RedisClient } from './client'

/**
 * Lua scripts, loaded once and called by SHA (re-sent on NOSCRIPT, e.g. after a Redis
 * restart). Each runs atomically on the server.
 */

/**
 * Version of the state held at KEYS[1] (src/redis/state.ts: `<version>:<JSON>`), read from its
 * prefix without parsing the JSON: 0 when there is none, or only the absent marker.
 */
const CURRENT_VERSION = `
local function current_version(key)
  local cur = redis.call('GET', key)
  if not cur then return 0 end
  local version = tonumber(string.match(cur, '^(%d+):'))
  if version then return version end
  -- A value written before the version prefix (a rolling upgrade): its JSON's version.
  local ok, state = pcall(cjson.decode, cur)
  if ok and type(state) == 'table' and tonumber(state.version) then return tonumber(state.version) end
  return 0
end
`

/**
 * The journaled write: compare-and-set on the GUID's version, then the new state (kept until
 * EXAT, past its expire: see RedisTier), the journal entry and the invalidation, all or nothing.
 * KEYS: guid key, journal. ARGV: prevVersion, encoded state, keep-until (unix s), max journal
 * length, invalidation channel, invalidation message, state JSON (the journal entry).
 * Returns {1, entry id} | {0, current version} (CAS lost) | {-1, journal length} (lag bound).
 */
export const JOURNAL_WRITE = `${CURRENT_VERSION}
local length = redis.call('XLEN', KEYS[2])
if length >= tonumber(ARGV[4]) then return {-1, length} end
local version = current_version(KEYS[1])
if version ~= tonumber(ARGV[1]) then return {0, version} end
redis.call('SET', KEYS[1], ARGV[2], 'EXAT', ARGV[3])
local id = redis.call('XADD', KEYS[2], '*', 'm', ARGV[7])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {1, id}
`

/**
 * A read-path fill: store the state only if it is newer than what Redis holds, so a fill
 * from a lagging store never overwrites a newer journaled write.
 * KEYS: guid key. ARGV: encoded state, version, keep-until (unix s). Returns 1 when set.
 */
export const FILL_IF_NEWER = `${CURRENT_VERSION}
if tonumber(ARGV[2]) > current_version(KEYS[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[3])
  return 1
end
return 0
`

export class Script {
  private sha: string | null = null
  constructor(private readonly source: string) {}

  async run(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    if (this.sha === null) this.sha = await client.scriptLoad(this.source)
    try {
      return await client.evalSha(this.sha, { keys, arguments: args })
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      this.sha = await client.scriptLoad(this.source)
      return client.evalSha(this.sha, { keys, arguments: args })
    }
  }
}
