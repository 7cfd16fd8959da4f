// The public options of createAuth, and their validation into one resolved internal configuration.
import { createPrivateKey, createPublicKey, createSecretKey, KeyObject, sign, verify } from 'node:crypto';
import type { Request } from 'express';
import { describeValue } from './describe-value';
import { type Duration, describeMs, parseDuration } from './duration';
import { ErrorCodes } from './errors';
import { checkKnownKeys, fail, missingOr } from './option-checks';
import { type RateLimitOptions, type ResolvedRateLimit, resolveRateLimit } from './rate-limit';
import { DEFAULT_COOKIE_NAMES, DEFAULT_CSRF_HEADER } from './shared/protocol';
import { jwkThumbprint, KID_PATTERN, MAX_KID_LENGTH } from './signing-keys';
import type { SessionStore } from './store/session-store';
import { MAX_ACCESS_TTL_MS, REVOCATION_LEEWAY_MS } from './token-lifetimes';

/**
 * Signing algorithms for access tokens. `none` is never accepted. `HS*` take `accessToken.secret`;
 * the others take `privateKey`/`publicKey` or `keys`, and their public keys are published in the JWKS.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import type { AccessTokenAlgorithm, AccessTokenOptions } from 'express-refresh-tokens';
 *
 * const algorithm: AccessTokenAlgorithm = 'EdDSA';
 * const accessToken: AccessTokenOptions = { algorithm, privateKey: readFileSync('keys/ed25519.pem') };
 * ```
 */
export type AccessTokenAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA';

/**
 * A key as PEM text, a Buffer holding PEM, or a Node `KeyObject`.
 *
 * @example
 * ```ts
 * import { createPrivateKey } from 'node:crypto';
 * import { readFileSync } from 'node:fs';
 * import type { KeyInput } from 'express-refresh-tokens';
 *
 * const fromFile: KeyInput = readFileSync('keys/signing.pem');
 * const fromEnv: KeyInput = createPrivateKey(process.env.SIGNING_KEY_PEM ?? '');
 * ```
 */
export type KeyInput = string | Buffer | KeyObject;

/**
 * Options for access tokens (the JWTs `requireAuth()` checks).
 *
 * @example
 * ```ts
 * import type { AccessTokenOptions } from 'express-refresh-tokens';
 *
 * const accessToken: AccessTokenOptions = {
 *   algorithm: 'HS256', // the default
 *   secret: process.env.ACCESS_TOKEN_SECRET ?? '', // 32+ bytes
 *   ttl: '5m', // default '10m'
 *   issuer: 'https://auth.example', // then required on every token
 *   audience: 'api.example',
 * };
 * ```
 */
export interface AccessTokenOptions {
  /** The one algorithm tokens are signed and verified with. Defaults to `'HS256'`. */
  algorithm?: AccessTokenAlgorithm;
  /** The HMAC key for `HS*`: at least as many bytes as the hash (32 for HS256). Required for `HS*`. */
  secret?: string | Buffer;
  /**
   * The signing key for `RS*`/`PS*`/`ES*`/`EdDSA`. Required for those algorithms, unless `keys` is given.
   * Tokens carry its RFC 7638 thumbprint as `kid`.
   */
  privateKey?: KeyInput;
  /** The verification key; derived from `privateKey` when omitted. */
  publicKey?: KeyInput;
  /**
   * Several keys, for rotation without logging anyone out (instead of `privateKey`/`publicKey`; not for `HS*`).
   * The first signs and must have a `privateKey`; every one verifies tokens carrying its `kid`, so a retired
   * key can stay, public-only, until its last tokens have expired; give it a `notAfter` and it stops verifying
   * then, whenever the app restarts. All not yet past their `notAfter` are published at `/.well-known/jwks.json`.
   *
   * @example
   * ```ts
   * const accessToken: AccessTokenOptions = {
   *   algorithm: 'ES256',
   *   keys: [
   *     { kid: '2025-06', privateKey: readFileSync('keys/2025-06.pem') }, // signs new tokens
   *     { kid: '2025-01', publicKey: readFileSync('keys/2025-01.pub.pem'), notAfter: '2025-06-02T00:00:00Z' }, // checks its tokens until then
   *   ],
   * };
   * ```
   */
  keys?: AccessTokenKeyOptions[];
  /** Access token lifetime: seconds, or a string like `'10m'`. Defaults to `'10m'`. */
  ttl?: Duration;
  /** The `iss` claim; when set, tokens without it are rejected. Defaults to none. */
  issuer?: string;
  /** The `aud` claim; when set, tokens without it are rejected. Defaults to none. */
  audience?: string;
}

/**
 * One key of `accessToken.keys`.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import type { AccessTokenKeyOptions } from 'express-refresh-tokens';
 *
 * const next: AccessTokenKeyOptions = { kid: '2025-06', publicKey: readFileSync('keys/2025-06.pub.pem') }; // verifies only, for now
 * const current: AccessTokenKeyOptions = { privateKey: readFileSync('keys/current.pem') }; // kid: its RFC 7638 thumbprint
 * const keys = [current, next]; // `accessToken.keys`: the first signs
 * ```
 */
