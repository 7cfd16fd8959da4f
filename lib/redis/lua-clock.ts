// The Lua every script that reads Redis' clock starts with: TIME in epoch ms, and a number as a whole-ms string.

/**
 * `redisNow()` (Redis' clock, epoch ms) and `ms(n)` (a number as a whole-ms string), for scripts that
 * judge deadlines and times on Redis' own clock; effects replication on Redis versions that need it
 * for TIME in a script that writes.
 */
export const LUA_CLOCK = `
if redis.replicate_commands then redis.replicate_commands() end
local function redisNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(n) return string.format('%.0f', n) end
`;
