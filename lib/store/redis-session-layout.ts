// How RedisStore lays a session out in Redis: one string of fields, the single source for the Lua scripts and for reading.
import { deviceLabel } from '../device-label';
import type { Verification } from '../shared/verification';
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
 * - `nw` the network label (`198.51.100.0/24`, or the whole address, by the `sessionNetwork` option),
 *   or `-` when none is kept: never empty, so a session whose `nw` is empty was stored before it
 *   existed, and holds a raw User-Agent in `ua` (labelled when read, see {@link readSessionRecord});
 * - `sv` the user's latest proof of identity ({@link encodeVerification}), empty when none;
 * - `cu` when the session's claims were last changed by `auth.updateClaims` (base 36 like the other
 *   times), empty when never.
 *
 * Fields are only ever added at the end: a session stored before the last ones existed (from
 * {@link OLDEST_FIELD_COUNT} fields on) reads them as empty, and is written with them when it changes.
 */
export const SESSION_FIELDS = ['u', 'c', 'ua', 'ca', 'lu', 'ex', 'ad', 'cur', 'prev', 'gen', 'cl', 'bd', 'nw', 'sv', 'cu'] as const;

/** The fewest fields a stored session may have: the layout before `bd` (a bound family) existed. */
export const OLDEST_FIELD_COUNT = 11;

/** What `nw` holds for a session that keeps no network label (see SESSION_FIELDS). */
const NO_NETWORK = '-';

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

/**
 * A proof of identity as stored (`sv`): `<at>|<amr, space-separated>|<acr>`, `at` in base 36 and left
 * out when it is the login's own time (`loginAt`: the proof `authenticate` reported, a few bytes kept
 * in every session); empty for none.
 */
export function encodeVerification(verification: Verification | undefined, loginAt?: number): string {
  if (verification === undefined) return '';
  const at = verification.at === loginAt ? '' : encodeTime(verification.at);
  return `${at}|${verification.amr.join(' ')}|${verification.acr ?? ''}`;
}

/** Reads a stored proof of identity back (its time the login's, `loginAt`, when left out); `undefined` for an empty or unreadable one. */
function decodeVerification(text: string, loginAt: number): Verification | undefined {
  if (text === '') return undefined;
  const [at, amr, acr] = text.split('|');
  const time = at === '' ? loginAt : at === undefined ? NaN : decodeTime(at);
  if (!Number.isFinite(time) || amr === undefined) return undefined;
  const verification: Verification = { at: time, amr: amr === '' ? [] : amr.split(' ') };
  if (acr !== undefined && acr !== '') verification.acr = acr;
  return verification;
}

/** Reads a stored time back (epoch ms). */
export function decodeTime(text: string): number {
  return parseInt(text, 36);
}

/** Packs a session's fields into the stored string. */
export function encodeSession(fields: StoredSession): string {
  return SESSION_FIELDS.map((name) => fields[name]).join(FIELD_SEPARATOR);
}

/** The stored string's field values, in {@link SESSION_FIELDS} order (those it lacks, stored before they existed, empty); throws when it is not a session of this layout. */
function splitFields(value: string): string[] {
  const values = value.split(FIELD_SEPARATOR);
  if (values.length < OLDEST_FIELD_COUNT || values.length > SESSION_FIELDS.length) {
    throw new Error(`stored session has ${values.length} fields, expected ${OLDEST_FIELD_COUNT} to ${SESSION_FIELDS.length}`);
  }
  while (values.length < SESSION_FIELDS.length) values.push('');
  return values;
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
    nw: session.network === '' ? NO_NETWORK : session.network,
    sv: encodeVerification(session.verification, session.now),
    cu: '',
  });
}

/** Reads a stored string back into fields as stored (a `ua` stored before `nw` existed stays raw), or throws when it is not a session of this layout. */
export function decodeSession(value: string): StoredSession {
  const values = splitFields(value);
  const fields = {} as StoredSession;
  for (let index = 0; index < SESSION_FIELDS.length; index++) fields[SESSION_FIELDS[index] as Field] = values[index] as string;
  return fields;
}

/** Each field's index in the stored string, by name. */
const AT = Object.fromEntries(SESSION_FIELDS.map((name, index) => [name, index])) as Record<Field, number>;

/** A field's position as Lua counts it (from 1): what a script that sets fields by number is given. */
export function luaFieldNumber(name: Field): number {
  return AT[name] + 1;
}

/**
 * The public record of a stored session, read straight from the stored string (the record is what
 * every refresh reads, so no intermediate {@link StoredSession} is built), or throws when it is not
 * a session of this layout.
 */
export function readSessionRecord(sessionId: string, value: string): SessionRecord {
  const values = splitFields(value);
  const network = values[AT.nw] as string;
  // Stored before `nw` existed (it is never empty since), `ua` is the raw User-Agent: shown as its label, never as it is.
  const device = network === '' ? deviceLabel(values[AT.ua]) : (values[AT.ua] as string);
  const record: SessionRecord = {
    sessionId,
    userId: values[AT.u] as string,
    claims: parseClaims(values[AT.c] as string),
    userAgent: device,
    device,
    network: network === NO_NETWORK ? '' : network,
    createdAt: decodeTime(values[AT.ca] as string),
    lastUsedAt: decodeTime(values[AT.lu] as string),
    expiresAt: decodeTime(values[AT.ex] as string),
    absoluteExpiresAt: decodeTime(values[AT.ad] as string),
  };
  if (values[AT.bd] === '1') record.bound = true;
  const verification = decodeVerification(values[AT.sv] as string, decodeTime(values[AT.ca] as string));
  if (verification !== undefined) record.verification = verification;
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
 * The Lua prelude every script that reads a session starts with, generated from
 * {@link SESSION_FIELDS}: `decode`/`encode` and
 * `readTime`/`writeTime` mirror the functions above. It runs on every call, so it builds nothing
 * it can be handed ready-made: the fields' pattern is a literal, `writeTime` makes one string.
 */
const LUA_SESSION_LAYOUT = `
local SEP = '\\031'
local FIELD_COUNT = ${SESSION_FIELDS.length}
-- Returns the fields; those of a session stored before they existed, empty.
local function decode(s)
  local fields = { string.match(s, '${luaFieldsPattern(SESSION_FIELDS.length)}') }
  if #fields == FIELD_COUNT then return fields end
  -- Stored before its last fields existed: they read as empty.
  fields = {}
  for value in string.gmatch(s .. SEP, '([^\\031]*)\\031') do fields[#fields + 1] = value end
  if #fields < ${OLDEST_FIELD_COUNT} or #fields > FIELD_COUNT then error('stored session has the wrong number of fields') end
  for index = #fields + 1, FIELD_COUNT do fields[index] = '' end
  return fields
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
