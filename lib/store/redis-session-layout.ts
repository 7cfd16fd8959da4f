// How RedisStore lays a session out in Redis: one string of fields, the single source for the Lua scripts and for reading.
import type { SessionRecord } from './session-store';

/**
 * The fields of a stored session, in order. Everything else derives from this list: the Lua
 * prelude's field indexes, {@link encodeSession}, {@link readSessionRecord} (what the store reads) and
 * {@link decodeSession} (every field by name, for inspecting what is stored).
 * - `u` userId, `c` claims JSON, `ua` User-Agent;
 * - `ca` createdAt (login start), `lu` lastUsedAt (= time of the last rotation), `ex` expiresAt,
 *   `ad` absolute deadline, all epoch ms in base 36 ({@link encodeTime}: 8 characters instead of 13);
 * - `cur`/`prev` hashes of the current/previous refresh secret, `gen` the number of rotations (the
 *   current token's generation), `cl` the fingerprint of the client that made the last rotation
 *   (for a family bound to a key, `<fingerprint>~<proof hash>`: the proof that rotated, so it cannot be replayed);
 * - `bd` `1` for a family bound to a device key, empty otherwise;
 * - `cu` when the session's claims were last changed by `auth.updateClaims` (base 36 like the other
 *   times), empty when never.
 *
 * Fields are only ever added at the end: a session stored before the newest ones existed has fewer
 * (at least {@link OLDEST_FIELD_COUNT}), the missing ones read as empty (and written at its next rotation).
 */
export const SESSION_FIELDS = ['u', 'c', 'ua', 'ca', 'lu', 'ex', 'ad', 'cur', 'prev', 'gen', 'cl', 'bd', 'cu'] as const;

/** The fields of the oldest layout still read (before `bd`): a stored session has at least this many. */
export const OLDEST_FIELD_COUNT = 11;

type Field = (typeof SESSION_FIELDS)[number];

/** The session's fields by name, as strings. */
export type StoredSession = Record<Field, string>;

/**
 * Joins the fields. One string per session (rather than a hash) keeps a session small whatever the
 * length of its User-Agent: Redis only packs a hash tightly while every value is under 64 bytes.
 * U+001F (unit separator) occurs in none of the values: JSON escapes it, HTTP headers cannot hold
 * it, and user ids holding control characters are refused at login.
 */
export const FIELD_SEPARATOR = '\x1f';

/** A time (epoch ms) as stored: base 36, which keeps a session under 300 bytes. */
export function encodeTime(ms: number): string {
  return Math.floor(ms).toString(36);
}

/** Reads a stored time back (epoch ms). */
export function decodeTime(text: string): number {
  return parseInt(text, 36);
}

/** Packs a session's fields into the stored string. */
export function encodeSession(fields: StoredSession): string {
  return SESSION_FIELDS.map((name) => fields[name]).join(FIELD_SEPARATOR);
}

/** The stored string's field values, in {@link SESSION_FIELDS} order; throws when it is not a session of this layout. */
function splitFields(value: string): string[] {
  const values = value.split(FIELD_SEPARATOR);
  if (values.length < OLDEST_FIELD_COUNT || values.length > SESSION_FIELDS.length) {
    throw new Error(`stored session has ${values.length} fields, expected ${OLDEST_FIELD_COUNT} to ${SESSION_FIELDS.length}`);
  }
  // Stored before its last fields existed (`bd`: not bound; `cu`: claims never updated): read as empty.
  while (values.length < SESSION_FIELDS.length) values.push('');
  return values;
}

/** Reads a stored string back into fields, or throws when it is not a session of this layout. */
export function decodeSession(value: string): StoredSession {
  const values = splitFields(value);
  const fields = {} as StoredSession;
  for (let index = 0; index < SESSION_FIELDS.length; index++) fields[SESSION_FIELDS[index] as Field] = values[index] as string;
  return fields;
}

/** Each field's index in the stored string, by name. */
const AT = Object.fromEntries(SESSION_FIELDS.map((name, index) => [name, index])) as Record<Field, number>;

