// The Lua scripts RedisStore runs: each touches the keys of one hash slot only (Redis Cluster safe).
//
// Every script that changes state takes a deadline: the moment (on Redis' clock) its caller stops
// waiting and answers 503. A script that only runs later, because Redis was stalled or the network
// held it, compares the deadline with Redis' own TIME and changes nothing ({'late'}), so what the
// client was told ("nothing happened, keep your cookie") stays true.
import { LUA_CLOCK } from '../redis/lua-clock';
import { sessionScript } from './redis-session-layout';

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
 * Adds a session to its user's index (a sorted set of session ids scored by login start, oldest
 * first) unless the user was revoked after that login began, and keeps the index alive as long as
 * the session can live. With a device fingerprint (a keyed hash of the login's device and network
 * labels), also says whether the user's sessions that could still be alive had it. The user's seen
 * devices share the index (one key per user, not two: the budget of bytes per session), as members
 * `~<fingerprint>` (session ids are base64url, never `~`) scored by the NEGATED latest absolute
 * deadline of a session with each (ZADD LT): sessions have the scores from 0 up, devices below 0,
 * and a device lapsed at `now` scores in [-now, 0), dropped first. MemoryStore.createSession mirrors
 * it. KEYS: user index, user's revoked-before mark (same slot). ARGV: sessionId, createdAt, lifetime
 * ms (absoluteTtl), deadline, device fingerprint ('' for none). Replies {'ok', sessions in the
 * index, 1 | 0 (a device not seen before) | -1 (no fingerprint)} (some sessions may have expired:
 * the caller counts live ones when that is over the per-user cap), {'revoked'} or {'late'}.
 */
export const INDEX_SESSION = `${LUA_CLOCK}
local now = redisNow()
if now > tonumber(ARGV[4]) then return {'late'} end
local before = redis.call('GET', KEYS[2])
if before and tonumber(ARGV[2]) < tonumber(before) then return {'revoked'} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local seen = -1
if ARGV[5] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], ms(-now), '(0')
  seen = redis.call('ZADD', KEYS[1], 'LT', ms(-(tonumber(ARGV[2]) + tonumber(ARGV[3]))), '~' .. ARGV[5])
end
return {'ok', redis.call('ZCOUNT', KEYS[1], 0, '+inf'), seen}
`;

/**
 * One refresh-token presentation, decided atomically (see PresentationOutcome) on Redis' clock.
 * KEYS: session. ARGV: the presentation packed in one space-separated argument (presented hash,
 * successor hash, action 'rotate' | 'revoke', idleTtlMs, reuseGraceMs, deadline, generation,
 * client fingerprint, proof hash or '-' when there is none: none of them can hold a space, neither
 * hash a '~'), the revocation channel, the signed revocation message it publishes if it ends the
 * family. One argument instead of nine: each one is work for ioredis on every refresh. A rotation
 * records the client as `cl`, followed by '~' and the proof hash when there is one. A rotation
 * publishes nothing, so a refresh sends the message empty: if the family must end then, the script
 * changes nothing and replies {'announce'}, to be sent again with the message. Replies {status, encoded session} or {'unknown'} or {'missing'} or {'late'} or {'announce'}.
 * The steps are numbered alike in MemoryStore.presentToken, which mirrors this decision.
 */
