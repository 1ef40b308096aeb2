import type { Redis } from 'ioredis';

/**
 * A Lua script, always sent with EVAL (Redis caches the compiled body). Not EVALSHA: its NOSCRIPT
 * fallback after a Redis restart would resend some calls later than calls issued after them, and
 * appends from one node must reach Redis in the order they were made.
 */
export class LuaScript {
  constructor(
    private readonly source: string,
    private readonly keyCount: number,
  ) {}

  run(redis: Redis, args: readonly (string | number)[]): Promise<unknown> {
    return redis.eval(this.source, this.keyCount, ...args);
  }
}

/** A stream entry's weight: its 'b' field, else the length of its payload. */
const entryWeight = `
local function weight(fields)
  for i = 1, #fields, 2 do
    if fields[i] == 'b' then return tonumber(fields[i + 1]) end
  end
  return #fields[2]
end
`;

/**
 * Creates a channel's numbering (base and seq: Redis time in µs) when it has none. A history left without
 * its numbering (evicted apart) is weighed again, so the byte bound holds, and numbered on from its last id
 * when the Redis clock is behind it. Each numbering is stamped with the
 * run id of the Redis process that numbers it (`run`, '' to read it here): one restored by another process
 * (an older snapshot, a lagging replica) may be behind numbers already handed out, so it jumps once to the
 * Redis time in µs. Returns the run id.
 */
const ensureChannel = `${entryWeight}
local function micros()
  local t = redis.call('TIME')
  return string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
end
local function lastId(hist)
  if redis.call('EXISTS', hist) == 0 then return 0 end
  local info = redis.call('XINFO', 'STREAM', hist)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return tonumber(string.match(info[i + 1], '^%d+')) end
  end
  return 0
end
local function ensure(meta, hist, ttl, run)
  if run == '' then
    local info = redis.pcall('INFO', 'server')
    run = type(info) == 'string' and string.match(info, 'run_id:(%x+)') or '-'
  end
  if redis.call('EXISTS', meta) == 0 then
    local base = micros()
    local last = lastId(hist)
    if last >= tonumber(base) then base = string.format('%d', last) end
    local bytes = 0
    -- a channel without a stream (a user's own channel read at connect) has nothing to weigh
    if last > 0 then
      for _, entry in ipairs(redis.call('XRANGE', hist, '-', '+')) do bytes = bytes + weight(entry[2]) end
    end
    redis.call('HSET', meta, 'base', base, 'seq', base, 'bytes', bytes, 'run', run)
    redis.call('PEXPIRE', meta, ttl)
  else
    local stamp = redis.call('HGET', meta, 'run')
    if stamp ~= run then
      local now = micros()
      if stamp and tonumber(redis.call('HGET', meta, 'seq')) < tonumber(now) then redis.call('HSET', meta, 'seq', now) end
      redis.call('HSET', meta, 'run', run)
    end
  end
  return run
end
`;

/**
 * A token bucket in a hash {tokens, at, held} (Redis clock, ms): takes one token, or holds the bucket until
 * one is back. Returns 0 when taken, else the wait in ms. The key expires once the bucket would be full. A clock
 * gone back counts as no time passing.
 */
const chargeBucket = `
local function charge(key, rate, burst)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local b = redis.call('HMGET', key, 'tokens', 'at', 'held')
  local tokens = tonumber(b[1]) or burst
  local at = tonumber(b[2]) or now
  local held = tonumber(b[3]) or 0
  if now < at then
    -- the Redis clock went back (a failover, a clock step): no time passed, and a hold keeps what was left of it
    if held > 0 then held = held + now - at end
    at = now
    redis.call('HSET', key, 'at', at, 'held', held)
  end
  if now < held then return held - now end
  if now > at then tokens = math.min(burst, tokens + (now - at) * rate) end
  if tokens < 1 then
    local wait = math.max(1, math.ceil((1 - tokens) / rate))
    redis.call('HSET', key, 'tokens', tokens, 'at', now, 'held', now + wait)
    redis.call('PEXPIRE', key, math.ceil((burst - tokens) / rate) + wait)
    return wait
  end
  tokens = tokens - 1
  redis.call('HSET', key, 'tokens', tokens, 'at', now, 'held', 0)
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) / rate) + 1)
  return 0
end
`;

