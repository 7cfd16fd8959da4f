// Access tokens: signing the short-lived JWTs, and verifying them with one pinned algorithm and the configured KeyObjects.

import { constants, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { InvalidAccessTokenError } from '../errors';
import { setClaim } from '../shared/claims';
import { addVerificationClaims, type Verification } from '../shared/verification';
import { type AccessTokenPayload, tokenVerifier } from './access-token-verification';
import { type HmacHash, hmacBase64url } from './hashing';
import { randomId } from './random-ids';
import { newSessionId } from './refresh-token';
import { type AccessTokenAlgorithm, keyRetired, MAX_KID_LENGTH } from './signing-keys';

export type { AccessTokenPayload } from './access-token-verification';

/** The access-token part of the resolved configuration: the keys, the lifetime and the claims every token must carry. */
export interface AccessTokenSettings {
  algorithm: AccessTokenAlgorithm;
  /** The key new tokens are signed with (the first of `keys`). */
  signingKey: KeyObject;
  /** The verifying half of `signingKey` (the same secret for `HS*`); checks tokens without a `kid`. */
  verifyingKey: KeyObject;
  /** The `kid` new tokens carry; undefined for `HS*`, whose tokens have none. */
  kid: string | undefined;
  /** Every public key that verifies, by `kid`, the signing one first; empty for `HS*`. What the JWKS publishes. */
  verifyingKeys: ReadonlyMap<string, KeyObject>;
  /** When keys given a `notAfter` stop verifying (epoch ms), by `kid`; only those keys. */
  keyNotAfter: ReadonlyMap<string, number>;
  ttlMs: number;
  issuer: string | undefined;
  audience: string | undefined;
}

/** The `typ` the library puts in its tokens (RFC 9068 §2.1). */
const TOKEN_TYPE = 'at+jwt';

/** A signed access token and its lifetime in seconds (the `expiresIn` of the answer). */
export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
}

/** Signs and verifies access tokens for one resolved configuration. */
export interface AccessTokenCodec {
  /**
   * Issues a token for a session; `now` and `sessionExpiresAt` are epoch milliseconds. The token
   * expires after the configured ttl, but never after its session dies: once the session is gone
   * nothing could revoke the token any more. `authTime` is the session's login time (epoch ms),
   * `claimsTime` when its claims were last updated (epoch ms; the token carries it as `claims_time`), if ever;
   * `verification`, when the session has one, adds `amr`, `acr` and `reauth_time`.
   */
  issue(input: {
    userId: string;
    sessionId: string;
    claims: Record<string, unknown>;
    now: number;
    sessionExpiresAt: number;
    authTime: number;
    claimsTime?: number | undefined;
    verification?: Verification | undefined;
  }): IssuedAccessToken;
  /** Verifies a token, or throws {@link InvalidAccessTokenError}. */
  verify(token: string): AccessTokenPayload;
  /**
   * The length, in characters, of the longest token {@link AccessTokenCodec.issue} makes for this
   * user and these claims (every time claim at its widest), found without signing: whether a
   * session's tokens will fit an `Authorization` header is known before the session exists.
   */
  longestTokenLength(userId: string, claims: Record<string, unknown>): number;
}

/** The random bytes of a token's `jti`. */
const JTI_BYTES = 12;
/** A session id as wide as every session id: stands in for one in {@link AccessTokenCodec.longestTokenLength}. */
const SESSION_ID_STAND_IN = newSessionId();
/** The widest `iat`/`exp` (seconds) until the year 2286, and the widest `auth_time` and `claims_time` (with milliseconds). */
const WIDEST_SECONDS = 9_999_999_999;
const WIDEST_AUTH_TIME = 9_999_999_999.999;
/** The widest verification a token can carry (see proofProblem): 8 method names of 32 characters, a 128-character `acr`, a step-up time (other than the login's, so it counts). */
const WIDEST_VERIFICATION: Verification = { at: WIDEST_AUTH_TIME * 1000 - 1, amr: Array(8).fill('m'.repeat(32)), acr: 'a'.repeat(128) };

/** Where b64json encodes what fits, instead of a new Buffer per token. */
const JSON_SCRATCH = Buffer.allocUnsafe(4096);

/** `value` as JSON, base64url: a JWS header or payload. */
const b64json = (value: object): string => {
  const json = JSON.stringify(value);
  if (json.length * 3 > JSON_SCRATCH.length) return Buffer.from(json).toString('base64url');
  return JSON_SCRATCH.toString('base64url', 0, JSON_SCRATCH.write(json));
};

/**
 * Adds the app's claims to a payload that holds the library's own, which win over a claim of the
 * same name (as `{ ...claims, sub, … }` would have it; a store that hands back no claims adds none).
 * Copied one by one because that spread, an object spread followed by more properties, takes V8's
 * slow path: about 6 µs per token against under 1 µs for the loop, measured, on the busiest route.
 */
function addClaims(payload: AccessTokenPayload, claims: Record<string, unknown> | null | undefined): void {
  if (claims === null || claims === undefined) return;
  for (const name of Object.keys(claims)) if (!Object.hasOwn(payload, name)) setClaim(payload, name, claims[name]);
}

/**
 * The JWS signature of a signing input, base64url, made with `node:crypto` as RFC 7518 §3 defines
 * each algorithm: HMAC, RSASSA-PKCS1-v1_5, RSASSA-PSS (salt as long as the hash), ECDSA (`r ‖ s`),
 * and EdDSA (RFC 8037). jsonwebtoken verifies what this signs, so the two are checked against
 * each other on every algorithm by the tests.
 */