export interface AccessTokenKeyOptions {
  /**
   * The key id put in the `kid` header of the tokens it signs: 1 to 64 printable ASCII characters, unique.
   * Defaults to the key's RFC 7638 thumbprint, the kid a lone `privateKey` gets, so a key moved from
   * `privateKey` into `keys` without a kid still checks the tokens it signed before.
   */
  kid?: string;
  /** The signing key. Required for the first key (it signs); optional for the others. */
  privateKey?: KeyInput;
  /** The verification key; derived from `privateKey` when omitted. Enough on its own for a key that only verifies. */
  publicKey?: KeyInput;
  /**
   * When a retired key stops verifying: from this moment on, tokens carrying its `kid` are refused (even
   * ones verified before) and it leaves the JWKS, whose `max-age` shrinks so no cache keeps it longer.
   * A `Date`, or an ISO 8601 date-time with a time zone (`'2025-06-02T00:00:00Z'`). Not on the first key,
   * which signs; a moment already past is allowed (the key is then never trusted). Set it at least the
   * access-token `ttl` after the key stopped signing. Defaults to none: the key verifies while it is listed.
   */
  notAfter?: Date | string;
}

/**
 * Options for refresh tokens and their families.
 *
 * @example
 * ```ts
 * import type { RefreshTokenOptions } from 'express-refresh-tokens';
 *
 * const refreshToken: RefreshTokenOptions = {
 *   secret: process.env.REFRESH_TOKEN_SECRET ?? '', // 32+ bytes, not the access token's
 *   idleTtl: '7d', // default '14d'
 *   absoluteTtl: '30d', // the default; at least idleTtl
 *   reuseGrace: '5s', // default '10s'; 0 turns the grace window off
 * };
 * ```
 */
export interface RefreshTokenOptions {
  /** At least 32 bytes; keys the successor derivation. Must differ from the access token secret. Required. */
  secret: string | Buffer;
  /** A family dies after this long unused. Defaults to `'14d'`. */
  idleTtl?: Duration;
  /** A family dies this long after login, however much it is used. Defaults to `'30d'`. */
  absoluteTtl?: Duration;
  /** How long the previous refresh token is still answered with the same successor, to the client that rotated it; `0` disables. Defaults to `'10s'`. */
  reuseGrace?: Duration;
}

/**
 * Options for the refresh cookie (always HttpOnly).
 *
 * @example
 * ```ts
 * import type { CookieOptions } from 'express-refresh-tokens';
 *
 * const production: CookieOptions = {}; // __Host-refresh; Secure; SameSite=Strict; Path=/
 * const localHttp: CookieOptions = { secure: false }; // named 'refresh', for http://localhost only
 * ```
 */
export interface CookieOptions {
  /** Cookie name. Defaults to `'__Host-refresh'` when `secure`, `'refresh'` otherwise. */
  name?: string;
  /** The SameSite attribute. Defaults to `'strict'`. */
  sameSite?: 'strict' | 'lax' | 'none';
  /** The Secure attribute; `false` only for plain-http development. Defaults to `true`. */
  secure?: boolean;
}

/**
 * Options for the CSRF checks on `/login`, `/refresh` and `/logout`.
 *
 * @example
 * ```ts
 * import type { CsrfOptions } from 'express-refresh-tokens';
 *
 * const csrf: CsrfOptions = {
 *   headerName: 'X-CSRF-Guard', // then pass `csrfHeader: 'X-CSRF-Guard'` to createAuthClient
 *   allowedOrigins: ['https://app.example'], // a front end on another origin
 * };
 * ```
 */
export interface CsrfOptions {
  /** The header that must be present with a non-empty value. Defaults to `'X-Requested-With'`. */
  headerName?: string;
  /** Origins (`https://app.example`) allowed besides the app's own. Defaults to `[]`. */
  allowedOrigins?: string[];
}

/**
 * Options for the in-process revocation feed that lets `requireAuth` check tokens without a store round trip.
 *
 * @example
 * ```ts
 * import type { RevocationOptions } from 'express-refresh-tokens';
 *
 * const revocation: RevocationOptions = { maxStaleness: '2s' }; // from 200 ms to 1 min; default '5s'
 * ```
 */
export interface RevocationOptions {
  /**
   * How long the feed may go without confirming it is in touch with the store before `requireAuth`
   * answers 503 rather than trust what it holds. Defaults to `'5s'`.
   */
  maxStaleness?: Duration;
}

/**
 * What `authenticate` returns for valid credentials.
 *
 * @example
 * ```ts
 * import type { AuthenticateResult } from 'express-refresh-tokens';
 *
 * function toAuthResult(user: { id: number; role: string }): AuthenticateResult {
 *   return { userId: String(user.id), claims: { role: user.role } }; // user ids are strings
 * }
 * ```
 */
export interface AuthenticateResult {
  /** The user's id; becomes the access token's `sub`. */
  userId: string;
  /**
   * Extra claims carried by every access token of the session (e.g. `{ role: 'admin' }`). Not the
   * names the library sets (`sub`, `sid`, `jti`, `iat`, `exp`, `nbf`, `iss`, `aud`, `typ`, `auth_time`).
   */
  claims?: Record<string, unknown>;
}

/**
 * Checks the credentials of a `POST /login` request (its parsed JSON body is `req.body`).
 * Returns the user, or `null` for wrong credentials. An error it throws with `status` or
 * `statusCode` 401, 403 or 404 is treated like `null`; any other error answers 500.
 *
 * @param req - The `POST /login` request, its JSON body parsed.
 * @returns `{ userId, claims? }` for valid credentials, `null` for wrong ones (401 `invalid_credentials`).
 *
 * @example
 * ```ts
 * import type { Authenticate } from 'express-refresh-tokens';
 *
 * const authenticate: Authenticate = async (req) => {
 *   const { username, password } = req.body as { username?: unknown; password?: unknown };
 *   const user = await users.check(username, password);
 *   return user ? { userId: user.id, claims: { role: user.role } } : null;
 * };
 * ```
 */