/**
 * KEYS: meta, history, dedup, rate-limit bucket. ARGV: payload, message bytes, history size, history max bytes,
 * ttlMs, dedupTtlMs, useDedup ('1'|'0'), pubsub channel, bucket rate per ms, bucket burst ('0': no charge), Redis run id ('' if unknown).
 * Keeps the stream within the size and the bytes (tracked in meta `bytes`), dropping its oldest entries.
 * Returns {0, seq, run id} when stored, {1, seq} for a repeat inside the dedup window, {2, waitMs} when the bucket refused it.
 */
export const appendScript = new LuaScript(
  `${ensureChannel}${chargeBucket}
if ARGV[7] == '1' then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {1, seen} end
end
if ARGV[10] ~= '0' then
  local wait = charge(KEYS[4], tonumber(ARGV[9]), tonumber(ARGV[10]))
  if wait > 0 then return {2, string.format('%d', wait)} end
end
local run = ensure(KEYS[1], KEYS[2], ARGV[5], ARGV[11])
if redis.call('XLEN', KEYS[2]) == 0 then redis.call('HSET', KEYS[1], 'bytes', 0) end
local seq = string.format('%d', redis.call('HINCRBY', KEYS[1], 'seq', 1))
redis.call('XADD', KEYS[2], seq .. '-0', 'm', ARGV[1], 'b', ARGV[2])
local size = tonumber(ARGV[3])
local maxBytes = tonumber(ARGV[4])
local bytes = redis.call('HINCRBY', KEYS[1], 'bytes', ARGV[2])
local length = redis.call('XLEN', KEYS[2])
while length > 0 and (length > size or bytes > maxBytes) do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  redis.call('XDEL', KEYS[2], oldest[1])
  bytes = redis.call('HINCRBY', KEYS[1], 'bytes', -weight(oldest[2]))
  length = length - 1
end
if bytes < 0 then redis.call('HSET', KEYS[1], 'bytes', 0) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if ARGV[7] == '1' then redis.call('SET', KEYS[3], seq, 'PX', ARGV[6]) end
redis.call('PUBLISH', ARGV[8], 'm' .. seq .. ' ' .. ARGV[1])
return {0, seq, run}
`,
  4,
);

/** KEYS: meta, history. ARGV: first seq to return, limit, ttlMs, Redis run id ('' if unknown). Returns {base, seq, entries, run id}. */
export const readScript = new LuaScript(
  `${ensureChannel}
local run = ensure(KEYS[1], KEYS[2], ARGV[3], ARGV[4])
local meta = redis.call('HMGET', KEYS[1], 'base', 'seq')
local entries = {}
if tonumber(ARGV[2]) > 0 then
  entries = redis.call('XRANGE', KEYS[2], ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
end
return {meta[1], meta[2], entries, run}
`,
  2,
);

/**
 * Presence per channel and user: the connections present (SET `pr:<ch> <userId>` of refs), the member each joined
 * with (HASH `pj:<ch> <userId>`, ref -> `<order> <member JSON>`, the order counting up with each join or join again)
 * and, in the channel's members (HASH `pm:<ch>`), the member shown: that of the connection joined last. A ref
 * without an entry in `pj:` (joined by an earlier version) is not taken for the one shown. Each change is announced
 * from the script that makes it (a presence signal, as `signalChannel` sends it), so every node hears the changes in
 * the order they were made.
 */
