// The Lua scripts of the revocation log in Redis: logging and announcing revocations, loading them, heartbeats, reading Redis' clock.
//
// Each touches the keys of one hash slot only (the log's `{revocations}` tag): Redis Cluster safe. A
// script that changes state takes a deadline (Redis' clock), past which it changes nothing.
import { LUA_CLOCK } from '../redis/lua-clock';
import { script } from '../redis/script';

/**
 * Reads Redis' clock: the one revocation judges by (login starts and revokeUser marks are read
 * here, the epoch is made from it in LOAD_START). KEYS: the epoch (unread: it routes the
 * reading to the node of the revocation log, so on a Cluster every such time comes from one clock).
 * Replies {seconds, microseconds}, as TIME does.
 */
export const READ_CLOCK = `
local t = redis.call('TIME')
return {t[1], t[2]}
`;

/**
 * The revocation log's clean-up, shared by the scripts that touch it, each step bounded so that no
 * script blocks Redis however much has lapsed at once:
 * - `dropLapsed(log, now, most)`: the log is scored by when each entry stops mattering, so what has
 *   lapsed are its lowest ranks; drops at most `most` of them.
 * - `liveUsers(users, cursor, count, now)`: one HSCAN step over the users hash; drops the fields
 *   that lapsed (or cannot be read), and returns the next cursor and the live `userId, entry` pairs.
 */
const LUA_LOG_CLEANUP = `
local function dropLapsed(key, now, most)
  local lapsed = redis.call('ZCOUNT', key, '-inf', ms(now))
  if lapsed > 0 then redis.call('ZREMRANGEBYRANK', key, 0, math.min(lapsed, most) - 1) end
end
local function liveUsers(key, cursor, count, now)
  local page = redis.call('HSCAN', key, cursor, 'COUNT', count)
  local fields, live = page[2], {}
  for index = 1, #fields, 2 do
    local entry = fields[index + 1]
    local space = string.find(entry, ' ', 1, true)
    if space and (tonumber(string.sub(entry, space + 1)) or 0) > now then
      live[#live + 1] = fields[index]
      live[#live + 1] = entry
    else
      redis.call('HDEL', key, fields[index])
    end
  end
  return page[1], live
end
`;

/**
 * Records a revocation where feeds load it from, and numbers it. Sessions go in the log (a sorted
 * set scored by when each stops mattering: an entry keeps its latest end, and up to 100 lapsed ones
 * are dropped per call, more than are ever added); users in a hash, one field per user whose
 * "revoked before" time only moves forward, so repeated revocations of one user do not grow it;
 * claims changes the same way in a hash of their own (old instances never read it).
 * Every call increments the version, which the revocation's message carries and heartbeats report,
 * so a feed that missed a message notices. The caller publishes the message once it knows the
 * version (it signs it: Redis never sees the channel key). What has lapsed is judged on Redis'
 * clock, so an instance whose clock runs fast drops nothing others still need.
 * KEYS: log, users, version, epoch, claims. ARGV: kind ('s' | 'u' | 'c'), id, revokedBefore (users) or
 * changedAt (claims), until, deadline, version ttl ms. Replies {'ok', version, epoch ('' when there is none yet)} or {'late'}.
 */
export const LOG_REVOCATION = `${LUA_CLOCK}${LUA_LOG_CLEANUP}
local now = redisNow()
if now > tonumber(ARGV[5]) then return {'late'} end
local untilAt = tonumber(ARGV[4])
local target = KEYS[1]
if ARGV[1] == 's' then
  local known = redis.call('ZSCORE', KEYS[1], ARGV[2])
  if not known or tonumber(known) < untilAt then redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2]) end
  dropLapsed(KEYS[1], now, 100)
else
  target = ARGV[1] == 'c' and KEYS[5] or KEYS[2]
  local before = tonumber(ARGV[3])
  local known = redis.call('HGET', target, ARGV[2])
  if known then
    local space = string.find(known, ' ', 1, true)
    before = math.max(before, tonumber(string.sub(known, 1, space - 1)))
    untilAt = math.max(untilAt, tonumber(string.sub(known, space + 1)))
  end
  redis.call('HSET', target, ARGV[2], ms(before) .. ' ' .. ms(untilAt))
end
if redis.call('PTTL', target) < untilAt - now then redis.call('PEXPIRE', target, ms(untilAt - now)) end
local version = redis.call('INCR', KEYS[3])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[6]) then redis.call('PEXPIRE', KEYS[3], ARGV[6]) end
return {'ok', version, redis.call('GET', KEYS[4]) or ''}
`;

/**
 * Publishes a revocation's message (signed by the caller) on the channel, from the node of the
 * revocation log, as heartbeats are: on a Cluster too, a feed hears the two in the order they were
 * published. KEYS: version (unread: it routes the script). ARGV: channel, message. Replies 'ok'.
 */