export type Authenticate = (req: Request) => Promise<AuthenticateResult | null> | AuthenticateResult | null;

/**
 * Everything `createAuth` accepts. Durations are seconds (`90`) or strings (`'30s'`, `'10m'`, `'14d'`).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createAuth, RedisStore, type AuthOptions } from 'express-refresh-tokens';
 *
 * const options: AuthOptions = {
 *   store: new RedisStore({ client: new Redis(process.env.REDIS_URL ?? 'redis://localhost:6379') }),
 *   accessToken: { secret: process.env.ACCESS_TOKEN_SECRET ?? '', ttl: '10m' },
 *   refreshToken: { secret: process.env.REFRESH_TOKEN_SECRET ?? '', idleTtl: '14d', absoluteTtl: '30d' },
 *   authenticate: async (req) => {
 *     const user = await users.check(req.body.username, req.body.password);
 *     return user ? { userId: user.id } : null;
 *   },
 *   csrf: { allowedOrigins: ['https://app.example'] },
 *   rateLimit: { login: { max: 5, window: '15m' } },
 *   maxSessionsPerUser: 20,
 * };
 * const auth = createAuth(options);
 * ```
 */
export interface AuthOptions {
  /** Where refresh-token families live: a `RedisStore` or a `MemoryStore`. Required. */
  store: SessionStore;
  /** Access token options. Required. */
  accessToken: AccessTokenOptions;
  /** Refresh token options. Required. */
  refreshToken: RefreshTokenOptions;
  /** Refresh cookie options. Defaults to a `__Host-refresh`, HttpOnly, Secure, SameSite=Strict cookie. */
  cookie?: CookieOptions;
  /** CSRF options. Defaults to requiring `X-Requested-With` and the app's own origin. */
  csrf?: CsrfOptions;
  /**
   * Login throttling, on by default: failed logins per IP + username (10 per 15 minutes, counted in
   * Redis with a RedisStore) and `/refresh` + `/logout` per IP (300 a minute, per instance).
   * `false` turns it off. See {@link RateLimitOptions}.
   */
  rateLimit?: RateLimitOptions;
  /** Revocation feed options. Defaults to `{ maxStaleness: '5s' }`. */
  revocation?: RevocationOptions;
  /** The credential check for `POST /login`. Required. */
  authenticate: Authenticate;
  /** The realm in `WWW-Authenticate` challenges. Defaults to `'api'`. */
  realm?: string;
  /** The largest JSON body the router accepts, in bytes. Defaults to `16384`. */
  bodyLimit?: number;
  /** The most live sessions one user may have; a login beyond it ends the oldest. Defaults to `100`. */
  maxSessionsPerUser?: number;
}

/** The validated, resolved form of {@link AuthOptions} the library runs on. */
export interface Configuration {
  store: SessionStore;
  accessToken: {
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
  };
  refreshToken: {
    successorKey: KeyObject;
    idleTtlMs: number;
    absoluteTtlMs: number;
    reuseGraceMs: number;
    /** How long a revoked session must be remembered: until every access token of it has expired. */
    revocationTtlMs: number;
  };
  rateLimit: ResolvedRateLimit | false;
  revocation: {
    maxStalenessMs: number;
    /** How long a user revocation, or a mark of lost data, must be remembered: as long as a session can live. */
    retainMs: number;
  };
  cookie: { name: string; sameSite: 'Strict' | 'Lax' | 'None'; secure: boolean; hostPrefixed: boolean };
  /** `headerName` lower-cased, as Node keys request headers; `headerLabel` as configured, for messages. */
  csrf: { headerName: string; headerLabel: string; allowedOrigins: ReadonlySet<string> };
  authenticate: Authenticate;
  realm: string;
  bodyLimit: number;
  maxSessionsPerUser: number;
}

const KNOWN_KEYS = {
  '': ['store', 'accessToken', 'refreshToken', 'cookie', 'csrf', 'revocation', 'rateLimit', 'authenticate', 'realm', 'bodyLimit', 'maxSessionsPerUser'],
  accessToken: ['algorithm', 'secret', 'privateKey', 'publicKey', 'keys', 'ttl', 'issuer', 'audience'],
  refreshToken: ['secret', 'idleTtl', 'absoluteTtl', 'reuseGrace'],
  cookie: ['name', 'sameSite', 'secure'],
  csrf: ['headerName', 'allowedOrigins'],
  revocation: ['maxStaleness'],
} as const;

const HMAC_KEY_BYTES: Partial<Record<AccessTokenAlgorithm, number>> = { HS256: 32, HS384: 48, HS512: 64 };

/** Which asymmetric key types (and EC curves) each algorithm accepts. */
const ASYMMETRIC_KEY_TYPES: Partial<Record<AccessTokenAlgorithm, { types: string[]; curve?: string }>> = {
  RS256: { types: ['rsa'] },
  RS384: { types: ['rsa'] },
  RS512: { types: ['rsa'] },
  PS256: { types: ['rsa', 'rsa-pss'] },
  PS384: { types: ['rsa', 'rsa-pss'] },
  PS512: { types: ['rsa', 'rsa-pss'] },
  ES256: { types: ['ec'], curve: 'prime256v1' },
  ES384: { types: ['ec'], curve: 'secp384r1' },
  ES512: { types: ['ec'], curve: 'secp521r1' },
  EdDSA: { types: ['ed25519', 'ed448'] },
};