function jwsSigner(algorithm: AccessTokenAlgorithm, key: KeyObject): (signingInput: string) => string {
  if (algorithm === 'EdDSA') return (input) => cryptoSign(null, Buffer.from(input), key).toString('base64url');
  const hash = `sha${algorithm.slice(2)}`;
  switch (algorithm.slice(0, 2)) {
    case 'HS':
      return hmacBase64url(hash as HmacHash, key);
    case 'PS':
      return (input) =>
        cryptoSign(hash, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }).toString(
          'base64url',
        );
    case 'ES':
      return (input) => cryptoSign(hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    default:
      return (input) => cryptoSign(hash, Buffer.from(input), key).toString('base64url');
  }
}

/**
 * Builds the codec for a configuration. Tokens are signed with `node:crypto` ({@link jwsSigner});
 * `HS*`, `RS*`, `PS*` and `ES*` are verified by jsonwebtoken, `EdDSA` (which jsonwebtoken lacks) with
 * `node:crypto` under the same rules. Either way only the configured algorithm is accepted and `typ` must be `at+jwt` (or
 * `application/at+jwt`). Tokens carry the signing key's `kid` (not for `HS*`); a token's `kid` picks
 * its verifying key from the configured ones only: `jwk`, `jku`, `x5u`, `x5c` and the like are never
 * looked at, nothing is ever fetched, and an unknown `kid` is refused, as is one whose key is past its
 * `notAfter`. A token without `kid` is checked against the signing key alone (`HS*` tokens, and those
 * issued before tokens carried one).
 */
export function createAccessTokenCodec(config: AccessTokenSettings): AccessTokenCodec {
  const { algorithm, signingKey, verifyingKey, kid, verifyingKeys, keyNotAfter, ttlMs, issuer, audience } = config;
  const ttlSeconds = Math.ceil(ttlMs / 1000);
  const header = kid === undefined ? { alg: algorithm, typ: TOKEN_TYPE } : { alg: algorithm, typ: TOKEN_TYPE, kid };
  const encodedHeader = b64json(header);

  const signature = jwsSigner(algorithm, signingKey);
  const signJws = (payload: AccessTokenPayload): string => {
    const signingInput = `${encodedHeader}.${b64json(payload)}`;
    return `${signingInput}.${signature(signingInput)}`;
  };
  // Every signature of one key and algorithm has the same length (RSA: the modulus; ECDSA as r ‖ s; HMAC, EdDSA: fixed).
  const signatureLength = signature(encodedHeader).length;

  /** The payload of a token (times in seconds): the library's claims, `iss` and `aud` when configured, then the app's claims. */
  const payloadOf = (
    userId: string,
    sessionId: string,
    claims: Record<string, unknown>,
    iat: number,
    exp: number,
    authTime: number,
    claimsTime: number | undefined,
    verification: Verification | undefined,
  ) => {
    const payload: AccessTokenPayload = { sub: userId, sid: sessionId, jti: randomId(JTI_BYTES), iat, exp, auth_time: authTime };
    // Only for a session whose claims were updated: a token of any other is what it always was.
    if (claimsTime !== undefined) payload.claims_time = claimsTime;
    if (issuer !== undefined) payload.iss = issuer;
    if (audience !== undefined) payload.aud = audience;
    if (verification !== undefined) addVerificationClaims(payload, verification, Math.round(authTime * 1000));
    addClaims(payload, claims);
    return payload;
  };

  /** The verifying key a token's header names, from the configured keys only. */
  const keyFor = (tokenHeader: Record<string, unknown>): KeyObject => {
    if (!Object.hasOwn(tokenHeader, 'kid')) return verifyingKey;
    const tokenKid = tokenHeader.kid;
    if (typeof tokenKid !== 'string' || tokenKid.length === 0 || tokenKid.length > MAX_KID_LENGTH) {
      throw new InvalidAccessTokenError('invalid kid');
    }
    const key = verifyingKeys.get(tokenKid);
    if (key === undefined) throw new InvalidAccessTokenError('unknown kid');
    if (keyNotAfter.size > 0 && keyRetired(keyNotAfter, tokenKid, Date.now())) throw new InvalidAccessTokenError('retired kid (past its notAfter)');
    return key;
  };

  const verify = tokenVerifier({ algorithms: new Set([algorithm]), keyFor: (tokenHeader) => keyFor(tokenHeader), issuer, audience });

  return {
    issue({ userId, sessionId, claims, now, sessionExpiresAt, authTime, claimsTime, verification }) {
      const iat = Math.floor(now / 1000);
      const exp = Math.min(iat + ttlSeconds, Math.floor(sessionExpiresAt / 1000));
      const payload = payloadOf(userId, sessionId, claims, iat, exp, authTime / 1000, claimsTime === undefined ? undefined : claimsTime / 1000, verification);
      return { token: signJws(payload), expiresIn: Math.max(0, exp - iat) };
    },

    longestTokenLength(userId, claims) {
      // With `claims_time`: any session's claims may be updated later on; and the widest proof of identity.
      const payload = payloadOf(userId, SESSION_ID_STAND_IN, claims, WIDEST_SECONDS, WIDEST_SECONDS, WIDEST_AUTH_TIME, WIDEST_AUTH_TIME, WIDEST_VERIFICATION);
      const payloadBytes = Buffer.byteLength(JSON.stringify(payload));
      return encodedHeader.length + 1 + Math.ceil((payloadBytes * 4) / 3) + 1 + signatureLength;
    },

    verify,
  };
}