export const PUBLISH_REVOCATION = `
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 'ok'
`;

/**
 * The first step of a load: the epoch and the version. The epoch key names this generation of the
 * store's data: when it is missing (first start, or Redis lost its data) a new one is made,
 * `<Redis time ms>.<nonce>`, and the feed then refuses every login that began before it: Redis'
 * time, not the loading instance's, so an instance whose clock runs fast does not lock out logins
 * made on the others. The revocations follow, a page at a time (LOAD_LOG_PAGE, LOAD_USERS_PAGE):
 * everything logged up to this version is in them, what is logged later reaches the feed as a
 * message. KEYS: epoch, version. ARGV: epoch nonce, epoch ttl ms.
 * Replies {epoch, Redis time ms, version}.
 */
export const LOAD_START = `${LUA_CLOCK}
local now = redisNow()
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ms(now) .. '.' .. ARGV[1]
  redis.call('SET', KEYS[1], epoch, 'PX', ARGV[2])
end
return {epoch, ms(now), redis.call('GET', KEYS[2]) or '0'}
`;

/**
 * One page of the log's session revocations that still matter, in score order (when each stops
 * mattering). The first page (ARGV[1] empty) starts after now and fixes the page's upper bound at
 * the highest score then, so a load ends even while revocations keep coming (those reach the feed
 * as messages). Later pages start at the last score read, skipping the `offset` entries of that score
 * already read: entries only ever move to higher scores and only lapsed ones leave, so paging this
 * way misses nothing that was there when the load began. Drops up to `count` lapsed entries first.
 * KEYS: log. ARGV: from score ('' for the first page), offset, count, upper bound ('' for the first
 * page). Replies {upper bound, {sessionId, until, ...}}.
 */
export const LOAD_LOG_PAGE = `${LUA_CLOCK}${LUA_LOG_CLEANUP}
local now = redisNow()
local count = tonumber(ARGV[3])
dropLapsed(KEYS[1], now, count)
local from, to = ARGV[1], ARGV[4]
if from == '' then
  from = '(' .. ms(now)
  to = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2] or ms(now)
end
return {to, redis.call('ZRANGEBYSCORE', KEYS[1], from, to, 'WITHSCORES', 'LIMIT', ARGV[2], count)}
`;

/**
 * One page of the users hash, or of the claims hash (one HSCAN step: every field there for the whole scan is returned at
 * least once), dropping the fields that lapsed. KEYS: users (or claims). ARGV: cursor ('0' to begin), count.
 * Replies {next cursor ('0' when done), {userId, 'before until', ...}}.
 */
export const LOAD_USERS_PAGE = `${LUA_CLOCK}${LUA_LOG_CLEANUP}
local cursor, live = liveUsers(KEYS[1], ARGV[1], ARGV[2], redisNow())
return {cursor, live}
`;

/**
 * A feed's heartbeat: checks the epoch is still the one it loaded, keeps it (and the version)
 * alive for at least `ttl` (never shortening it), publishes the feed's message, and replies with the version at that moment: once the feed
 * hears its message holding every revocation numbered up to it, it missed nothing logged before.
 * It also sweeps a few fields of the users hash and of the claims hash (the feed keeps the cursors),
 * so marks that lapsed leave them even when no feed loads for a long time. KEYS: epoch, version,
 * users, claims. ARGV: expected epoch, ttl ms, channel, message, deadline, users sweep cursor, claims
 * sweep cursor ('0' to begin). Replies {'ok', Redis time ms, version, next users cursor, next claims
 * cursor} or {'changed' | 'late', Redis time ms}.
 */
export const HEARTBEAT = `${LUA_CLOCK}${LUA_LOG_CLEANUP}
local now = redisNow()
if now > tonumber(ARGV[5]) then return {'late', ms(now)} end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'changed', ms(now)} end
-- Only ever lengthened: feeds of auth instances and of verifiers may be told different lifetimes.
for index = 1, 2 do
  if redis.call('PTTL', KEYS[index]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[index], ARGV[2]) end
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
local cursor = liveUsers(KEYS[3], ARGV[6], 16, now)
local claimsCursor = liveUsers(KEYS[4], ARGV[7], 16, now)
return {'ok', ms(now), redis.call('GET', KEYS[2]) or '0', cursor, claimsCursor}
`;

/** The revocation log's scripts, compiled (their SHA-1s computed once). */
export const REVOCATION_SCRIPTS = {
  logRevocation: script(LOG_REVOCATION),
  publishRevocation: script(PUBLISH_REVOCATION),
  loadStart: script(LOAD_START),
  loadLogPage: script(LOAD_LOG_PAGE),
  loadUsersPage: script(LOAD_USERS_PAGE),
  heartbeat: script(HEARTBEAT),
  readClock: script(READ_CLOCK),
};