const MIN_RSA_BITS = 2048;
const MIN_REFRESH_SECRET_BYTES = 32;
const GENERATE_SECRET_HINT =
  "Generate one with `node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"` and load it from the environment.";

function checkSection(section: keyof typeof KNOWN_KEYS, value: object): void {
  checkKnownKeys(section, value, KNOWN_KEYS[section]);
}

function section<T extends object>(name: keyof typeof KNOWN_KEYS, value: unknown, required: boolean): Partial<T> {
  if (value === undefined && !required) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    // The value is never shown: a secret passed where its section belongs must not reach a log.
    fail('type', name, `must be an object; received ${describeValue(value, false)}`, 'See the options table in the README.', missingOr(value));
  }
  checkSection(name, value);
  return value as Partial<T>;
}

/** The longest duration any option takes: ten years. Longer ones are typos, and break dates. */
const MAX_DURATION_MS = 10 * 366 * 86_400_000;

/** Whether a string is too long or too odd to be a mistyped duration: it may be a secret in the wrong option, so it is not shown. */
function looksLikeSecret(value: unknown): boolean {
  return typeof value === 'string' && (value.length > 20 || !/^[\w .+-]*$/.test(value));
}

function duration(option: string, value: unknown, fallback: Duration): number {
  const ms = parseDuration(value ?? fallback);
  if (ms === undefined) {
    fail(
      'type',
      option,
      `must be a duration; received ${describeValue(value, !looksLikeSecret(value))}`,
      "Pass seconds as a number, or a string like '30s', '10m', '14d'.",
      ErrorCodes.ERR_INVALID_DURATION,
    );
  }
  if (ms > MAX_DURATION_MS) {
    fail(
      'range',
      option,
      `must be at most ten years; received ${describeValue(value)}`,
      "Sessions are measured in days, e.g. '30d'.",
      ErrorCodes.ERR_INVALID_DURATION,
    );
  }
  return ms;
}

function secretBytes(option: string, value: unknown, minBytes: number): Buffer {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
    fail(
      'type',
      option,
      `must be a string or Buffer of at least ${minBytes} bytes; received ${describeValue(value, false)}`,
      GENERATE_SECRET_HINT,
      missingOr(value, ErrorCodes.ERR_INVALID_KEY),
    );
  }
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  if (bytes.length < minBytes) {
    fail('range', option, `must be at least ${minBytes} bytes; received ${bytes.length} bytes`, GENERATE_SECRET_HINT, ErrorCodes.ERR_INVALID_KEY);
  }
  return bytes;
}

function optionalString(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    fail('type', option, `must be a non-empty string when set; received ${describeValue(value)}`, 'Remove it or pass a string.');
  }
  return value;
}

function toKeyObject(option: string, value: unknown, kind: 'private' | 'public'): KeyObject {
  if (value instanceof KeyObject) {
    if (value.type !== kind)
      fail('type', option, `must be a ${kind} key; received a ${value.type} KeyObject`, `Pass the ${kind} key.`, ErrorCodes.ERR_INVALID_KEY);
    return value;
  }
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
    fail(
      'type',
      option,
      `must be a PEM string, Buffer or KeyObject; received ${describeValue(value, false)}`,
      `Pass the ${kind} key, e.g. fs.readFileSync('${kind}.pem').`,
      ErrorCodes.ERR_INVALID_KEY,
    );
  }
  try {
    return kind === 'private' ? createPrivateKey(value) : createPublicKey(value);
  } catch {
    return fail(
      'type',
      option,
      `could not be read as a ${kind} key`,
      'Pass a PEM-encoded key (-----BEGIN ... KEY-----) or a KeyObject.',
      ErrorCodes.ERR_INVALID_KEY,
    );
  }
}

function checkKeyFitsAlgorithm(option: string, key: KeyObject, algorithm: AccessTokenAlgorithm): void {
  const accepted = ASYMMETRIC_KEY_TYPES[algorithm] as { types: string[]; curve?: string };
  const type = key.asymmetricKeyType ?? 'unknown';
  if (!accepted.types.includes(type)) {
    fail(
      'type',
      option,
      `is a ${type} key, which ${algorithm} cannot use`,
      `Use a ${accepted.types.join(' or ')} key, or change \`accessToken.algorithm\`.`,
      ErrorCodes.ERR_INVALID_KEY,
    );
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (accepted.curve && details.namedCurve !== accepted.curve) {
    fail(
      'type',
      option,
      `is on curve ${String(details.namedCurve)}, but ${algorithm} needs ${accepted.curve}`,
      'Use a key on the matching curve.',
      ErrorCodes.ERR_INVALID_KEY,
    );
  }
  if (type.startsWith('rsa') && (details.modulusLength ?? 0) < MIN_RSA_BITS) {
    fail('range', option, `is a ${String(details.modulusLength)}-bit RSA key`, `Use at least ${MIN_RSA_BITS} bits.`, ErrorCodes.ERR_INVALID_KEY);
  }
}

/** Checks with a probe signature that `publicKey` is the public half of `privateKey`. */
function checkKeyPair(
  algorithm: AccessTokenAlgorithm,
  privateKey: KeyObject,
  publicKey: KeyObject,
  options: { publicOption: string; privateOption: string; fix: string },
): void {
  const probe = Buffer.from('express-refresh-tokens key pair check');
  const digest = algorithm === 'EdDSA' ? null : `sha${algorithm.slice(2)}`;
  if (!verify(digest, probe, publicKey, sign(digest, probe, privateKey))) {
    fail('type', options.publicOption, `does not match \`${options.privateOption}\``, options.fix, ErrorCodes.ERR_INVALID_KEY);
  }
}