/**
 * The public record of a stored session, read straight from the stored string (the record is what
 * every refresh reads, so no intermediate {@link StoredSession} is built), or throws when it is not
 * a session of this layout.
 */
export function readSessionRecord(sessionId: string, value: string): SessionRecord {
  const values = splitFields(value);
  const record: SessionRecord = {
    sessionId,
    userId: values[AT.u] as string,
    claims: parseClaims(values[AT.c] as string),
    userAgent: values[AT.ua] as string,
    createdAt: decodeTime(values[AT.ca] as string),
    lastUsedAt: decodeTime(values[AT.lu] as string),
    expiresAt: decodeTime(values[AT.ex] as string),
    absoluteExpiresAt: decodeTime(values[AT.ad] as string),
  };
  if (values[AT.bd] === '1') record.bound = true;
  if (values[AT.cu] !== '') record.claimsUpdatedAt = decodeTime(values[AT.cu] as string);
  return record;
}

function parseClaims(json: string): Record<string, unknown> {
  const parsed: unknown = json ? JSON.parse(json) : {};
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

/**
 * A script with every `F.<name>` replaced by that field's index in {@link SESSION_FIELDS}: the
 * source names fields, the script Redis runs has the numbers (no lookup table built on each call).
 */
function withFieldIndexes(lua: string): string {
  return lua.replace(/\bF\.([a-z]+)\b/g, (_, name: string) => {
    const index = SESSION_FIELDS.indexOf(name as Field);
    if (index === -1) throw new Error(`unknown session field F.${name} in a Lua script`);
    return String(index + 1);
  });
}

/** One capture per field of `count`, separated by U+001F: a whole stored session matched in one call. */
const luaFieldsPattern = (count: number): string => `^${'([^\\031]*)\\031'.repeat(count - 1)}([^\\031]*)$`;

/**
 * Lua reading a stored session of every layout still read, newest first, each pattern a literal:
 * a session stored before its last fields existed gets them as empty strings.
 */
function luaDecodeSteps(): string {
  const steps: string[] = [];
  for (let count = SESSION_FIELDS.length; count >= OLDEST_FIELD_COUNT; count--) {
    const padding = SESSION_FIELDS.slice(count)
      .map((_, index) => ` fields[${count + index + 1}] = ''`)
      .join('');
    steps.push(`  fields = { string.match(s, '${luaFieldsPattern(count)}') }\n  if #fields == ${count} then${padding} return fields end`);
  }
  return steps.join('\n');
}

/**
 * The Lua prelude every script that reads a session starts with, generated from
 * {@link SESSION_FIELDS}: `decode`/`encode` and
 * `readTime`/`writeTime` mirror the functions above. It runs on every call, so it builds nothing
 * it can be handed ready-made: the fields' pattern is a literal, `writeTime` makes one string.
 */
const LUA_SESSION_LAYOUT = `
local SEP = '\\031'
local FIELD_COUNT = ${SESSION_FIELDS.length}
local function decode(s)
  local fields
${luaDecodeSteps()}
  -- Stored before its last fields existed: those read as empty (above); anything else is no session of ours.
  error('stored session has the wrong number of fields')
end
local function encode(fields) return table.concat(fields, SEP, 1, FIELD_COUNT) end
local function readTime(text) return tonumber(text, 36) end
local function writeTime(n)
  n = math.floor(n)
  local codes, at = {}, 13
  repeat
    local digit = n % 36
    codes[at] = digit < 10 and 48 + digit or 87 + digit -- '0'..'9', 'a'..'z'
    n = (n - digit) / 36
    at = at - 1
  until n == 0
  return string.char(unpack(codes, at + 1, 13))
end
`;

/**
 * A script that reads or writes sessions: the layout's prelude, then `body` (which names fields as
 * `F.<name>`), with every field name replaced by its index. The one way to build such a script, so
 * none can use `F.` without the substitution or the helpers without the prelude.
 */
export function sessionScript(body: string): string {
  return withFieldIndexes(`${LUA_SESSION_LAYOUT}${body}`);
}