const presence = `
local function announce(topic, joins, leaves)
  redis.call('PUBLISH', topic, 's{"kind":"presence","joins":[' .. table.concat(joins, ',') .. '],"leaves":[' .. table.concat(leaves, ',') .. ']}')
end
local function gone(user)
  return '{"userId":' .. cjson.encode(user) .. '}'
end
local function joined(metas, ref, member)
  local top = 0
  for _, value in ipairs(redis.call('HVALS', metas)) do
    local order = tonumber(string.match(value, '^%d+'))
    if order and order > top then top = order end
  end
  redis.call('HSET', metas, ref, string.format('%d', top + 1) .. ' ' .. member)
end
local function settle(members, refs, metas, user)
  if redis.call('SCARD', refs) == 0 then
    redis.call('HDEL', members, user)
    redis.call('DEL', metas)
    return {1}
  end
  local shown, top = nil, -1
  for _, ref in ipairs(redis.call('SMEMBERS', refs)) do
    local order, member = string.match(redis.call('HGET', metas, ref) or '', '^(%d+) (.*)$')
    if order and tonumber(order) > top then shown, top = member, tonumber(order) end
  end
  if not shown or redis.call('HGET', members, user) == shown then return {0} end
  redis.call('HSET', members, user, shown)
  return {2, shown}
end
`;

/**
 * KEYS: members hash, user's refs set, user's joins hash, node's entries set. ARGV: userId, ref, member JSON, node entry,
 * pub/sub channel. Announces, and returns 1 for, a join: the user's first connection, or another one joining with other
 * meta (now shown).
 */
export const presenceJoinScript = new LuaScript(
  `${presence}
redis.call('SADD', KEYS[4], ARGV[4])
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return 0 end
local first = redis.call('SCARD', KEYS[2]) == 1
if first then redis.call('DEL', KEYS[3]) end
joined(KEYS[3], ARGV[2], ARGV[3])
if not first and redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
announce(ARGV[5], {ARGV[3]}, {})
return 1
`,
  4,
);

/**
 * KEYS: members hash, user's refs set, user's joins hash. ARGV: userId, ref, member JSON, pub/sub channel. The ref, when
 * present, is now the one joined last. Announces as a join, and returns 1, when the member shown changed.
 */
export const presenceUpdateScript = new LuaScript(
  `${presence}
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 0 then return 0 end
joined(KEYS[3], ARGV[2], ARGV[3])
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
announce(ARGV[4], {ARGV[3]}, {})
return 1
`,
  3,
);

/**
 * KEYS: members hash, user's refs set, user's joins hash, node's entries set, the leave's trace. ARGV: userId, ref, node
 * entry, pub/sub channel, '1' for a leave tried again, trace ttl ms.
 * Announces, and returns, {1} when the user left, {2, member JSON} when the member shown changed (as a join), else {0}.
 * A removal leaves a trace for the ttl; a leave tried again of a connection gone already, with no trace and no other
 * connection of the user present, announces the leave (Redis lost it without one).
 */
export const presenceLeaveScript = new LuaScript(
  `${presence}
redis.call('SREM', KEYS[4], ARGV[3])
if redis.call('SREM', KEYS[2], ARGV[2]) == 0 then
  if ARGV[5] ~= '1' or redis.call('EXISTS', KEYS[5]) == 1 or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {0} end
  announce(ARGV[4], {}, {gone(ARGV[1])})
  return {1}
end
redis.call('SET', KEYS[5], '', 'PX', ARGV[6])
redis.call('HDEL', KEYS[3], ARGV[2])
local settled = settle(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
if settled[1] == 1 then announce(ARGV[4], {}, {gone(ARGV[1])}) end
if settled[1] == 2 then announce(ARGV[4], {settled[2]}, {}) end
return settled
`,
  5,
);

/**
 * KEYS: nodes sorted set, this node's reaped mark. ARGV: this node id, node timeout ms.
 * Marks this node alive (Redis clock). Returns {1 when another node reaped this one (its mark is set), else 0;
 * nodes silent for longer than the timeout; 1 when this node was not in the set (reaped, or Redis lost its data), else 0}.
 */
