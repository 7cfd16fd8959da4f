// Refresh tokens: `<sessionId>.<generation>.<secret>[.<key thumbprint>].<mac>`, their hashes at rest, successor derivation and the client fingerprints.
import type { KeyObject } from 'node:crypto';
import { addressPrefix } from '../client-address';
import { deriveKey, type HmacFunction, hashesEqual, hmacBase64url, sha256Base64url } from './hashing';
import { randomId } from './random-ids';

const SESSION_ID_BYTES = 16;
const SECRET_BYTES = 32;
const MAC_BYTES = 16;
/**
 * `<22 chars>.<base-36 generation>.<43 chars>[.<43 chars>].<22 chars>`; at most a billion-odd
 * rotations fit in 6 digits. The optional part is the thumbprint of the key a bound family's proofs
 * must be signed with: under the MAC, so it can be neither changed nor removed.
 */
const REFRESH_TOKEN_PATTERN = /^([A-Za-z0-9_-]{22})\.(0|[1-9a-z][0-9a-z]{0,5})\.([A-Za-z0-9_-]{43})\.(?:([A-Za-z0-9_-]{43})\.)?([A-Za-z0-9_-]{22})$/;

/** A parsed refresh token: its family, its place in the family (0 at login), its secret, and the key its family is bound to. */
export interface RefreshTokenParts {
  sessionId: string;
  generation: number;
  secret: string;
  /** The RFC 7638 thumbprint of the key every refresh of the family must prove possession of; undefined for an unbound family. */
  jkt?: string | undefined;
}

/**
 * HMAC-SHA-256 under the two keys derived from `refreshToken.secret`: one for successors, one for
 * the tokens' MAC (and client fingerprints); and the fingerprints lately computed under the latter.
 */
export interface RefreshTokenKeys {
  successor: HmacFunction;
  mac: HmacFunction;
  /** {@link clientFingerprint}'s results by the message it MACs; bounded, see there. */
  fingerprints: Map<string, string>;
}

/** Derives the MAC key from the successor key, so one configured secret serves both, for different purposes. */
export function refreshTokenKeys(successorKey: KeyObject): RefreshTokenKeys {
  const macKey = deriveKey(successorKey, 'express-refresh-tokens refresh token MAC');
  return { successor: hmacBase64url('sha256', successorKey), mac: hmacBase64url('sha256', macKey), fingerprints: new Map() };
}

/** A new random session (family) id: 128 bits, base64url. */
export function newSessionId(): string {
  return randomId(SESSION_ID_BYTES);
}

