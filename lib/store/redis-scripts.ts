// The Lua scripts RedisStore runs: each touches the keys of one hash slot only (Redis Cluster safe).

// Session hash fields: u userId, c claims JSON, ua user agent, ca createdAt, lu lastUsedAt,
// ex expiresAt, ad absolute deadline, cur/prev hashes of the current/previous secret,
// rot time of the last rotation, gen number of rotations. Times are epoch milliseconds.

/** Fields returned for a session, in this order, by every script that answers with one. */
export const SESSION_FIELDS = ['u', 'c', 'ua', 'ca', 'lu', 'ex', 'ad'] as const;

/**
 * Creates a family. KEYS: session hash. ARGV: userId, claims JSON, userAgent, secret hash,
 * now, expiresAt, absolute deadline.
 */
export const CREATE_SESSION = `
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'c', ARGV[2], 'ua', ARGV[3], 'cur', ARGV[4],
  'rot', ARGV[5], 'gen', 0, 'ca', ARGV[5], 'lu', ARGV[5], 'ex', ARGV[6], 'ad', ARGV[7])
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
return 1
`;

/**
 * Adds a session id to its user's index and keeps the index alive at least as long as the session
 * can live. KEYS: user set. ARGV: sessionId, the session's longest possible lifetime in ms.
 */
export const INDEX_SESSION = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`;

/**
 * One refresh-token presentation, decided atomically (see PresentationOutcome).
 * KEYS: session hash, revoked marker. ARGV: presented hash, successor hash, now, action
 * ('rotate' | 'revoke'), idleTtlMs, reuseGraceMs, revokedMarkerTtlMs.
 * Replies {status, ...SESSION_FIELDS} or {'unknown', cur, prev, gen} or {'missing'}.
 *
 * "Now" is the later of the caller's clock and Redis' own. A presentation that timed out on a
 * stalled server (the client got a 503 and kept its cookie) may still run when Redis resumes; it
 * then records the rotation at the time it really happened, so the client's retry lands inside the
 * grace window and gets the same successor instead of looking like reuse.
 */
export const PRESENT_TOKEN = `
if redis.replicate_commands then redis.replicate_commands() end
local f = redis.call('HMGET', KEYS[1], 'cur', 'prev', 'rot', 'gen', 'u', 'c', 'ua', 'ca', 'lu', 'ex', 'ad')
local t = redis.call('TIME')
local now = math.max(tonumber(ARGV[3]), tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local nowText = string.format('%.0f', now)
if not f[1] or tonumber(f[10]) <= now then return {'missing'} end
local presented, successor, action = ARGV[1], ARGV[2], ARGV[4]
local function answer(status, lu, ex)
  return {status, f[5], f[6], f[7], f[8], lu or f[9], ex or f[10], f[11]}
end
local function revoke(status)
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[7])
  return answer(status)
end
if presented == f[1] then
  if action == 'revoke' then return revoke('revoked') end
  local ex = math.min(now + tonumber(ARGV[5]), tonumber(f[11]))
  local exText = string.format('%.0f', ex)
  redis.call('HSET', KEYS[1], 'cur', successor, 'prev', presented, 'rot', nowText,
    'gen', tonumber(f[4]) + 1, 'lu', nowText, 'ex', exText)
  redis.call('PEXPIREAT', KEYS[1], exText)
  return answer('rotated', nowText, exText)
end
if f[2] and presented == f[2] then
  local grace = tonumber(ARGV[6])
  if grace > 0 and now - tonumber(f[3]) <= grace and successor == f[1] then
    if action == 'revoke' then return revoke('revoked') end
    return answer('retried')
  end
  return revoke('reuse')
end
if f[2] and successor == f[2] then return revoke('reuse') end
return {'unknown', f[1], f[2] or '', f[4]}
`;

/**
 * Ends a session and marks its id revoked. KEYS: session hash, revoked marker.
 * ARGV: revokedMarkerTtlMs. Replies SESSION_FIELDS of the ended session, or nil.
 */
export const REVOKE_SESSION = `
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'u', 'c', 'ua', 'ca', 'lu', 'ex', 'ad')
if not f[1] then return false end
redis.call('DEL', KEYS[1])
return f
`;
