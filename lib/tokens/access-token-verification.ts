// Verifying access tokens: the header's rules, the key its kid picks, the signature, and the time, issuer and audience claims; one verification for createAuth and the verifier.
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ErrorCodes, InvalidAccessTokenError } from '../errors';
import { jsonObjectSegment } from './json-segment';
import type { AccessTokenAlgorithm } from './signing-keys';

/**
 * The JWT payload of an access token: `req.auth.payload`, verified and frozen.
 *
 * @example
 * ```ts
 * import type { AccessTokenPayload } from 'express-refresh-tokens';
 *
 * function secondsLeft(payload: AccessTokenPayload): number {
 *   return payload.exp - Math.floor(Date.now() / 1000);
 * }
 * app.get('/api/token-info', auth.requireAuth(), (req, res) => {
 *   const payload = req.auth!.payload;
 *   res.json({ user: payload.sub, session: payload.sid, loggedInAt: new Date(payload.auth_time * 1000), secondsLeft: secondsLeft(payload) });
 * });
 * ```
 */
export interface AccessTokenPayload {
  /** The user id. */
  sub: string;
  /** The session (refresh-token family) id. */
  sid: string;
  /** A unique id for this token. */
  jti: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
  /** When the login that started the session began, seconds since the epoch with millisecond fractions (RFC 9068 §2.2.1). */
  auth_time: number;
  /** How the user last proved who they are (RFC 8176 method references), when the login or a step-up said. */
  amr?: string[];
  /** The authentication context class of that proof, when the app gave one. */
  acr?: string;
  /** When the user last re-authenticated (`POST /reauth`), seconds with millisecond fractions; absent before any step-up. */
  reauth_time?: number;
  /**
   * When `auth.updateClaims` last changed the session's claims, seconds since the epoch with
   * millisecond fractions (like `auth_time`); absent while the claims are still those of the login.
   * The token's claims date from `claims_time`, else from `auth_time`.
   */
  claims_time?: number;
  /** The issuer, when `accessToken.issuer` is set. */
  iss?: string;
  /** The audience, when `accessToken.audience` is set. */
  aud?: string | string[];
  /** The app's extra claims. */
  [claim: string]: unknown;
}

/** The `typ` values accepted, compared case-insensitively: RFC 9068 §4 requires `at+jwt` or `application/at+jwt`. */
const ACCEPTED_TYPES: ReadonlySet<string> = new Set(['at+jwt', 'application/at+jwt']);
/**
 * The longest protected header read, in base64url characters. The library's own headers are under 200;
 * this bounds the JSON parsed for a token that has not been checked yet.
 */
const MAX_HEADER_CHARS = 1024;

const expired = (): InvalidAccessTokenError => new InvalidAccessTokenError('jwt expired', ErrorCodes.ERR_ACCESS_TOKEN_EXPIRED);

/**
 * A token names a `kid` the verifier does not hold (yet): a verifier that fetches its keys fetches
 * again (bounded) and retries; anything else refuses it like any invalid token.
 */
export class UnknownKeyError extends InvalidAccessTokenError {
  /**
   * @param kid - The `kid` the token names.
   * @param alg - The token's `alg`, already one of the accepted algorithms.
   */
  constructor(
    readonly kid: string,
    readonly alg: AccessTokenAlgorithm,
  ) {
    super('unknown kid');
  }
}

/** What verifying tokens needs: the algorithms accepted, the key a header picks, and the `iss`/`aud` required. */
export interface TokenVerifierOptions {
  /** The only algorithms accepted (a token's `alg` must be one); `none` is never one. */
  algorithms: ReadonlySet<AccessTokenAlgorithm>;
  /**
   * The key a token's protected header picks (by its `kid`, or none) for its `alg`, from keys the
   * verifier holds: never from the header itself (`jwk`, `jku`, `x5u`, `x5c` are not read). Throws
   * an {@link InvalidAccessTokenError} for an unknown or unusable `kid`.
   */
  keyFor(header: Record<string, unknown>, alg: AccessTokenAlgorithm): KeyObject;
  issuer: string | undefined;
  audience: string | undefined;
}

/**
 * A function that verifies an access token, or throws {@link InvalidAccessTokenError}: canonical
 * base64url signature, a header of at most 1 KB with an accepted `alg`, `typ` `at+jwt` (or
 * `application/at+jwt`) and no `crit`; the signature with the key `keyFor` picks (jsonwebtoken for
 * `HS*`, `RS*`, `PS*`, `ES*`; `node:crypto` for `EdDSA`, which jsonwebtoken lacks, under the same
 * rules); `exp` (required), `nbf`, `iss` and `aud`; and the claims the library puts in every token.
 */