/** A new random refresh secret: 256 bits, base64url. Only issued at login; later ones are derived. */
export function newRefreshSecret(): string {
  return randomId(SECRET_BYTES);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Each base64url character's value by char code: a table lookup, not a search whose time depends on the (secret) character. */
const BASE64URL_VALUES = new Uint8Array(128);
for (let value = 0; value < BASE64URL.length; value++) BASE64URL_VALUES[BASE64URL.charCodeAt(value)] = value;

/**
 * The base64url text of the first `bytes` bytes of what `full` (unpadded base64url) encodes, cut
 * from the text itself: the same string as `Buffer.subarray(0, bytes).toString('base64url')`
 * without making the Buffer (allocating them was a visible share of a refresh).
 */
function truncatedBase64url(full: string, bytes: number): string {
  const wholeCharacters = Math.floor((bytes * 8) / 6);
  const spareBits = bytes * 8 - wholeCharacters * 6;
  if (spareBits === 0) return full.slice(0, wholeCharacters);
  const last = (BASE64URL_VALUES[full.charCodeAt(wholeCharacters) & 0x7f] as number) & ((0x3f << (6 - spareBits)) & 0x3f);
  return full.slice(0, wholeCharacters) + BASE64URL.charAt(last);
}

/** `body` is the token without its MAC: `<sessionId>.<generation>.<secret>[.<jkt>]`. */
function mac(keys: RefreshTokenKeys, body: string): string {
  return truncatedBase64url(keys.mac(body), MAC_BYTES);
}

/** The cookie value of a token: its parts and a MAC over them, keyed by the server. */
export function formatRefreshToken(keys: RefreshTokenKeys, parts: RefreshTokenParts): string {
  const body = `${parts.sessionId}.${parts.generation.toString(36)}.${parts.secret}${parts.jkt === undefined ? '' : `.${parts.jkt}`}`;
  return `${body}.${mac(keys, body)}`;
}

/**
 * Reads a cookie value, or `null` when it is not a token this server issued: the wrong shape, or a
 * MAC that does not match (one HMAC, compared in constant time). A forgery is refused here, before
 * the store is asked anything, at the same cost whatever session it names.
 */
export function parseRefreshToken(keys: RefreshTokenKeys, value: string): RefreshTokenParts | null {
  const match = REFRESH_TOKEN_PATTERN.exec(value);
  if (!match) return null;
  const [, sessionId, generation, secret, jkt, presentedMac] = match as unknown as [string, string, string, string, string | undefined, string];
  // Compared as text: base64url leaves spare bits in the last character, and only the exact string issued counts.
  if (!hashesEqual(mac(keys, value.slice(0, value.length - presentedMac.length - 1)), presentedMac)) return null;
  return { sessionId, generation: parseInt(generation, 36), secret, jkt };
}

/**
 * How much of a secret's SHA-256 is kept: 96 bits. Finding a secret that matches a stored hash is
 * a 2^96 preimage search, and a token needs the server's MAC besides, while two hashes per session
 * stay small.
 */
const STORED_HASH_BYTES = 12;

/** The only form in which a secret is stored: SHA-256 truncated to 96 bits, base64url (16 characters). */
export function hashSecret(secret: string): string {
  return truncatedBase64url(sha256Base64url(secret), STORED_HASH_BYTES);
}

/**
 * The secret that succeeds `secret` in its family: `HMAC(refreshToken.secret, sessionId ‖ secret)`.
 * Deterministic, so a retried refresh gets the very successor already issued without storing it.
 */
export function deriveSuccessor(keys: RefreshTokenKeys, sessionId: string, secret: string): string {
  return keys.successor(`${sessionId}.${secret}`);
}

/**
 * What identifies the client of a bound family, as stored: a keyed hash (64 bits) of its key's
 * thumbprint. The grace window of a bound family answers a retry to the holder of the key, whatever
 * its address (mobile networks change it) or User-Agent.
 */
export function keyFingerprint(keys: RefreshTokenKeys, jkt: string): string {
  return truncatedBase64url(keys.mac(`key\n${jkt}`), 8);
}

/**
 * What the store remembers of where a user signed in from, to tell a new device: a keyed hash (64
 * bits) of the login's device label and network label, never the pair itself, so the set of a user's
 * devices reads as nothing without the server's key.
 */
export function deviceFingerprint(keys: RefreshTokenKeys, device: string, network: string): string {
  return truncatedBase64url(keys.mac(`device\n${device}\n${network}`), 8);
}

/**
 * The `DPoP-Nonce` for the token of `generation` in a family: a keyed hash (128 bits), so nobody but
 * the server can make one, and no state holds it. A proof carrying it is good for that one token:
 * once the family rotates, the next token's nonce is another.
 */
export function proofNonce(keys: RefreshTokenKeys, sessionId: string, generation: number): string {
  return truncatedBase64url(keys.mac(`nonce\n${sessionId}.${generation.toString(36)}`), 16);
}

/** What the store keeps of a proof: a hash (96 bits) of its key and `jti`, so the very proof cannot be replayed. */
export function proofHash(jkt: string, jti: string): string {
  return truncatedBase64url(sha256Base64url(`proof\n${jkt}\n${jti}`), STORED_HASH_BYTES);
}

/** How many client fingerprints a key set remembers (see {@link clientFingerprint}). */
export const REMEMBERED_FINGERPRINTS = 1024;
/** The longest fingerprint message remembered: an address and a User-Agent of up to about 450 characters. */
const MAX_REMEMBERED_MESSAGE_LENGTH = 512;

/**
 * How much of an IPv6 address the grace window binds to: its /64, the network one home or phone holds
 * and moves within (a privacy address changes the rest every day or so, and on every new network).
 */
export const CLIENT_IPV6_PREFIX_BITS = 64;

/**
 * What identifies the client that rotated a token, as stored: a keyed hash (64 bits) of its network
 * (the IPv4 address; the IPv6 /64: {@link addressPrefix}, so every spelling of one address, IPv4-mapped
 * included, is one client) and its User-Agent, so the grace window answers a retry only to that
 * client, and the store holds neither the address nor anything it could be guessed back from
 * without the key.
 */
export function clientFingerprint(keys: RefreshTokenKeys, ip: string | undefined, userAgent: string | undefined): string {
  // A client refreshes every few minutes from the same address and browser: its fingerprint is
  // remembered, by what the request said, rather than normalised and MACed again (an HMAC is two hash
  // calls). Only short messages are kept, and at most REMEMBERED_FINGERPRINTS of them (all forgotten
  // when full), so memory stays under a megabyte whatever clients send. They are keyed hashes of what
  // every request shows anyway: nothing secret.
  const said = `${ip ?? ''}\n${userAgent ?? ''}`;
  const remembered = keys.fingerprints.get(said);
  if (remembered !== undefined) return remembered;
  const fingerprint = truncatedBase64url(keys.mac(`client\n${addressPrefix(ip, CLIENT_IPV6_PREFIX_BITS)}\n${userAgent ?? ''}`), 8);
  if (said.length <= MAX_REMEMBERED_MESSAGE_LENGTH) {
    if (keys.fingerprints.size >= REMEMBERED_FINGERPRINTS) keys.fingerprints.clear();
    keys.fingerprints.set(said, fingerprint);
  }
  return fingerprint;
}
