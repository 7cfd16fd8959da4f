// The Lua scripts RedisStore runs: each touches the keys of one hash slot only (Redis Cluster safe).
//
// Every script that changes state takes a deadline: the moment (on Redis' clock) its caller stops
// waiting and answers 503. A script that only runs later, because Redis was stalled or the network
// held it, compares the deadline with Redis' own TIME and changes nothing ({'late'}), so what the
// client was told ("nothing happened, keep your cookie") stays true.
import { sessionScript } from './redis-session-layout';

const LUA_CLOCK = `
if redis.replicate_commands then redis.replicate_commands() end
local function redisNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(n) return string.format('%.0f', n) end
`;

/**
 * Creates a family. KEYS: session. ARGV: encoded session, expiresAt, deadline.
 * Replies 'ok' or 'late'.
 */
export const CREATE_SESSION = `${LUA_CLOCK}
if redisNow() > tonumber(ARGV[3]) then return 'late' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 'ok'
`;

/**
 * Adds a session to its user's index (a sorted set scored by login start, oldest first) unless the
 * user was revoked after that login began, and keeps the index alive as long as the session can
 * live. KEYS: user index, user's revoked-before mark (same slot). ARGV: sessionId, createdAt,
 * lifetime ms, deadline. Replies {'ok', entries in the index} (some may have expired: the caller
 * counts live ones when that is over the per-user cap), {'revoked'} or {'late'}.
 */
export const INDEX_SESSION = `${LUA_CLOCK}
if redisNow() > tonumber(ARGV[4]) then return {'late'} end
local before = redis.call('GET', KEYS[2])
if before and tonumber(ARGV[2]) < tonumber(before) then return {'revoked'} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {'ok', redis.call('ZCARD', KEYS[1])}
`;

/**
 * One refresh-token presentation, decided atomically (see PresentationOutcome) on Redis' clock.
 * KEYS: session. ARGV: the presentation packed in one space-separated argument (presented hash,
 * successor hash, action 'rotate' | 'revoke', idleTtlMs, reuseGraceMs, deadline, generation,
 * client fingerprint: none of them can hold a space), the revocation channel, the revocation
 * message. One argument instead of eight: each one is work for ioredis on every refresh.
 * Replies {status, encoded session} or {'unknown'} or {'missing'} or {'late'}.
 * The steps are numbered alike in MemoryStore.presentToken, which mirrors this decision.
 */
export const PRESENT_TOKEN = sessionScript(`${LUA_CLOCK}
local presented, successor, action, idleTtl, grace, deadline, generation, client =
  string.match(ARGV[1], '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
if not client then return redis.error_reply('ERR PRESENT_TOKEN: malformed presentation') end
local now = redisNow()
if now > tonumber(deadline) then return {'late'} end
local value = redis.call('GET', KEYS[1])
-- 1. No live family: missing.
if not value then return {'missing'} end
local f = decode(value)
if readTime(f[F.ex]) <= now then return {'missing'} end
local function revoke(status)
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return {status, value}
end
-- 2. The current token: rotate (or end the family on 'revoke').
if presented == f[F.cur] then
  if action == 'revoke' then return revoke('revoked') end
  local ex = math.min(now + tonumber(idleTtl), readTime(f[F.ad]))
  f[F.prev], f[F.cur], f[F.lu], f[F.ex] = presented, successor, writeTime(now), writeTime(ex)
  f[F.gen], f[F.cl] = tostring(tonumber(f[F.gen]) + 1), client
  local updated = encode(f)
  redis.call('SET', KEYS[1], updated)
  redis.call('PEXPIREAT', KEYS[1], ms(ex))
  return {'rotated', updated}
end
-- 3. The previous token: a retry inside the grace window by the client that rotated it, otherwise reuse.
if f[F.prev] ~= '' and presented == f[F.prev] then
  local window = tonumber(grace)
  if window > 0 and now - readTime(f[F.lu]) <= window and successor == f[F.cur] and client == f[F.cl] then
    if action == 'revoke' then return revoke('revoked') end
    return {'retried', value}
  end
  return revoke('reuse')
end
-- 4. An earlier generation: the token is authentic (the caller checked its MAC), so it is reuse.
if tonumber(generation) < tonumber(f[F.gen]) then return revoke('reuse') end
-- 5. Anything else is no token of this family: refused, nothing changes.
return {'unknown'}
`);

/**
 * Ends a session. KEYS: session. ARGV: deadline.
 * Replies {'revoked', encoded session}, {'missing'} or {'late'}.
 */
