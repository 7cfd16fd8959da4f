// The Lua scripts RedisStore runs: each touches the keys of one hash slot only (Redis Cluster safe).
//
// Every script that changes state takes a deadline: the moment (on Redis' clock) its caller stops
// waiting and answers 503. A script that only runs later, because Redis was stalled or the network
// held it, compares the deadline with Redis' own TIME and changes nothing ({'late'}), so what the
// client was told ("nothing happened, keep your cookie") stays true.
import { LUA_SESSION_LAYOUT } from './redis-session-layout';

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
 * lifetime ms, deadline. Replies 'ok', 'revoked' or 'late'.
 */
export const INDEX_SESSION = `${LUA_CLOCK}
if redisNow() > tonumber(ARGV[4]) then return 'late' end
local before = redis.call('GET', KEYS[2])
if before and tonumber(ARGV[2]) < tonumber(before) then return 'revoked' end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 'ok'
`;

/**
 * One refresh-token presentation, decided atomically (see PresentationOutcome) on Redis' clock.
 * KEYS: session. ARGV: presented hash, successor hash, action ('rotate' | 'revoke'), idleTtlMs,
 * reuseGraceMs, deadline, revocation channel, revocation message.
 * Replies {status, encoded session} or {'unknown', cur, prev, gen} or {'missing'} or {'late'}.
 * The steps are numbered alike in MemoryStore.presentToken, which mirrors this decision.
 */
export const PRESENT_TOKEN = `${LUA_CLOCK}${LUA_SESSION_LAYOUT}
local now = redisNow()
if now > tonumber(ARGV[6]) then return {'late'} end
local value = redis.call('GET', KEYS[1])
-- 1. No live family: missing.
if not value then return {'missing'} end
local f = decode(value)
if readTime(f[F.ex]) <= now then return {'missing'} end
local presented, successor, action = ARGV[1], ARGV[2], ARGV[3]
local function revoke(status)
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[7], ARGV[8])
  return {status, value}
end
-- 2. The current token: rotate (or end the family on 'revoke').
if presented == f[F.cur] then
  if action == 'revoke' then return revoke('revoked') end
  local ex = math.min(now + tonumber(ARGV[4]), readTime(f[F.ad]))
  f[F.prev], f[F.cur], f[F.lu], f[F.ex], f[F.gen] = presented, successor, writeTime(now), writeTime(ex), tostring(tonumber(f[F.gen]) + 1)
  local updated = encode(f)
  redis.call('SET', KEYS[1], updated)
  redis.call('PEXPIREAT', KEYS[1], ms(ex))
  return {'rotated', updated}
end
-- 3. The previous token: a retry inside the grace window, otherwise reuse.
if f[F.prev] ~= '' and presented == f[F.prev] then
  local grace = tonumber(ARGV[5])
  if grace > 0 and now - readTime(f[F.lu]) <= grace and successor == f[F.cur] then
    if action == 'revoke' then return revoke('revoked') end
    return {'retried', value}
  end
  return revoke('reuse')
end
-- 4. The token before the previous one (its successor is the previous token): reuse.
if f[F.prev] ~= '' and successor == f[F.prev] then return revoke('reuse') end
-- 5. Anything else: the caller tells an older token from a forgery by walking the chain.
return {'unknown', f[F.cur], f[F.prev], f[F.gen]}
`;

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
 * Records a revocation in the log every feed loads from, and publishes it. The log is a sorted set
 * scored by when an entry stops mattering; older entries are dropped here. KEYS: log.
 * ARGV: member, until, now, channel, message, deadline. Replies 'ok' or 'late'.
 */
export const LOG_REVOCATION = `${LUA_CLOCK}
if redisNow() > tonumber(ARGV[6]) then return 'late' end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local keep = tonumber(ARGV[2]) - tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], ms(keep)) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 'ok'
`;

/**
 * Loads the log for a feed. The epoch key names this generation of the store's data: when it is
 * missing (first start, or Redis lost its data) a new one is made from ARGV, and the feed then
 * refuses everything older. KEYS: log, epoch. ARGV: now, new epoch value, epoch ttl ms.
 * Replies {epoch, Redis time ms, {member, score, ...}}.
 */
export const LOAD_REVOCATIONS = `${LUA_CLOCK}
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[2], epoch, 'PX', ARGV[3])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return {epoch, ms(redisNow()), redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
`;

/**
 * A feed's heartbeat: checks the epoch is still the one it loaded, keeps it alive, and publishes a
 * message the feed waits to receive on its subscription (proof that nothing published before it was
 * missed). KEYS: epoch. ARGV: expected epoch, epoch ttl ms, channel, message, deadline.
 * Replies {'ok' | 'changed' | 'late', Redis time ms}.
 */
export const HEARTBEAT = `${LUA_CLOCK}
local now = redisNow()
if now > tonumber(ARGV[5]) then return {'late', ms(now)} end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'changed', ms(now)} end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {'ok', ms(now)}
`;
