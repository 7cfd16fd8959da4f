// Refresh tokens: `<sessionId>.<secret>`, their hashes at rest, successor derivation and reuse proof.
import { createHash, createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const SESSION_ID_BYTES = 16;
const SECRET_BYTES = 32;
const REFRESH_TOKEN_PATTERN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/**
 * How many rotations back an earlier token can be proven to belong to its family. Proving costs one
 * HMAC per rotation, and a forged secret for a known session id costs the full walk, so it is bounded:
 * a token older than this is refused without revoking the family. At one rotation per 10-minute
 * access token that is about a week of continuous use.
 */
export const MAX_REUSE_PROOF_ROTATIONS = 1000;

/** A parsed refresh token. */
export interface RefreshTokenParts {
  sessionId: string;
  secret: string;
}

/** A new random session (family) id: 128 bits, base64url. */
export function newSessionId(): string {
  return randomBytes(SESSION_ID_BYTES).toString('base64url');
}

/** A new random refresh secret: 256 bits, base64url. Only issued at login; later ones are derived. */
export function newRefreshSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/** Joins a session id and secret into the cookie value. */
export function formatRefreshToken(parts: RefreshTokenParts): string {
  return `${parts.sessionId}.${parts.secret}`;
}

/** Splits a cookie value into its parts, or `null` when it is not exactly a token this library issues. */
export function parseRefreshToken(value: string): RefreshTokenParts | null {
  const match = REFRESH_TOKEN_PATTERN.exec(value);
  return match ? { sessionId: match[1] as string, secret: match[2] as string } : null;
}

/**
 * How much of a secret's SHA-256 is kept: 128 bits. Finding a secret that matches a stored hash is
 * a 2^128 preimage search however the secret was chosen, while two hashes per session stay small.
 */
const STORED_HASH_BYTES = 16;

/** The only form in which a secret is stored: SHA-256 truncated to 128 bits, base64url (22 characters). */
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

/** The state a store reports when a token matches neither of a family's last two secrets. */
export interface FamilyChain {
  currentHash: string;
  previousHash: string;
  rotations: number;
}

/**
 * Whether `secret` is provably an earlier token of the family: walking the successor derivation
 * forward from it reaches the family's current or previous secret. A forged secret never does.
 */
export function isEarlierToken(key: KeyObject, parts: RefreshTokenParts, chain: FamilyChain): boolean {
  const steps = Math.min(chain.rotations, MAX_REUSE_PROOF_ROTATIONS);
  let secret = parts.secret;
  for (let step = 0; step < steps; step++) {
    secret = deriveSuccessor(key, parts.sessionId, secret);
    const hash = hashSecret(secret);
    if (hashesEqual(hash, chain.currentHash) || (chain.previousHash !== '' && hashesEqual(hash, chain.previousHash))) {
      return true;
    }
  }
  return false;
}
