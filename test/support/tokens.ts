// Test helper for crafting access tokens (JWTs) by hand: signed, unsigned, expired, wrongly typed or wrongly keyed.
import { createHmac, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ACCESS_SECRET } from './harness';

/** Base64url of a JSON value, as a JWS header or payload segment. */
export function segment(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Seconds since the epoch. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** A complete, valid access-token payload for a made-up session; override or drop (`undefined`) any claim. */
export function accessClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = nowSeconds();
  const claims: Record<string, unknown> = {
    role: 'admin',
    sub: 'user-crafted',
    sid: randomBytes(16).toString('base64url'),
    jti: randomBytes(12).toString('base64url'),
    iat,
    exp: iat + 600,
    auth_time: Date.now() / 1000,
    ...overrides,
  };
  for (const key of Object.keys(claims)) if (claims[key] === undefined) delete claims[key];
  return claims;
}

/**
 * Builds a compact JWS by hand. `key` null gives an empty signature (as `alg: none` tokens have);
 * otherwise the signature is HMAC-SHA256 over the signing input with `key` (whatever the header says).
 */
export function handmadeToken(header: Record<string, unknown>, payload: Record<string, unknown>, key: string | Buffer | null): string {
  const input = `${segment(header)}.${segment(payload)}`;
  const signature = key === null ? '' : createHmac('sha256', key).update(input).digest('base64url');
  return `${input}.${signature}`;
}

/** An HS256 token signed by jsonwebtoken with the harness ACCESS_SECRET (or another secret) and `typ` (default at+jwt). */
export function signHs256(payload: Record<string, unknown>, options: { secret?: string; typ?: string | null } = {}): string {
  const typ = options.typ === undefined ? 'at+jwt' : options.typ;
  if (typ === null) return handmadeToken({ alg: 'HS256' }, payload, options.secret ?? ACCESS_SECRET);
  return jwt.sign(payload, options.secret ?? ACCESS_SECRET, { algorithm: 'HS256', header: { alg: 'HS256', typ } });
}

/** The `sid` claim of an access token issued by the library (decoded, not verified). */
export function sidOf(accessToken: string): string {
  const payload = jwt.decode(accessToken);
  if (payload === null || typeof payload !== 'object' || typeof payload.sid !== 'string') {
    throw new Error('not an access token with a sid');
  }
  return payload.sid;
}

/** The session id part of a refresh token `<sessionId>.<generation>.<secret>.<mac>`. */
export function sessionIdOfRefreshToken(refreshToken: string): string {
  return refreshToken.split('.')[0] as string;
}

/** A refresh token with a real-looking shape for `sessionId` (generation 0) but a random secret and MAC: never issued. */
export function forgedRefreshToken(sessionId: string, generation = 0): string {
  return `${sessionId}.${generation.toString(36)}.${randomBytes(32).toString('base64url')}.${randomBytes(16).toString('base64url')}`;
}