/** The resolved access-token keys: what signs, and what verifies by `kid`. */
type AccessTokenKeySet = Pick<Configuration['accessToken'], 'signingKey' | 'verifyingKey' | 'kid' | 'verifyingKeys' | 'keyNotAfter'>;

const KEY_ENTRY_MEMBERS = ['kid', 'privateKey', 'publicKey', 'notAfter'] as const;
/** An ISO 8601 date-time with its time zone: a moment, whatever the server's zone. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** Validates one `accessToken.keys[i].notAfter` (not on the first key): a Date or an ISO 8601 date-time with a zone, as epoch ms. */
function notAfterOption(option: string, value: unknown, first: boolean): number {
  if (first) {
    fail(
      'type',
      option,
      'cannot be set: the first key signs new tokens, which would be refused from then on',
      'Put notAfter on a key that only verifies (one after the first), once another key signs.',
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' && ISO_DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  // Date.parse rolls impossible days over (February 30th is March 2nd); the date must read back as written.
  const rolledOver = typeof value === 'string' && !Number.isNaN(ms) && !sameCalendarDay(value, ms);
  if (Number.isNaN(ms) || rolledOver) {
    fail(
      'type',
      option,
      `must be a Date or an ISO 8601 date-time with a time zone; received ${describeValue(value instanceof Date ? 'an invalid Date' : value)}`,
      "Pass e.g. '2030-01-01T00:00:00Z' or new Date('2030-01-01T00:00:00Z') (a number would leave seconds and milliseconds to guess).",
    );
  }
  return ms;
}

/** Whether the date part of an ISO date-time names the day `ms` falls on in the string's own offset. */
function sameCalendarDay(iso: string, ms: number): boolean {
  const zone = /(?:Z|([+-])(\d{2}):(\d{2}))$/i.exec(iso);
  const offsetMinutes = zone?.[1] === undefined ? 0 : (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3]));
  return new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 10) === iso.slice(0, 10);
}

/** Validates one `accessToken.keys[i].kid`. */
function kidOption(option: string, value: unknown): string {
  if (typeof value === 'string' && value.length > MAX_KID_LENGTH) {
    fail(
      'range',
      option,
      `must be at most ${MAX_KID_LENGTH} characters; received a string of ${value.length} characters`,
      "Use a short name such as '2025-06'.",
    );
  }
  if (typeof value !== 'string' || !KID_PATTERN.test(value)) {
    fail(
      'type',
      option,
      `must be 1 to ${MAX_KID_LENGTH} printable ASCII characters; received ${describeValue(value)}`,
      "Name each key, e.g. { kid: '2025-06', privateKey }.",
    );
  }
  return value;
}

/** Validates `accessToken.keys`: the first signs, every one verifies by its `kid`. */
function keyListOption(algorithm: AccessTokenAlgorithm, value: unknown): AccessTokenKeySet {
  const example = "Pass e.g. [{ kid: '2025-06', privateKey }, { kid: '2025-01', publicKey }] (the first signs).";
  if (!Array.isArray(value) || value.length === 0) {
    fail('type', 'accessToken.keys', `must be a non-empty array of { kid?, privateKey?, publicKey? }; received ${describeValue(value, false)}`, example);
  }
  const verifyingKeys = new Map<string, KeyObject>();
  const keyNotAfter = new Map<string, number>();
  const indexOfKid = new Map<string, number>();
  const indexOfThumbprint = new Map<string, number>();
  let signing: { key: KeyObject; verifyingKey: KeyObject; kid: string } | undefined;

  value.forEach((entry: unknown, i: number) => {
    const at = `accessToken.keys[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || entry instanceof KeyObject) {
      fail('type', at, `must be an object { kid?, privateKey?, publicKey? }; received ${describeValue(entry, false)}`, example);
    }
    checkKnownKeys(at, entry, KEY_ENTRY_MEMBERS);
    const {
      kid: kidValue,
      privateKey: privateInput,
      publicKey: publicInput,
      notAfter: notAfterValue,
    } = entry as Partial<Record<(typeof KEY_ENTRY_MEMBERS)[number], unknown>>;
    const givenKid = kidValue === undefined ? undefined : kidOption(`${at}.kid`, kidValue);
    const notAfter = notAfterValue === undefined ? undefined : notAfterOption(`${at}.notAfter`, notAfterValue, i === 0);
    const named = givenKid === undefined ? '' : ` (kid ${JSON.stringify(givenKid)})`;
    if (i === 0 && privateInput === undefined) {
      fail(
        'type',
        `${at}.privateKey`,
        `is required${named}: the first key signs new tokens`,
        'Put the key that signs first, with its privateKey; keys after it may be public-only.',
        ErrorCodes.ERR_MISSING_OPTION,
      );
    }
    if (privateInput === undefined && publicInput === undefined) {
      fail(
        'type',
        `${at}.publicKey`,
        `is required when there is no \`${at}.privateKey\`${named}`,
        'Pass the public key that checks the tokens this key signed, or remove the entry.',
        ErrorCodes.ERR_MISSING_OPTION,
      );
    }
    const privateKey = privateInput === undefined ? undefined : toKeyObject(`${at}.privateKey`, privateInput, 'private');
    if (privateKey) checkKeyFitsAlgorithm(`${at}.privateKey`, privateKey, algorithm);
    const publicKey = publicInput === undefined ? createPublicKey(privateKey as KeyObject) : toKeyObject(`${at}.publicKey`, publicInput, 'public');
    checkKeyFitsAlgorithm(`${at}.publicKey`, publicKey, algorithm);
    if (privateKey && publicInput !== undefined) {
      checkKeyPair(algorithm, privateKey, publicKey, {
        publicOption: `${at}.publicKey`,
        privateOption: `${at}.privateKey`,
        fix: 'Pass the public key of the same key pair, or omit it.',
      });
    }
    const thumbprint = jwkThumbprint(publicKey);
    const sameKey = indexOfThumbprint.get(thumbprint);
    if (sameKey !== undefined) {
      fail('type', at, `holds the same key as \`accessToken.keys[${sameKey}]\`${named}`, 'List each key once, under one kid.', ErrorCodes.ERR_INVALID_KEY);
    }
    indexOfThumbprint.set(thumbprint, i);
    const kid = givenKid ?? thumbprint;
    const previous = indexOfKid.get(kid);
    if (previous !== undefined) {
      fail(
        'type',
        `${at}.kid`,
        `is ${JSON.stringify(kid)}, already the kid of \`accessToken.keys[${previous}]\``,
        'Give every key its own kid: a token names the key that checks it.',
      );
    }
    indexOfKid.set(kid, i);
    verifyingKeys.set(kid, publicKey);
    if (notAfter !== undefined) keyNotAfter.set(kid, notAfter);
    if (i === 0) signing = { key: privateKey as KeyObject, verifyingKey: publicKey, kid };
  });

  const first = signing as { key: KeyObject; verifyingKey: KeyObject; kid: string };
  return { signingKey: first.key, verifyingKey: first.verifyingKey, kid: first.kid, verifyingKeys, keyNotAfter };
}