export const REVOKE_SESSION = `${LUA_CLOCK}
if redisNow() > tonumber(ARGV[1]) then return {'late'} end
local value = redis.call('GET', KEYS[1])
if not value then return {'missing'} end
redis.call('DEL', KEYS[1])
return {'revoked', value}
`;

/**
 * Marks a user revoked before a time (the mark only moves forward, so in-flight logins that began
 * earlier are refused by INDEX_SESSION) and takes out of the index every session whose login began
 * before it. KEYS: user index, user's revoked-before mark. ARGV: revokedBefore, retainMs, deadline.
 * Replies {'ok', {sessionId...}} or {'late'}.
 */
export const REVOKE_USER = `${LUA_CLOCK}
if redisNow() > tonumber(ARGV[3]) then return {'late'} end
local known = redis.call('GET', KEYS[2])
if not known or tonumber(known) < tonumber(ARGV[1]) then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return {'ok', ids}
`;

/**
 * Records a revocation where feeds load it from, numbers it, and publishes it. Sessions go in the
 * log (a sorted set scored by when each stops mattering, older ones dropped here); users in a hash,
 * one field per user whose "revoked before" time only moves forward, so repeated revocations of one
 * user do not grow it. Every call increments the version, which the message carries and heartbeats
 * report, so a feed that missed a message notices. KEYS: log, users, version.
 * ARGV: kind ('s' | 'u'), id, revokedBefore (users), until, now, channel, message suffix, deadline,
 * version ttl ms. The message is 'r <version>' followed by the suffix. Replies 'ok' or 'late'.
 */
export const LOG_REVOCATION = `${LUA_CLOCK}
if redisNow() > tonumber(ARGV[8]) then return 'late' end
local untilAt, now = tonumber(ARGV[4]), tonumber(ARGV[5])
local target = KEYS[1]
if ARGV[1] == 's' then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[5])
else
  target = KEYS[2]
  local before = tonumber(ARGV[3])
  local known = redis.call('HGET', KEYS[2], ARGV[2])
  if known then
    local space = string.find(known, ' ', 1, true)
    before = math.max(before, tonumber(string.sub(known, 1, space - 1)))
    untilAt = math.max(untilAt, tonumber(string.sub(known, space + 1)))
  end
  redis.call('HSET', KEYS[2], ARGV[2], ms(before) .. ' ' .. ms(untilAt))
end
if redis.call('PTTL', target) < untilAt - now then redis.call('PEXPIRE', target, ms(untilAt - now)) end
local version = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[9])
redis.call('PUBLISH', ARGV[6], 'r ' .. version .. ARGV[7])
return 'ok'
`;

/**
 * Loads everything a feed needs. The epoch key names this generation of the store's data: when it
 * is missing (first start, or Redis lost its data) a new one is made from ARGV, and the feed then
 * refuses everything older. Lapsed entries are dropped on the way. KEYS: log, users, version, epoch.
 * ARGV: now, new epoch value, epoch ttl ms.
 * Replies {epoch, Redis time ms, version, {sessionId, until, ...}, {userId, 'before until', ...}}.
 */
export const LOAD_REVOCATIONS = `${LUA_CLOCK}
local epoch = redis.call('GET', KEYS[4])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[4], epoch, 'PX', ARGV[3])
end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local users, live = redis.call('HGETALL', KEYS[2]), {}
for index = 1, #users, 2 do
  local entry = users[index + 1]
  if tonumber(string.sub(entry, string.find(entry, ' ', 1, true) + 1)) <= now then
    redis.call('HDEL', KEYS[2], users[index])
  else
    live[#live + 1] = users[index]
    live[#live + 1] = entry
  end
end
local version = redis.call('GET', KEYS[3]) or '0'
return {epoch, ms(redisNow()), version, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'), live}
`;

/**
 * A feed's heartbeat: checks the epoch is still the one it loaded, keeps it (and the version)
 * alive, and publishes a message the feed waits to receive on its subscription, carrying the
 * current version: receiving it proves every revocation logged before it was received too.
 * KEYS: epoch, version. ARGV: expected epoch, ttl ms, channel, message, deadline.
 * Replies {'ok' | 'changed' | 'late', Redis time ms}.
 */
export const HEARTBEAT = `${LUA_CLOCK}
local now = redisNow()
if now > tonumber(ARGV[5]) then return {'late', ms(now)} end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'changed', ms(now)} end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4] .. ' ' .. (redis.call('GET', KEYS[2]) or '0'))
return {'ok', ms(now)}
`;
