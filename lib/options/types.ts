// The public options of createAuth, and the resolved configuration they are validated into.

import type { KeyObject } from 'node:crypto';
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { Request } from 'express';
import type { Duration } from '../duration';
import type { SessionNetworkMode } from '../network-label';
import type { ProofOfIdentity } from '../shared/verification';
import type { SessionStore } from '../store/session-store';
import type { AccessTokenSettings } from '../tokens/access-token';
import type { AccessTokenAlgorithm } from '../tokens/signing-keys';
import type { RateLimitOptions, ResolvedRateLimit } from './rate-limit';

export type { AccessTokenAlgorithm } from '../tokens/signing-keys';

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
  /**
   * Binding of a family to a key the client holds (DPoP, RFC 9449): a login that sends a `DPoP` proof
   * gets a family every refresh of which must prove possession of that key, so a copied cookie is
   * worthless. `'prefer'` (the default) binds when the client sends a proof and accepts a login
   * without one; `'require'` refuses logins and refreshes without one; `'off'` binds no new family
   * (families bound earlier still need their proofs: a binding is never dropped). See
   * [Device-bound sessions](https://github.com/express-refresh-tokens/express-refresh-tokens/blob/main/docs/device-binding.md).
   */
  binding?: BindingMode;
}

/** How logins are bound to a client-held key: see {@link RefreshTokenOptions.binding}. */
export type BindingMode = 'off' | 'prefer' | 'require';

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
   * names the library sets (`sub`, `sid`, `jti`, `iat`, `exp`, `nbf`, `iss`, `aud`, `typ`, `auth_time`, `amr`, `acr`,
   * `reauth_time`, `claims_time`).
   */
  claims?: Record<string, unknown>;
  /**
   * How the user proved who they are (RFC 8176 method references, such as `['pwd']`), when the app
   * wants routes to ask for it (`requireAuth({ amr })`): carried by the session's access tokens as
   * `amr` until a step-up replaces it. Absent: the tokens carry no `amr` until a step-up.
   */
  amr?: string[];
  /** The authentication context class of the login (OIDC `acr`), carried like `amr`. */
  acr?: string;
}

/**
 * Checks a signed-in user again before a sensitive action (`POST /reauth`, "sudo mode"): a password
 * in `req.body`, or a WebAuthn assertion the app verifies. Returns how the user proved who they are,
 * or `null` when the proof failed (401 `invalid_credentials`; the session goes on). Errors thrown are
 * read as `authenticate`'s are (status 401, 403 or 404: `null`; 503: 503; any other: 500).
 *
 * @param req - The `POST /reauth` request, its JSON body parsed.
 * @param session - Whose session asks: `req.auth`'s user and session.
 *
 * @example
 * ```ts
 * import type { Reauthenticate } from 'express-refresh-tokens';
 *
 * const reauthenticate: Reauthenticate = async (req, { userId }) => {
 *   const { password } = req.body as { password?: unknown };
 *   return (await users.checkPassword(userId, password)) ? { amr: ['pwd'] } : null;
 * };
 * ```
 */
export type Reauthenticate = (req: Request, session: { userId: string; sessionId: string }) => Promise<ProofOfIdentity | null> | ProofOfIdentity | null;

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
  /**
   * The step-up check for `POST /reauth`: the user proves again who they are, and the session's next
   * access tokens say when and how (`reauth_time`, `amr`, `acr`), for routes behind
   * `requireAuth({ maxAge, amr, acr })`. Without it, `POST /reauth` answers 404 `reauth_not_configured`.
   */
  reauthenticate?: Reauthenticate;
  /** The realm in `WWW-Authenticate` challenges. Defaults to `'api'`. */
  realm?: string;
  /** The largest JSON body the router accepts, in bytes. Defaults to `16384`. */
  bodyLimit?: number;
  /** The most live sessions one user may have; a login beyond it ends the oldest. Defaults to `100`. */
  maxSessionsPerUser?: number;
  /**
   * What a session keeps of its login's IP address, shown in `GET /sessions` and `auth.listSessions`
   * as `network`: `'prefix'`, its network (the IPv4 /24 or IPv6 /48, `198.51.100.0/24`); `'address'`,
   * the whole address (personal data: say so in your privacy notice); `'off'`, nothing (a login is
   * then a new device only by its device label). Defaults to `'prefix'`.
   */
  sessionNetwork?: SessionNetworkMode;
  /**
   * The app's public origin, such as `'https://app.example'` (scheme, host and port only). A DPoP
   * proof must then name this origin and the route's path in its `htu`; without it, only the method
   * and path are checked (the per-generation nonce still ties a proof to this server). Never taken
   * from the `Host` header.
   */
  origin?: string;
  /**
   * Where metrics and traces go, through the OpenTelemetry API: the global providers by default (a
   * no-op until the app registers an SDK), others given here, or `false` for none. See
   * [Operations](https://github.com/express-refresh-tokens/express-refresh-tokens/blob/main/docs/operations.md#metrics).
   */
  telemetry?: TelemetryOptions | false;
  /**
   * Where a line goes each time the instance's state changes (never per request): the revocation feed
   * stops or starts vouching, the store's circuit opens or closes, a reload, a loss of the store's data.
   * Anything with `info`, `warn` and `error` taking a string (console, pino, winston). Defaults to
   * `console`; `false` silences it (the same changes are events either way).
   */
  logger?: AuthLogger | false;
}

/** The validated, resolved form of {@link AuthOptions} the library runs on. */
/**
 * The OpenTelemetry providers the instance reports to, each defaulting to the global one.
 *
 * @example
 * ```ts
 * import { MeterProvider } from '@opentelemetry/sdk-metrics';
 * import type { TelemetryOptions } from 'express-refresh-tokens';
 *
 * const telemetry: TelemetryOptions = { meterProvider: new MeterProvider() };
 * ```
 */
export interface TelemetryOptions {
  /** Where the instruments are created. Defaults to `metrics.getMeterProvider()`. */
  meterProvider?: MeterProvider;
  /** Where the spans of login, refresh and logout go. Defaults to `trace.getTracerProvider()`. */
  tracerProvider?: TracerProvider;
}

/**
 * Where state-change lines are written: `console`, a pino or winston logger, or anything with these
 * three methods. Each line starts with its code in brackets (`[ERT_FEED_UNTRUSTED] ...`) and names its cause.
 */
export interface AuthLogger {
  /** A change back to normal (the feed vouches again, the circuit closed). */
  info(message: string): void;
  /** A change that degrades service (the feed stopped vouching, the circuit opened, a reload after a gap). */
  warn(message: string): void;
  /** A change that lost something (the store lost its data: every session signed out). */
  error(message: string): void;
}

export interface Configuration {
  store: SessionStore;
  /** The app's public origin (`origin`), without a trailing slash; undefined when not set. */
  origin: string | undefined;
  accessToken: AccessTokenSettings;

  refreshToken: {
    successorKey: KeyObject;
    idleTtlMs: number;
    absoluteTtlMs: number;
    reuseGraceMs: number;
    binding: BindingMode;
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
  reauthenticate: Reauthenticate | undefined;
  realm: string;
  bodyLimit: number;
  maxSessionsPerUser: number;
  sessionNetwork: SessionNetworkMode;
  telemetry: { meterProvider?: MeterProvider; tracerProvider?: TracerProvider } | false;
  logger: AuthLogger | false;
}