function accessTokenKeys(algorithm: AccessTokenAlgorithm, options: Partial<AccessTokenOptions>): AccessTokenKeySet {
  const hmacBytes = HMAC_KEY_BYTES[algorithm];
  if (hmacBytes !== undefined) {
    if (options.keys !== undefined) {
      fail(
        'type',
        'accessToken.keys',
        `cannot be used with ${algorithm}, which takes \`accessToken.secret\` (a shared secret is never published)`,
        'Pass `secret`, or choose RS256/ES256/EdDSA for keys.',
        ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
      );
    }
    if (options.privateKey !== undefined || options.publicKey !== undefined) {
      fail(
        'type',
        'accessToken.privateKey',
        `cannot be used with ${algorithm}, which takes \`accessToken.secret\``,
        'Pass `secret`, or choose RS256/ES256/EdDSA for keys.',
        ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
      );
    }
    const key = createSecretKey(secretBytes('accessToken.secret', options.secret, hmacBytes));
    return { signingKey: key, verifyingKey: key, kid: undefined, verifyingKeys: new Map(), keyNotAfter: new Map() };
  }
  if (options.secret !== undefined) {
    fail(
      'type',
      'accessToken.secret',
      `cannot be used with ${algorithm}, which takes \`privateKey\`/\`publicKey\` or \`keys\``,
      "Pass keys, or set `algorithm: 'HS256'`.",
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  if (options.keys !== undefined) {
    if (options.privateKey !== undefined || options.publicKey !== undefined) {
      const both = options.privateKey !== undefined ? 'accessToken.privateKey' : 'accessToken.publicKey';
      fail(
        'type',
        'accessToken.keys',
        `cannot be used with \`${both}\``,
        'Move that key into `keys` as { kid, privateKey }, or remove `keys`.',
        ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
      );
    }
    return keyListOption(algorithm, options.keys);
  }
  if (options.privateKey === undefined) {
    fail(
      'type',
      'accessToken.privateKey',
      `is required for ${algorithm}`,
      'Pass the PEM private key (the public key is derived from it unless you pass `publicKey`), or `keys` to rotate keys.',
      ErrorCodes.ERR_MISSING_OPTION,
    );
  }
  const signingKey = toKeyObject('accessToken.privateKey', options.privateKey, 'private');
  checkKeyFitsAlgorithm('accessToken.privateKey', signingKey, algorithm);
  const verifyingKey = options.publicKey === undefined ? createPublicKey(signingKey) : toKeyObject('accessToken.publicKey', options.publicKey, 'public');
  checkKeyFitsAlgorithm('accessToken.publicKey', verifyingKey, algorithm);
  checkKeyPair(algorithm, signingKey, verifyingKey, {
    publicOption: 'accessToken.publicKey',
    privateOption: 'accessToken.privateKey',
    fix: 'Pass the public key of the same key pair, or omit it.',
  });
  const kid = jwkThumbprint(verifyingKey);
  return { signingKey, verifyingKey, kid, verifyingKeys: new Map([[kid, verifyingKey]]), keyNotAfter: new Map() };
}

function algorithmOption(value: unknown): AccessTokenAlgorithm {
  if (value === undefined) return 'HS256';
  if (typeof value === 'string' && value.toLowerCase() === 'none') {
    fail('type', 'accessToken.algorithm', "is 'none', which would accept unsigned tokens", "Use 'HS256' with a secret, or 'RS256'/'ES256'/'EdDSA' with keys.");
  }
  if (typeof value !== 'string' || !(Object.hasOwn(HMAC_KEY_BYTES, value) || Object.hasOwn(ASYMMETRIC_KEY_TYPES, value))) {
    const known = [...Object.keys(HMAC_KEY_BYTES), ...Object.keys(ASYMMETRIC_KEY_TYPES)].join(', ');
    fail('type', 'accessToken.algorithm', `must be one of ${known}; received ${describeValue(value)}`, "Pick one, e.g. 'HS256'.");
  }
  return value as AccessTokenAlgorithm;
}

function cookieOptions(options: Partial<CookieOptions>): Configuration['cookie'] {
  const secure = options.secure ?? true;
  if (typeof secure !== 'boolean') fail('type', 'cookie.secure', `must be a boolean; received ${describeValue(secure)}`, 'Leave it out (true) in production.');
  const sameSite = options.sameSite ?? 'strict';
  const sameSiteValues = { strict: 'Strict', lax: 'Lax', none: 'None' } as const;
  if (typeof sameSite !== 'string' || !Object.hasOwn(sameSiteValues, sameSite)) {
    fail('type', 'cookie.sameSite', `must be 'strict', 'lax' or 'none'; received ${describeValue(sameSite)}`, "Leave it out for 'strict'.");
  }
  if (sameSite === 'none' && !secure) {
    fail(
      'type',
      'cookie.sameSite',
      "is 'none' with `cookie.secure: false`; browsers drop such cookies",
      "Use 'strict' or 'lax' on plain http.",
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  const name = options.name ?? (secure ? DEFAULT_COOKIE_NAMES.secure : DEFAULT_COOKIE_NAMES.insecure);
  if (typeof name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    fail('type', 'cookie.name', `must be a cookie name (letters, digits, - _ .); received ${describeValue(name)}`, "Leave it out for '__Host-refresh'.");
  }
  const hostPrefixed = name.startsWith('__Host-');
  if ((hostPrefixed || name.startsWith('__Secure-')) && !secure) {
    fail(
      'type',
      'cookie.name',
      `is ${describeValue(name)}, a prefix browsers only accept on Secure cookies, but \`cookie.secure\` is false`,
      "Leave `cookie.name` out (it becomes 'refresh'), or set `cookie.secure: true`.",
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  return { name, sameSite: sameSiteValues[sameSite as keyof typeof sameSiteValues], secure, hostPrefixed };
}

/** Headers any page may make a browser send cross-site without a preflight: useless as a CSRF marker. */
const CORS_SAFELISTED_HEADERS: ReadonlySet<string> = new Set(['accept', 'accept-language', 'content-language', 'content-type', 'range']);

function csrfOptions(options: Partial<CsrfOptions>): Configuration['csrf'] {
  const headerName = options.headerName ?? DEFAULT_CSRF_HEADER;
  if (typeof headerName !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(headerName)) {
    fail('type', 'csrf.headerName', `must be an HTTP header name; received ${describeValue(headerName)}`, "Leave it out for 'X-Requested-With'.");
  }
  if (CORS_SAFELISTED_HEADERS.has(headerName.toLowerCase())) {
    fail(
      'type',
      'csrf.headerName',
      `must not be a CORS-safelisted header, which any site can make a browser send; received ${describeValue(headerName)}`,
      "Use a custom header such as 'X-Requested-With'.",
    );
  }
  const allowedOrigins = options.allowedOrigins ?? [];
  if (!Array.isArray(allowedOrigins)) {
    fail('type', 'csrf.allowedOrigins', `must be an array of origins; received ${describeValue(allowedOrigins)}`, "Pass e.g. ['https://app.example'].");
  }
  const origins = allowedOrigins.map((origin: unknown) => {
    let parsed: URL | undefined;
    try {
      parsed = typeof origin === 'string' ? new URL(origin) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin === 'null' || parsed.origin !== (origin as string).replace(/\/$/, '')) {
      fail(
        'type',
        'csrf.allowedOrigins',
        `must hold origins like 'https://app.example' (scheme, host, optional port, no path); received ${describeValue(origin)}`,
        'Remove the path or fix the URL.',
      );
    }
    return parsed.origin;
  });
  return { headerName: headerName.toLowerCase(), headerLabel: headerName, allowedOrigins: new Set(origins) };
}

function storeOption(store: unknown): SessionStore {
  const methods = [
    'createSession',
    'presentToken',
    'revokeSession',
    'discardSession',
    'revokeUser',
    'getSession',
    'listSessions',
    'openRevocationFeed',
  ] as const;
  const missing = store && typeof store === 'object' ? methods.filter((m) => typeof (store as Record<string, unknown>)[m] !== 'function') : methods;
  if (missing.length > 0) {
    fail(
      'type',
      'store',
      `must be a SessionStore (missing ${missing.join(', ')}); received ${describeValue(store)}`,
      'Pass `new RedisStore({ client })` or `new MemoryStore()`.',
      missingOr(store),
    );
  }
  return store as SessionStore;
}

/**
 * Validates every option of {@link AuthOptions} at once and resolves defaults. Throws a `TypeError`
 * or `RangeError` naming the option, what was expected, what was received and how to fix it, with a
 * stable `code` from {@link ErrorCodes} (`ERR_INVALID_OPTION` unless a more precise one applies).
 */
export function resolveOptions(options: AuthOptions): Configuration {
  if (options === null || typeof options !== 'object') {
    fail(
      'type',
      'options',
      `must be an object; received ${describeValue(options)}`,
      'Call createAuth({ store, accessToken, refreshToken, authenticate }).',
      missingOr(options),
    );
  }
  checkSection('', options);
  const store = storeOption(options.store);
  if (typeof options.authenticate !== 'function') {
    fail(
      'type',
      'authenticate',
      `must be a function (req) => ({ userId, claims }) | null; received ${describeValue(options.authenticate)}`,
      'Pass your credential check.',
      missingOr(options.authenticate),
    );
  }

  const access = section<AccessTokenOptions>('accessToken', options.accessToken, true);
  const refresh = section<RefreshTokenOptions>('refreshToken', options.refreshToken, true);
  const algorithm = algorithmOption(access.algorithm);
  const keys = accessTokenKeys(algorithm, access);
  const accessTtlMs = duration('accessToken.ttl', access.ttl, '10m');
  if (accessTtlMs < 1000)
    fail('range', 'accessToken.ttl', `must be at least 1s; received ${describeMs(accessTtlMs)}`, "Use something like '10m'.", ErrorCodes.ERR_INVALID_DURATION);

  const refreshSecret = secretBytes('refreshToken.secret', refresh.secret, MIN_REFRESH_SECRET_BYTES);
  if (HMAC_KEY_BYTES[algorithm] !== undefined && refreshSecret.equals(keys.signingKey.export())) {
    fail(
      'type',
      'refreshToken.secret',
      'is the same as `accessToken.secret`',
      'Use two different secrets, so one leaking does not give away the other.',
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  const idleTtlMs = duration('refreshToken.idleTtl', refresh.idleTtl, '14d');
  const absoluteTtlMs = duration('refreshToken.absoluteTtl', refresh.absoluteTtl, '30d');
  const reuseGraceMs = duration('refreshToken.reuseGrace', refresh.reuseGrace, '10s');
  if (idleTtlMs < 1000)
    fail(
      'range',
      'refreshToken.idleTtl',
      `must be at least 1s; received ${describeMs(idleTtlMs)}`,
      "Use something like '14d'.",
      ErrorCodes.ERR_INVALID_DURATION,
    );
  if (absoluteTtlMs < idleTtlMs) {
    fail(
      'range',
      'refreshToken.absoluteTtl',
      `(${describeMs(absoluteTtlMs)}) must not be shorter than \`refreshToken.idleTtl\` (${describeMs(idleTtlMs)})`,
      'Raise absoluteTtl or lower idleTtl.',
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  if (reuseGraceMs >= idleTtlMs) {
    fail(
      'range',
      'refreshToken.reuseGrace',
      `(${describeMs(reuseGraceMs)}) must be shorter than \`refreshToken.idleTtl\` (${describeMs(idleTtlMs)})`,
      "A few seconds is enough; the default is '10s'.",
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  if (accessTtlMs > idleTtlMs) {
    fail(
      'range',
      'accessToken.ttl',
      `(${describeMs(accessTtlMs)}) must not be longer than \`refreshToken.idleTtl\` (${describeMs(idleTtlMs)})`,
      "Access tokens should be short-lived, e.g. '10m'.",
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  if (accessTtlMs > MAX_ACCESS_TTL_MS) {
    fail(
      'range',
      'accessToken.ttl',
      `must be at most 1d; received ${describeMs(accessTtlMs)}`,
      "A number is seconds, not milliseconds: 900 or '15m' for fifteen minutes.",
      ErrorCodes.ERR_INVALID_DURATION,
    );
  }

  const revocation = section<RevocationOptions>('revocation', options.revocation, false);
  const maxStalenessMs = duration('revocation.maxStaleness', revocation.maxStaleness, '5s');
  if (maxStalenessMs < 200 || maxStalenessMs > 60_000) {
    fail(
      'range',
      'revocation.maxStaleness',
      `must be from 200ms to 1m; received ${describeMs(maxStalenessMs)}`,
      "Leave it out for '5s'.",
      ErrorCodes.ERR_INVALID_DURATION,
    );
  }

  const realm = options.realm ?? 'api';
  if (typeof realm !== 'string' || !/^[\x20-\x7e]*$/.test(realm) || realm.includes('"') || realm.includes('\\')) {
    fail('type', 'realm', `must be printable ASCII without quotes or backslashes; received ${describeValue(realm)}`, "Leave it out for 'api'.");
  }
  const bodyLimit = options.bodyLimit ?? 16_384;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 256 || bodyLimit > 1_048_576) {
    fail('range', 'bodyLimit', `must be a whole number of bytes from 256 to 1048576; received ${describeValue(bodyLimit)}`, 'Leave it out for 16384.');
  }
  const maxSessionsPerUser = options.maxSessionsPerUser ?? 100;
  if (!Number.isInteger(maxSessionsPerUser) || maxSessionsPerUser < 1 || maxSessionsPerUser > 10_000) {
    fail('range', 'maxSessionsPerUser', `must be a whole number from 1 to 10000; received ${describeValue(maxSessionsPerUser)}`, 'Leave it out for 100.');
  }

  return {
    store,
    accessToken: {
      algorithm,
      ...keys,
      ttlMs: accessTtlMs,
      issuer: optionalString('accessToken.issuer', access.issuer),
      audience: optionalString('accessToken.audience', access.audience),
    },
    refreshToken: {
      successorKey: createSecretKey(refreshSecret),
      idleTtlMs,
      absoluteTtlMs,
      reuseGraceMs,
      revocationTtlMs: accessTtlMs + REVOCATION_LEEWAY_MS,
    },
    revocation: { maxStalenessMs, retainMs: absoluteTtlMs + accessTtlMs + REVOCATION_LEEWAY_MS },
    rateLimit: resolveRateLimit(options.rateLimit),
    cookie: cookieOptions(section<CookieOptions>('cookie', options.cookie, false)),
    csrf: csrfOptions(section<CsrfOptions>('csrf', options.csrf, false)),
    authenticate: options.authenticate,
    realm,
    bodyLimit,
    maxSessionsPerUser,
  };
}