export const heartbeatScript = new LuaScript(
  `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
return {redis.call('EXISTS', KEYS[2]), redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, 16), added}
`,
  2,
);

/**
 * KEYS: nodes sorted set, dead node's entries set, dead node's reaped mark. ARGV: dead node id, key prefix, mark ttl ms
 * ('0': a node closing reaps itself, whether or not it is still in the set, and is not marked), pub/sub channel prefix
 * (followed by the channel), node timeout ms, most entries to remove.
 * Removes at most that many presence entries of a dead node (one still silent past the timeout), each exactly once,
 * so that a large node is reaped in several calls, none stalling Redis; takes the node out of the set once none is left.
 * Marks the node reaped (a node that was only silent finds the mark and registers its presence again), announces
 * once per channel its users who left and, as joins, those who stay shown with other meta, and returns
 * {1 while entries are left, else 0, then, once per channel and user, ch, userId, member JSON, ...}: the member shown
 * now of a user who stays with other meta, '' for a user who left. Returns {} for a node no longer dead.
 */
export const reapScript = new LuaScript(
  `${presence}
if ARGV[3] ~= '0' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
  local t = redis.call('TIME')
  if not score or tonumber(score) > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[5]) then return {} end
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
end
local users, seen = {}, {}
for _, raw in ipairs(redis.call('SPOP', KEYS[2], ARGV[6])) do
  local entry = cjson.decode(raw)
  local user = entry[1] .. ' ' .. entry[2]
  if redis.call('SREM', ARGV[2] .. 'pr:' .. user, entry[3]) == 1 then
    redis.call('HDEL', ARGV[2] .. 'pj:' .. user, entry[3])
    if not seen[user] then
      seen[user] = true
      table.insert(users, entry)
    end
  end
end
local left = redis.call('EXISTS', KEYS[2])
local changes, channels, byChannel = {left}, {}, {}
for _, entry in ipairs(users) do
  local user = entry[1] .. ' ' .. entry[2]
  local settled = settle(ARGV[2] .. 'pm:' .. entry[1], ARGV[2] .. 'pr:' .. user, ARGV[2] .. 'pj:' .. user, entry[2])
  if settled[1] ~= 0 then
    table.insert(changes, entry[1])
    table.insert(changes, entry[2])
    table.insert(changes, settled[2] or '')
    local changed = byChannel[entry[1]]
    if not changed then
      changed = {joins = {}, leaves = {}}
      byChannel[entry[1]] = changed
      table.insert(channels, entry[1])
    end
    if settled[1] == 1 then table.insert(changed.leaves, gone(entry[2])) else table.insert(changed.joins, settled[2]) end
  end
end
for _, ch in ipairs(channels) do announce(ARGV[4] .. ch, byChannel[ch].joins, byChannel[ch].leaves) end
if left == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return changes
`,
  3,
);

/** Redis time in ms, as `now`. */
const redisNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * KEYS: the user's typing set on a channel (ZSET: connection ref scored by the Redis time its typing runs out).
 * ARGV: ref, ttl ms. Counts the connection typing until ttl from now, forgets entries already run out, and lets the
 * key expire one ttl after its last entry runs out (so a crashed node's entries vanish, and a late stop still finds them).
 */
export const typingStartScript = new LuaScript(
  `${redisNow}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], tonumber(last[2]) - now + ttl)
`,
  1,
);

/**
 * KEYS: the user's typing set on a channel. ARGV: ref ('' for none). Removes the connection's entry and those run
 * out. Returns {entries removed, ms until the last entry left runs out (0 when none is left)}.
 */
export const typingStopScript = new LuaScript(
  `${redisNow}
local removed = 0
if ARGV[1] ~= '' then removed = redis.call('ZREM', KEYS[1], ARGV[1]) end
removed = removed + redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last == 0 then return {removed, 0} end
return {removed, tonumber(last[2]) - now}
`,
  1,
);
