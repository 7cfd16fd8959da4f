// How RedisStore lays a session out in Redis: one string of fields, the single source for the Lua scripts and for reading.
import { deviceLabel } from '../device-label';
import type { NewSession, SessionRecord } from './session-store';

/**
 * The fields of a stored session, in order. Everything else derives from this list: the Lua
 * prelude's field indexes, {@link encodeSession}, {@link readSessionRecord} (what the store reads) and
 * {@link decodeSession} (every field by name, for inspecting what is stored).
 * - `u` userId, `c` claims JSON, `ua` the device label (`Chrome 131 on Linux`, see deviceLabel; a
 *   session stored before `nw` existed holds the raw User-Agent there, labelled when read);
 * - `ca` createdAt (login start), `lu` lastUsedAt (= time of the last rotation), `ex` expiresAt,
 *   `ad` absolute deadline, all epoch ms in base 36 ({@link encodeTime}: 8 characters instead of 13);
 * - `cur`/`prev` hashes of the current/previous refresh secret, `gen` the number of rotations (the
 *   current token's generation), `cl` the fingerprint of the client that made the last rotation
 *   (for a family bound to a key, `<fingerprint>~<proof hash>`: the proof that rotated, so it cannot be replayed);
 * - `bd` `1` for a family bound to a device key, empty otherwise;
 * - `nw` the network label (`198.51.100.0/24`, the whole address, or empty: the `sessionNetwork` option).
 *
 * Fields are only ever added at the end. A session stored before the last ones existed has fewer
 * (down to {@link OLDEST_FIELD_COUNT}); the missing ones read as empty. One stored before `nw` holds a
 * raw User-Agent in `ua`: it is read through the device-label parser, and a rotation writes it back
 * with {@link RAW_USER_AGENT_FIELD_COUNT} fields, so it stays recognisable until it expires.
 */
export const SESSION_FIELDS = ['u', 'c', 'ua', 'ca', 'lu', 'ex', 'ad', 'cur', 'prev', 'gen', 'cl', 'bd', 'nw'] as const;

/** The fewest fields a stored session may have: the layout before `bd` (a bound family) existed. */
export const OLDEST_FIELD_COUNT = 11;

/** How many fields a session whose `ua` holds a raw User-Agent is written with: every field before `nw`. */
export const RAW_USER_AGENT_FIELD_COUNT = 12;

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

/**
 * The stored string's field values, in {@link SESSION_FIELDS} order, and how many it held; throws when
 * it is not a session of this layout. Fields a session stored before they existed lacks read as empty.
 */
function splitFields(value: string): { values: string[]; stored: number } {
  const values = value.split(FIELD_SEPARATOR);
  const stored = values.length;
  if (stored < OLDEST_FIELD_COUNT || stored > SESSION_FIELDS.length) {
    throw new Error(`stored session has ${stored} fields, expected ${OLDEST_FIELD_COUNT} to ${SESSION_FIELDS.length}`);
  }
  while (values.length < SESSION_FIELDS.length) values.push('');
  return { values, stored };
}

/** The stored string of a new family whose record is `record` (newSessionRecord's). */
export function encodeNewSession(session: NewSession, record: SessionRecord): string {
  const now = encodeTime(session.now);
  return encodeSession({
    u: session.userId,
    c: JSON.stringify(session.claims),
    ua: session.device,
    ca: now,
    lu: now,
    ex: encodeTime(record.expiresAt),
    ad: encodeTime(record.absoluteExpiresAt),
    cur: session.secretHash,
    prev: '',
    gen: '0',
    cl: session.clientHash,
    bd: session.bound ? '1' : '',
    nw: session.network,
  });
}

/** Reads a stored string back into fields as stored (a legacy `ua` stays raw), or throws when it is not a session of this layout. */
export function decodeSession(value: string): StoredSession {
  const { values } = splitFields(value);
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
  const { values, stored } = splitFields(value);
  // Stored before `nw` existed, `ua` is the raw User-Agent: shown as its label, never as it is.
  const device = stored < SESSION_FIELDS.length ? deviceLabel(values[AT.ua]) : (values[AT.ua] as string);
  const record: SessionRecord = {
    sessionId,
    userId: values[AT.u] as string,
    claims: parseClaims(values[AT.c] as string),
    userAgent: device,
    device,
    network: values[AT.nw] as string,
    createdAt: decodeTime(values[AT.ca] as string),
    lastUsedAt: decodeTime(values[AT.lu] as string),
    expiresAt: decodeTime(values[AT.ex] as string),
    absoluteExpiresAt: decodeTime(values[AT.ad] as string),
  };
  if (values[AT.bd] === '1') record.bound = true;
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
 * The Lua that reads each older layout (fewest fields last but one: newest first), one literal
 * pattern each: the missing fields read as empty, and the session is written back with
 * {@link RAW_USER_AGENT_FIELD_COUNT} fields (its `ua` is still a raw User-Agent, see SESSION_FIELDS).
 */
function legacyDecoding(): string {
  let lua = '';
  for (let count = SESSION_FIELDS.length - 1; count >= OLDEST_FIELD_COUNT; count--) {
    lua +=
      `  fields = { string.match(s, '${luaFieldsPattern(count)}') }\n` +
      `  if #fields == ${count} then\n` +
      `    for at = ${count + 1}, FIELD_COUNT do fields[at] = '' end\n` +
      `    return fields, ${RAW_USER_AGENT_FIELD_COUNT}\n` +
      '  end\n';
  }
  return lua;
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
-- Returns the fields (those stored before they existed as empty) and how many to write back.
local function decode(s)
  local fields = { string.match(s, '${luaFieldsPattern(SESSION_FIELDS.length)}') }
  if #fields == FIELD_COUNT then return fields, FIELD_COUNT end
${legacyDecoding()}  error('stored session has the wrong number of fields')
end
local function encode(fields, count) return table.concat(fields, SEP, 1, count) end
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