export function tokenVerifier(options: TokenVerifierOptions): (token: string) => AccessTokenPayload {
  const { algorithms, keyFor, issuer, audience } = options;

  /** Checks the signature with `key` and the time, issuer and audience claims; returns the payload. */
  const verifyJws = (token: string, parts: [string, string, string], alg: AccessTokenAlgorithm, key: KeyObject): unknown => {
    if (alg !== 'EdDSA') {
      try {
        return jwt.verify(token, key, { algorithms: [alg], issuer, audience });
      } catch (error) {
        if (error instanceof jwt.TokenExpiredError) throw expired();
        throw new InvalidAccessTokenError(error instanceof Error ? error.message : 'invalid token');
      }
    }
    const [headerPart, payloadPart, signaturePart] = parts;
    if (!cryptoVerify(null, Buffer.from(`${headerPart}.${payloadPart}`), key, Buffer.from(signaturePart, 'base64url'))) {
      throw new InvalidAccessTokenError('invalid signature');
    }
    const payload = decodeJsonPart(payloadPart);
    const nowSeconds = Math.floor(Date.now() / 1000);
    // jsonwebtoken's rules for the other algorithms: a time claim that is present must be a number.
    if (payload.nbf !== undefined) {
      if (typeof payload.nbf !== 'number') throw new InvalidAccessTokenError('invalid nbf value');
      if (payload.nbf > nowSeconds) throw new InvalidAccessTokenError('jwt not active');
    }
    if (payload.exp !== undefined) {
      if (typeof payload.exp !== 'number') throw new InvalidAccessTokenError('invalid exp value');
      if (payload.exp <= nowSeconds) throw expired();
    }
    if (issuer !== undefined && payload.iss !== issuer) throw new InvalidAccessTokenError('jwt issuer invalid');
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (audience !== undefined && !audiences.includes(audience)) throw new InvalidAccessTokenError('jwt audience invalid');
    return payload;
  };

  return function verifyAccessToken(token) {
    const parts = token.split('.');
    if (parts.length !== 3) throw new InvalidAccessTokenError('jwt malformed');
    if ((parts[0] as string).length > MAX_HEADER_CHARS) throw new InvalidAccessTokenError('jwt header too large');
    // One spelling per signature: decoders skip characters outside base64url and ignore the spare
    // bits of the last one, which would let one token be re-spelled, each spelling a new cache entry.
    if (!isCanonicalBase64url(parts[2] as string)) throw new InvalidAccessTokenError('signature not in canonical base64url');
    const tokenHeader = decodeJsonPart(parts[0] as string);
    const alg = tokenHeader.alg;
    if (typeof alg !== 'string' || !algorithms.has(alg as AccessTokenAlgorithm)) throw new InvalidAccessTokenError('invalid algorithm');
    if (typeof tokenHeader.typ !== 'string' || !ACCEPTED_TYPES.has(tokenHeader.typ.toLowerCase())) {
      throw new InvalidAccessTokenError('not an access token (typ is not at+jwt)');
    }
    // RFC 7515 §4.1.11: extensions marked critical must be understood; the library understands none.
    if (Object.hasOwn(tokenHeader, 'crit')) throw new InvalidAccessTokenError('unsupported critical header');
    const key = keyFor(tokenHeader, alg as AccessTokenAlgorithm);
    const payload = verifyJws(token, parts as [string, string, string], alg as AccessTokenAlgorithm, key);
    if (!isAccessTokenPayload(payload)) throw new InvalidAccessTokenError('missing sub, sid, jti, iat, exp or auth_time, or a claims_time that is no number');
    return payload;
  };
}

/** Whether `part` is exactly the unpadded base64url encoding of the bytes it decodes to. */
function isCanonicalBase64url(part: string): boolean {
  return Buffer.from(part, 'base64url').toString('base64url') === part;
}

function decodeJsonPart(part: string): Record<string, unknown> {
  const value = jsonObjectSegment(part);
  if (value === undefined) throw new InvalidAccessTokenError('jwt malformed');
  return value;
}

function isAccessTokenPayload(payload: unknown): payload is AccessTokenPayload {
  if (payload === null || typeof payload !== 'object') return false;
  const p = payload as Record<string, unknown>;
  return (
    typeof p.sub === 'string' &&
    p.sub !== '' &&
    typeof p.sid === 'string' &&
    p.sid !== '' &&
    typeof p.jti === 'string' &&
    typeof p.iat === 'number' &&
    typeof p.exp === 'number' &&
    typeof p.auth_time === 'number' &&
    (p.claims_time === undefined || typeof p.claims_time === 'number')
  );
}
