import { createHash } from 'node:crypto'

/**
 * Lua scripts, called by SHA and sent whole (EVAL, which caches them) on NOSCRIPT: a Redis
 * restart, a failover, or, on a cluster, the first call that reaches a node. Each runs
 * atomically on the server; on a cluster every key of one call must hash to one slot.
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
 * The journaled writes of one event-loop turn, in one call (one round trip, one script run):
 * for each entry in order, exactly what one write's script did on its own: refuse it when the
 * journal holds max-length entries or more; compare-and-set on the GUID's version; then the
 * new state (kept until EXAT, past its expire: see RedisTier), the journal entry and the
 * invalidation. Entries are independent: one refused or failed does not stop the next, as
 * separate calls would not (a GUID has at most one write in flight per instance: its actor).
 * KEYS: journal, then each entry's guid key. ARGV: max journal length, invalidation channel,
 * then per entry: prevVersion, encoded state, keep-until (unix s), invalidation message,
 * state JSON (the journal entry).
 * After every entry's five: per entry whose Idempotency-Key answer goes with it, four more:
 * its entry number (1-based), the answer's key, the answer, keep-until (unix s); the answer
 * is written only when the entry's write is.
 * Returns per entry {1, entry id} | {0, current version} (CAS lost) | {-1, journal length}
 * (lag bound) | {-2, error} (Redis refused a command: the entry's own failure).
 */
export const JOURNAL_WRITE_BATCH = `${CURRENT_VERSION}
local max = tonumber(ARGV[1])
local length = redis.call('XLEN', KEYS[1])
local results = {}
local keeps = {}
for j = 3 + (#KEYS - 1) * 5, #ARGV, 4 do keeps[tonumber(ARGV[j])] = j end
for i = 2, #KEYS do
  local a = 3 + (i - 2) * 5
  local key = KEYS[i]
  if length >= max then
    results[#results + 1] = {-1, length}
  else
    local version = current_version(key)
    if version ~= tonumber(ARGV[a]) then
      results[#results + 1] = {0, version}
    else
      local set = redis.pcall('SET', key, ARGV[a + 1], 'EXAT', ARGV[a + 2])
      local id = set
      if type(set) ~= 'table' or not set.err then id = redis.pcall('XADD', KEYS[1], '*', 'm', ARGV[a + 4]) end
      if type(id) == 'table' and id.err then
        results[#results + 1] = {-2, id.err}
      else
        length = length + 1
        local published = redis.pcall('PUBLISH', ARGV[2], ARGV[a + 3])
        local k = keeps[i - 1]
        if k and not (type(published) == 'table' and published.err) then published = redis.pcall('SET', ARGV[k + 1], ARGV[k + 2], 'EXAT', ARGV[k + 3]) end
        if type(published) == 'table' and published.err then results[#results + 1] = {-2, published.err}
        else results[#results + 1] = {1, id} end
      end
    end
  end
end
return results
`

/**
 * The same on a Redis Cluster: the invalidation goes out with SPUBLISH on the partition's
 * channel, which shares the partition's hash tag (a script may only touch its own slot).
 */
export const JOURNAL_WRITE_BATCH_SHARDED = JOURNAL_WRITE_BATCH.replace("redis.pcall('PUBLISH'", "redis.pcall('SPUBLISH'")
if (JOURNAL_WRITE_BATCH_SHARDED === JOURNAL_WRITE_BATCH) throw new Error('the journal script publishes no invalidation to shard')

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

/** What a script call needs of a connection: one server's client, or a cluster's (routed by the first key). */
export interface ScriptClient {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
}

/**
 * Claims an Idempotency-Key: answers what holds it (a claim or a kept answer), or, when
 * nothing does, sets the caller's claim for its lease and answers nil.
 * KEYS: the key's Redis key. ARGV: the claim value, lease (ms).
 */
export const IDEMPOTENCY_CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`

/** Deletes KEYS[1] only while it still holds ARGV[1] (the caller's own claim). */
export const DELETE_IF_EQUAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

export class Script {
  readonly sha: string
  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run(client: ScriptClient, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await client.evalSha(this.sha, { keys, arguments: args })
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      return client.eval(this.source, { keys, arguments: args })
    }
  }
}