export const PRESENT_TOKEN = sessionScript(`${LUA_CLOCK}
local presented, successor, action, idleTtl, grace, deadline, generation, client, proof =
  string.match(ARGV[1], '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
if not proof then return redis.error_reply('ERR PRESENT_TOKEN: malformed presentation') end
local now = redisNow()
if now > tonumber(deadline) then return {'late'} end
local value = redis.call('GET', KEYS[1])
-- 1. No live family: missing.
if not value then return {'missing'} end
local f = decode(value)
if readTime(f[F.ex]) <= now then return {'missing'} end
local function revoke(status)
  -- Sent without its announcement (a rotation needs none): nothing changed, send it again with one.
  if ARGV[3] == '' then return {'announce'} end
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return {status, value}
end
-- 2. The current token: rotate (or end the family on 'revoke').
if presented == f[F.cur] then
  if action == 'revoke' then return revoke('revoked') end
  local ex = math.min(now + tonumber(idleTtl), readTime(f[F.ad]))
  f[F.prev], f[F.cur], f[F.lu], f[F.ex] = presented, successor, writeTime(now), writeTime(ex)
  f[F.gen], f[F.cl] = tostring(tonumber(f[F.gen]) + 1), proof == '-' and client or client .. '~' .. proof
  local updated = encode(f)
  redis.call('SET', KEYS[1], updated)
  redis.call('PEXPIREAT', KEYS[1], ms(ex))
  return {'rotated', updated}
end
-- 3. The previous token: the request that rotated it replayed (its very proof) is refused and changes
-- nothing; a retry inside the grace window by the client that rotated it is answered; otherwise reuse.
if f[F.prev] ~= '' and presented == f[F.prev] then
  local rotatedBy, rotatedWith = string.match(f[F.cl], '^([^~]*)~?(.*)$')
  if proof ~= '-' and proof == rotatedWith then return {'unknown'} end
  local window = tonumber(grace)
  if window > 0 and now - readTime(f[F.lu]) <= window and successor == f[F.cur] and client == rotatedBy then
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
 * Sets some fields of a live session, leaving its TTL alone (see SessionStore.amendSession). KEYS:
 * session. ARGV: deadline; the time of the claims it sets (epoch ms), or '' when it sets none: a
 * session whose claims were changed later (its `cu`) keeps them, and nothing is set; then pairs of
 * a field's number (from 1, see luaFieldNumber) and its new value.
 * Replies {'amended', encoded session}, {'missing'}, {'newer'} or {'late'}. Mirrored by MemoryStore.amendSession.
 */
export const AMEND_SESSION = sessionScript(`${LUA_CLOCK}
local now = redisNow()
if now > tonumber(ARGV[1]) then return {'late'} end
local value = redis.call('GET', KEYS[1])
if not value then return {'missing'} end
local f = decode(value)
if readTime(f[F.ex]) <= now then return {'missing'} end
if ARGV[2] ~= '' and f[F.cu] ~= '' and readTime(f[F.cu]) > tonumber(ARGV[2]) then return {'newer'} end
for index = 3, #ARGV, 2 do f[tonumber(ARGV[index])] = ARGV[index + 1] end
local updated = encode(f)
redis.call('SET', KEYS[1], updated, 'KEEPTTL')
return {'amended', updated}
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
-- From 0: the index's seen devices score below it (see INDEX_SESSION) and are not sessions.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], 0, '(' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, '(' .. ARGV[1])
return {'ok', ids}
`;

/**
 * Counts a throttled request: the first of a window starts it, the others add one (rate-limit-redis'
 * increment). KEYS: counter. ARGV: window ms. Replies {hits, ms until the window ends}.
 */
export const COUNT_REQUEST = `
local left = redis.call('PTTL', KEYS[1])
if left <= 0 then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[1])
  return {1, tonumber(ARGV[1])}
end
return {redis.call('INCR', KEYS[1]), left}
`;

/** Reads a throttling counter. KEYS: counter. Replies {hits or false, ms until the window ends}. */
export const READ_COUNT = `
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
`;

/**
 * Gives a counted request back: decrements a counter that still has a TTL (a bare DECR on an
 * expired key would leave one without). KEYS: counter. Replies the count, or 0 when it was gone.
 */
export const GIVE_BACK_REQUEST = `
if redis.call('PTTL', KEYS[1]) > 0 then return redis.call('DECR', KEYS[1]) end
return 0
`;

/** Deletes a throttling counter (a login that succeeded starts its count again). KEYS: counter. Replies 1 or 0. */
export const RESET_COUNT = `
return redis.call('DEL', KEYS[1])
`;

/** Whether a known-address mark is there. KEYS: the mark. Replies 1 or 0. */
export const HAS_MARK = `
return redis.call('EXISTS', KEYS[1])
`;

/** Sets a known-address mark, or renews it for the whole TTL. KEYS: the mark. ARGV: ttl ms. */
export const SET_MARK = `
return redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
`;
