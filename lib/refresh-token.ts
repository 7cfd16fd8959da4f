// Refresh tokens: `<sessionId>.<generation>.<secret>.<mac>`, their hashes at rest, successor derivation and the client fingerprint.
import { createHash, createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';

const SESSION_ID_BYTES = 16;
const SECRET_BYTES = 32;
const MAC_BYTES = 16;
/** `<22 chars>.<base-36 generation>.<43 chars>.<22 chars>`; at most a billion-odd rotations fit in 6 digits. */
const REFRESH_TOKEN_PATTERN = /^([A-Za-z0-9_-]{22})\.(0|[1-9a-z][0-9a-z]{0,5})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$/;

/** A parsed refresh token: its family, its place in the family (0 at login), and its secret. */
export interface RefreshTokenParts {
  sessionId: string;
  generation: number;
  secret: string;
}

/** The two keys derived from `refreshToken.secret`: one for successors, one for the tokens' MAC. */
export interface RefreshTokenKeys {
  successorKey: KeyObject;
  macKey: KeyObject;
}

/** Derives the MAC key from the successor key, so one configured secret serves both, for different purposes. */
export function refreshTokenKeys(successorKey: KeyObject): RefreshTokenKeys {
  const macKey = createSecretKey(createHmac('sha256', successorKey).update('express-refresh-tokens refresh token MAC').digest());
  return { successorKey, macKey };
}

/** A new random session (family) id: 128 bits, base64url. */
export function newSessionId(): string {
  return randomBytes(SESSION_ID_BYTES).toString('base64url');
}

/** A new random refresh secret: 256 bits, base64url. Only issued at login; later ones are derived. */
export function newRefreshSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

function mac(key: KeyObject, sessionId: string, generation: string, secret: string): Buffer {
  return createHmac('sha256', key).update(`${sessionId}.${generation}.${secret}`).digest().subarray(0, MAC_BYTES);
}

/** The cookie value of a token: its parts and a MAC over them, keyed by the server. */
export function formatRefreshToken(key: KeyObject, parts: RefreshTokenParts): string {
  const generation = parts.generation.toString(36);
  return `${parts.sessionId}.${generation}.${parts.secret}.${mac(key, parts.sessionId, generation, parts.secret).toString('base64url')}`;
}

/**
 * Reads a cookie value, or `null` when it is not a token this server issued: the wrong shape, or a
 * MAC that does not match (one HMAC, compared in constant time). A forgery is refused here, before
 * the store is asked anything, at the same cost whatever session it names.
 */
export function parseRefreshToken(key: KeyObject, value: string): RefreshTokenParts | null {
  const match = REFRESH_TOKEN_PATTERN.exec(value);
  if (!match) return null;
  const [, sessionId, generation, secret, presentedMac] = match as unknown as [string, string, string, string, string];
  // Compared as text: base64url leaves spare bits in the last character, and only the exact string issued counts.
  if (!timingSafeEqual(Buffer.from(mac(key, sessionId, generation, secret).toString('base64url')), Buffer.from(presentedMac))) return null;
  return { sessionId, generation: parseInt(generation, 36), secret };
}

/**
 * How much of a secret's SHA-256 is kept: 96 bits. Finding a secret that matches a stored hash is
 * a 2^96 preimage search, and a token needs the server's MAC besides, while two hashes per session
 * stay small.
 */
const STORED_HASH_BYTES = 12;

/** The only form in which a secret is stored: SHA-256 truncated to 96 bits, base64url (16 characters). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest().subarray(0, STORED_HASH_BYTES).toString('base64url');
}

/**
 * The secret that succeeds `secret` in its family: `HMAC(refreshToken.secret, sessionId ‖ secret)`.
 * Deterministic, so a retried refresh gets the very successor already issued without storing it.
 */
export function deriveSuccessor(key: KeyObject, sessionId: string, secret: string): string {
  return createHmac('sha256', key).update(`${sessionId}.${secret}`).digest('base64url');
}

/** Compares two hashes in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * What identifies the client that rotated a token, as stored: a keyed hash (64 bits) of its IP
 * address and User-Agent, so the grace window answers a retry only to that client, and the store
 * holds neither the address nor anything it could be guessed back from without the key.
 */
export function clientFingerprint(key: KeyObject, ip: string | undefined, userAgent: string | undefined): string {
  // An IPv4 client seen through a dual-stack listener (`::ffff:1.2.3.4`) is the same client as `1.2.3.4`.
  const address = ip?.startsWith('::ffff:') ? ip.slice(7) : (ip ?? '');
  return createHmac('sha256', key)
    .update(`client\n${address}\n${userAgent ?? ''}`)
    .digest()
    .subarray(0, 8)
    .toString('base64url');
}
