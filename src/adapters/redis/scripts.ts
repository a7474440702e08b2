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
 * The journaled writes of one event-loop turn to one partition, as a Lua function over its
 * own keys and arguments (one call of the single-slot script, or one partition's share of a
 * node's call): for each entry in order, exactly what one write's script did on its own:
 * refuse it when the journal holds max-length entries or more; compare-and-set on the GUID's
 * version; then the new state (kept until EXAT, past its expire: see RedisTier), the journal
 * entry and the invalidation; and for the change feed, the write's changes appended to the
 * events stream (TRIM_EVENTS trims it) and the GUID's expiry instant in the expiries sorted set
 * (a tombstone removes it), so the feed tells exactly the writes that took effect, in the order
 * they took it. Entries are independent: one refused or failed does not stop the next, as
 * separate calls would not (a GUID has at most one write in flight per instance: its actor).
 * keys: journal, events, expiries, then each entry's guid key. argv: max journal length,
 * invalidation channel, then per entry: prevVersion, encoded state,
 * keep-until (unix s), invalidation message, state JSON (the journal entry), changes
 * (encodeChanges: `<bytes>:<type>|<guid>|<version>|<expire>|<user>` each), expire (unix s; empty
 * for a tombstone).
 * After every entry's seven: per entry whose Idempotency-Key answer goes with it, four more:
 * its entry number (1-based), the answer's key, the answer, keep-until (unix s); the answer
 * is written only when the entry's write is.
 * Returns per entry {1, entry id} | {0, current version} (CAS lost) | {-1, journal length}
 * (lag bound) | {-2, error} (Redis refused a command: the entry's own failure).
 */
const WRITE_PARTITION = `
local function write_partition(keys, argv)
  local max = tonumber(argv[1])
  local length = redis.call('XLEN', keys[1])
  local results = {}
  local keeps = {}
  for j = 3 + (#keys - 3) * 7, #argv, 4 do keeps[tonumber(argv[j])] = j end
  for i = 4, #keys do
    local a = 3 + (i - 4) * 7
    local key = keys[i]
    if length >= max then
      results[#results + 1] = {-1, length}
    else
      local version = current_version(key)
      if version ~= tonumber(argv[a]) then
        results[#results + 1] = {0, version}
      else
        local set = redis.pcall('SET', key, argv[a + 1], 'EXAT', argv[a + 2])
        local id = set
        if type(set) ~= 'table' or not set.err then id = redis.pcall('XADD', keys[1], '*', 'm', argv[a + 4]) end
        if type(id) == 'table' and id.err then
          results[#results + 1] = {-2, id.err}
        else
          length = length + 1
          local failed = nil
          local changes = argv[a + 5]
          local at = 1
          while at <= #changes do
            local colon = string.find(changes, ':', at, true)
            local size = tonumber(string.sub(changes, at, colon - 1))
            local change = string.sub(changes, colon + 1, colon + size)
            at = colon + size + 1
            local t, g, v, e, u = string.match(change, '^(%a+)|(%x+)|(%d+)|(%d*)|(.*)$')
            local added = redis.pcall('XADD', keys[2], '*', 't', t, 'g', g, 'v', v, 'e', e, 'u', u)
            if type(added) == 'table' and added.err then failed = added.err end
          end
          local guid = string.match(argv[a + 4], '"guid":"(%x+)"')
          local expiry
          if argv[a + 6] == '' then expiry = redis.pcall('ZREM', keys[3], guid)
          else expiry = redis.pcall('ZADD', keys[3], argv[a + 6], guid) end
          if type(expiry) == 'table' and expiry.err then failed = expiry.err end
          local published = redis.pcall('PUBLISH', argv[2], argv[a + 3])
          if type(published) == 'table' and published.err then failed = published.err end
          local k = keeps[i - 3]
          if k and not failed then
            local kept = redis.pcall('SET', argv[k + 1], argv[k + 2], 'EXAT', argv[k + 3])
            if type(kept) == 'table' and kept.err then failed = kept.err end
          end
          if failed then results[#results + 1] = {-2, failed}
          else results[#results + 1] = {1, id} end
        end
      end
    end
  end
  return results
end
`

/** One partition's writes in one call: KEYS and ARGV as write_partition's keys and argv. */
export const JOURNAL_WRITE_BATCH = `${CURRENT_VERSION}${WRITE_PARTITION}
return write_partition(KEYS, ARGV)
`

/**
 * The same on a Redis Cluster: the invalidation goes out with SPUBLISH on the partition's
 * channel, which shares the partition's hash tag (a script may only touch its own slot).
 */
const SHARDED_PARTITION = WRITE_PARTITION.replace("redis.pcall('PUBLISH'", "redis.pcall('SPUBLISH'")
if (SHARDED_PARTITION === WRITE_PARTITION) throw new Error('the journal script publishes no invalidation to shard')
export const JOURNAL_WRITE_BATCH_SHARDED = `${CURRENT_VERSION}${SHARDED_PARTITION}
return write_partition(KEYS, ARGV)
`

/** The error a node's call answers when one of its keys is not served there now: nothing was written. */
export const NOT_LOCAL = 'GUIDDNOTLOCAL'

/**
 * A turn's writes to several partitions whose slots one master serves, in one call to that
 * master (Redis 7's `allow-cross-slot-keys`): each partition's share runs exactly as the
 * single-slot script would, one after the other, in one atomic run. Redis 7.0 refuses
 * declared keys of several slots (CROSSSLOT) even with the flag, so the keys travel in ARGV
 * and the call is sent to the master itself, picked from the client's slot map. Before any
 * write the script checks that every key is served here (a slot migrated or being migrated
 * away, or a stale slot map, answers "non local key"): if one is not, it writes nothing and
 * answers the error NOT_LOCAL, and the caller sends each partition on its own, which follows
 * MOVED and ASK.
 * No KEYS. ARGV: per partition: its key count, its argument count, its keys, its arguments
 * (as write_partition's keys and argv). Returns per partition, in order, write_partition's result.
 */
export const JOURNAL_WRITE_NODE = `#!lua flags=allow-cross-slot-keys
${CURRENT_VERSION}${SHARDED_PARTITION}
local parts = {}
local at = 1
while at <= #ARGV do
  local nkeys, nargs = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
  local keys, argv = {}, {}
  for j = 1, nkeys do keys[j] = ARGV[at + 1 + j] end
  for j = 1, nargs do argv[j] = ARGV[at + 1 + nkeys + j] end
  parts[#parts + 1] = {keys, argv}
  at = at + 2 + nkeys + nargs
end
-- One EXISTS per partition over all its keys (one slot): an error means a key is not served
-- here (MOVED, ASK or TRYAGAIN inside a script), and nothing has been written yet.
for _, part in ipairs(parts) do
  local keys, argv = part[1], part[2]
  local all = {}
  for j = 1, #keys do all[j] = keys[j] end
  for j = 3 + (#keys - 3) * 7, #argv, 4 do all[#all + 1] = argv[j + 1] end
  local found = redis.pcall('EXISTS', unpack(all))
  if type(found) == 'table' and found.err then return redis.error_reply('${NOT_LOCAL} ' .. keys[1] .. ': ' .. found.err) end
end
local results = {}
for _, part in ipairs(parts) do results[#results + 1] = write_partition(part[1], part[2]) end
return results
`

/**
 * The change feed follower's round over the partitions one master serves, in one call to that
 * master (as JOURNAL_WRITE_NODE: keys in ARGV, sent to the master itself): each partition's
 * events after its own position. A stream not served there (a stale slot map, a slot migrating)
 * answers the error NOT_LOCAL, and the caller reads each partition on its own.
 * No KEYS. ARGV: most entries per partition, then per partition: its events stream, the id to
 * read after (exclusive). Returns per partition, in order, XRANGE's entries.
 */
export const FOLLOW_NODE = `#!lua flags=no-writes,allow-cross-slot-keys
local out = {}
for i = 2, #ARGV, 2 do
  local entries = redis.pcall('XRANGE', ARGV[i], '(' .. ARGV[i + 1], '+', 'COUNT', ARGV[1])
  if entries.err then return redis.error_reply('${NOT_LOCAL} ' .. ARGV[i] .. ': ' .. entries.err) end
  out[#out + 1] = entries
end
return out
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

/**
 * The expiry sweep found nothing to record for a GUID it listed: remove it from the expiry list
 * unless its listed instant is still due and its state is a record that expired by then (a write
 * renewed it meanwhile: keep it for the next round).
 * KEYS: expiries, guid key. ARGV: guid, now (unix s). Returns 1 when removed.
 */
export const DISMISS_EXPIRY = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return 0 end
local cur = redis.call('GET', KEYS[2])
if cur then
  local json = string.gsub(cur, '^%d+:', '', 1)
  local ok, state = pcall(cjson.decode, json)
  if ok and type(state) == 'table' and not state.deleted and tonumber(state.expire) and tonumber(state.expire) <= tonumber(ARGV[2]) then return 0 end
end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`

/**
 * Trims the events stream to the retention: removes the entries older than ARGV[1] (an id,
 * `<ms>-0`) and remembers the newest removed in KEYS[2], so a position before it is known to
 * have lost events (410) while the position of that newest removed one is still whole. (Redis
 * 7.0 does not count trimmed entries in XINFO's max-deleted-entry-id.)
 * KEYS: events, trimmed-through. Returns how many entries went.
 */
export const TRIM_EVENTS = `
local newest = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[1], '-', 'COUNT', 1)[1]
if not newest then return 0 end
redis.call('SET', KEYS[2], newest[1])
return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
`

/** What a script call needs of a connection: one server's client, or a cluster's (routed by the first key). */
export interface ScriptClient {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
}

/**
 * Claims an Idempotency-Key: answers what holds it (a claim or a kept answer), or, when
 * nothing does, sets the caller's claim and answers nil. A claim of the same request
 * (fingerprint) whose lease ran out is taken over the same way: its request died. The lease's
 * end is in the claim's value (`F:<fingerprint>:<token>:<until, ms>`), so a claim may outlive
 * it (PX) and keep saying which request the key was used for (an older claim's value has no
 * end: it lives by its PX alone).
 * KEYS: the key's Redis key. ARGV: the claim value, its PX (ms), now (ms), the fingerprint.
 */
export const IDEMPOTENCY_CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, 2) ~= 'F:' or string.sub(cur, 3, 66) ~= ARGV[4] then return cur end
  local ends = string.match(cur, ':(%d+)$')
  if not ends or tonumber(ends) > tonumber(ARGV[3]) then return cur end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`

/** A key's value and its expiry instant (PEXPIRETIME, ms), or nil. KEYS: the key. */
export const GET_WITH_EXPIRY = `
local cur = redis.call('GET', KEYS[1])
if not cur then return false end
return {cur, redis.call('PEXPIRETIME', KEYS[1])}
`

/** Deletes KEYS[1] only while it still holds ARGV[1] (the caller's own claim). */
export const DELETE_IF_EQUAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

/**
 * Removes consumer ARGV[2] from group ARGV[1] of journal KEYS[1] only while it has nothing
 * pending: deleting a consumer drops its pending entries from the group, so a check made in
 * another call could lose entries that consumer read in between. Returns 1 when removed.
 */
export const FORGET_CONSUMER = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
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
