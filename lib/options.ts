// The public options of createAuth, and their validation into one resolved internal configuration.
import { createPrivateKey, createPublicKey, createSecretKey, KeyObject, sign, verify } from 'node:crypto';
import type { Request } from 'express';
import { describeValue } from './describe-value';
import { describeMs, parseDuration, type Duration } from './duration';
import { DEFAULT_COOKIE_NAMES, DEFAULT_CSRF_HEADER } from './shared/protocol';
import type { SessionStore } from './store/session-store';

/** Signing algorithms for access tokens. `none` is never accepted. */
export type AccessTokenAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'EdDSA';

/** A key as PEM text, a Buffer holding PEM, or a Node `KeyObject`. */
export type KeyInput = string | Buffer | KeyObject;

/** Options for access tokens (the JWTs `requireAuth()` checks). */
export interface AccessTokenOptions {
  /** The one algorithm tokens are signed and verified with. Defaults to `'HS256'`. */
  algorithm?: AccessTokenAlgorithm;
  /** The HMAC key for `HS*`: at least as many bytes as the hash (32 for HS256). Required for `HS*`. */
  secret?: string | Buffer;
  /** The signing key for `RS*`/`PS*`/`ES*`/`EdDSA`. Required for those algorithms. */
  privateKey?: KeyInput;
  /** The verification key; derived from `privateKey` when omitted. */
  publicKey?: KeyInput;
  /** Access token lifetime: seconds, or a string like `'10m'`. Defaults to `'10m'`. */
  ttl?: Duration;
  /** The `iss` claim; when set, tokens without it are rejected. Defaults to none. */
  issuer?: string;
  /** The `aud` claim; when set, tokens without it are rejected. Defaults to none. */
  audience?: string;
}

/** Options for refresh tokens and their families. */
export interface RefreshTokenOptions {
  /** At least 32 bytes; keys the successor derivation. Must differ from the access token secret. Required. */
  secret: string | Buffer;
  /** A family dies after this long unused. Defaults to `'14d'`. */
  idleTtl?: Duration;
  /** A family dies this long after login, however much it is used. Defaults to `'30d'`. */
  absoluteTtl?: Duration;
  /** How long the previous refresh token is still answered with the same successor; `0` disables. Defaults to `'30s'`. */
  reuseGrace?: Duration;
}

/** Options for the refresh cookie. */
export interface CookieOptions {
  /** Cookie name. Defaults to `'__Host-refresh'` when `secure`, `'refresh'` otherwise. */
  name?: string;
  /** The SameSite attribute. Defaults to `'strict'`. */
  sameSite?: 'strict' | 'lax' | 'none';
  /** The Secure attribute; `false` only for plain-http development. Defaults to `true`. */
  secure?: boolean;
}

/** Options for the CSRF checks on `/login`, `/refresh` and `/logout`. */
export interface CsrfOptions {
  /** The header that must be present with a non-empty value. Defaults to `'X-Requested-With'`. */
  headerName?: string;
  /** Origins (`https://app.example`) allowed besides the app's own. Defaults to `[]`. */
  allowedOrigins?: string[];
}

/** Options for the in-process revocation feed that lets `requireAuth` check tokens without a store round trip. */
export interface RevocationOptions {
  /**
   * How long the feed may go without confirming it is in touch with the store before `requireAuth`
   * answers 503 rather than trust what it holds. Defaults to `'5s'`.
   */
  maxStaleness?: Duration;
}

/** What `authenticate` returns for valid credentials. */
export interface AuthenticateResult {
  /** The user's id; becomes the access token's `sub`. */
  userId: string;
  /** Extra claims carried by every access token of the session (e.g. `{ role: 'admin' }`). */
  claims?: Record<string, unknown>;
}

/**
 * Checks the credentials of a `POST /login` request (its parsed JSON body is `req.body`).
 * Returns the user, or `null` for wrong credentials. An error it throws with `status` or
 * `statusCode` 401, 403 or 404 is treated like `null`; any other error answers 500.
 */
export type Authenticate = (req: Request) => Promise<AuthenticateResult | null> | AuthenticateResult | null;

/** Everything `createAuth` accepts. */
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
  /** Revocation feed options. Defaults to `{ maxStaleness: '5s' }`. */
  revocation?: RevocationOptions;
  /** The credential check for `POST /login`. Required. */
  authenticate: Authenticate;
  /** The realm in `WWW-Authenticate` challenges. Defaults to `'api'`. */
  realm?: string;
  /** The largest JSON body the router accepts, in bytes. Defaults to `16384`. */
  bodyLimit?: number;
}

/** The validated, resolved form of {@link AuthOptions} the library runs on. */
export interface Configuration {
  store: SessionStore;
  accessToken: {
    algorithm: AccessTokenAlgorithm;
    signingKey: KeyObject;
    verifyingKey: KeyObject;
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
  revocation: {
    maxStalenessMs: number;
    /** How long a user revocation, or a mark of lost data, must be remembered: as long as a session can live. */
    retainMs: number;
  };
  cookie: { name: string; sameSite: 'Strict' | 'Lax' | 'None'; secure: boolean; hostPrefixed: boolean };
  csrf: { headerName: string; allowedOrigins: ReadonlySet<string> };
  authenticate: Authenticate;
  realm: string;
  bodyLimit: number;
}

const KNOWN_KEYS = {
  '': ['store', 'accessToken', 'refreshToken', 'cookie', 'csrf', 'revocation', 'authenticate', 'realm', 'bodyLimit'],
  accessToken: ['algorithm', 'secret', 'privateKey', 'publicKey', 'ttl', 'issuer', 'audience'],
  refreshToken: ['secret', 'idleTtl', 'absoluteTtl', 'reuseGrace'],
  cookie: ['name', 'sameSite', 'secure'],
  csrf: ['headerName', 'allowedOrigins'],
  revocation: ['maxStaleness'],
} as const;

const HMAC_KEY_BYTES: Partial<Record<AccessTokenAlgorithm, number>> = { HS256: 32, HS384: 48, HS512: 64 };

/** Which asymmetric key types (and EC curves) each algorithm accepts. */
const ASYMMETRIC_KEY_TYPES: Partial<Record<AccessTokenAlgorithm, { types: string[]; curve?: string }>> = {
  RS256: { types: ['rsa'] }, RS384: { types: ['rsa'] }, RS512: { types: ['rsa'] },
  PS256: { types: ['rsa', 'rsa-pss'] }, PS384: { types: ['rsa', 'rsa-pss'] }, PS512: { types: ['rsa', 'rsa-pss'] },
  ES256: { types: ['ec'], curve: 'prime256v1' },
  ES384: { types: ['ec'], curve: 'secp384r1' },
  ES512: { types: ['ec'], curve: 'secp521r1' },
  EdDSA: { types: ['ed25519', 'ed448'] },
};

const MIN_RSA_BITS = 2048;
const MIN_REFRESH_SECRET_BYTES = 32;
/** Leeway added to how long revocations are remembered, for clock differences between instances. */
const REVOCATION_LEEWAY_MS = 5000;
const GENERATE_SECRET_HINT =
  "Generate one with `node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"` and load it from the environment.";

function fail(kind: 'type' | 'range', option: string, problem: string, fix: string): never {
  const message = `createAuth: \`${option}\` ${problem}. ${fix}`;
  throw kind === 'type' ? new TypeError(message) : new RangeError(message);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

function checkKnownKeys(section: keyof typeof KNOWN_KEYS, value: object): void {
  const known: readonly string[] = KNOWN_KEYS[section];
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const option = section === '' ? key : `${section}.${key}`;
    const closest = known.find((candidate) => editDistance(key, candidate) <= 2);
    fail(
      'type',
      option,
      'is not an option',
      closest ? `Did you mean \`${section === '' ? closest : `${section}.${closest}`}\`?` : `Known options here: ${known.join(', ')}.`,
    );
  }
}

function section<T extends object>(name: keyof typeof KNOWN_KEYS, value: unknown, required: boolean): Partial<T> {
  if (value === undefined && !required) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('type', name, `must be an object; received ${describeValue(value)}`, 'See the options table in the README.');
  }
  checkKnownKeys(name, value);
  return value as Partial<T>;
}

/** The longest duration any option takes: ten years. Longer ones are typos, and break dates. */
const MAX_DURATION_MS = 10 * 366 * 86_400_000;

function duration(option: string, value: unknown, fallback: Duration): number {
  const ms = parseDuration(value ?? fallback);
  if (ms === undefined) {
    fail('type', option, `must be a duration; received ${describeValue(value)}`, "Pass seconds as a number, or a string like '30s', '10m', '14d'.");
  }
  if (ms > MAX_DURATION_MS) {
    fail('range', option, `must be at most ten years; received ${describeValue(value)}`, "Sessions are measured in days, e.g. '30d'.");
  }
  return ms;
}

function secretBytes(option: string, value: unknown, minBytes: number): Buffer {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
    fail('type', option, `must be a string or Buffer of at least ${minBytes} bytes; received ${describeValue(value, false)}`, GENERATE_SECRET_HINT);
  }
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  if (bytes.length < minBytes) {
    fail('range', option, `must be at least ${minBytes} bytes; received ${bytes.length} bytes`, GENERATE_SECRET_HINT);
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
    if (value.type !== kind) fail('type', option, `must be a ${kind} key; received a ${value.type} KeyObject`, `Pass the ${kind} key.`);
    return value;
  }
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
    fail('type', option, `must be a PEM string, Buffer or KeyObject; received ${describeValue(value, false)}`, `Pass the ${kind} key, e.g. fs.readFileSync('${kind}.pem').`);
  }
  try {
    return kind === 'private' ? createPrivateKey(value) : createPublicKey(value);
  } catch {
    return fail('type', option, `could not be read as a ${kind} key`, 'Pass a PEM-encoded key (-----BEGIN ... KEY-----) or a KeyObject.');
  }
}

function checkKeyFitsAlgorithm(option: string, key: KeyObject, algorithm: AccessTokenAlgorithm): void {
  const accepted = ASYMMETRIC_KEY_TYPES[algorithm] as { types: string[]; curve?: string };
  const type = key.asymmetricKeyType ?? 'unknown';
  if (!accepted.types.includes(type)) {
    fail('type', option, `is a ${type} key, which ${algorithm} cannot use`, `Use a ${accepted.types.join(' or ')} key, or change \`accessToken.algorithm\`.`);
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (accepted.curve && details.namedCurve !== accepted.curve) {
    fail('type', option, `is on curve ${String(details.namedCurve)}, but ${algorithm} needs ${accepted.curve}`, 'Use a key on the matching curve.');
  }
  if (type.startsWith('rsa') && (details.modulusLength ?? 0) < MIN_RSA_BITS) {
    fail('range', option, `is a ${String(details.modulusLength)}-bit RSA key`, `Use at least ${MIN_RSA_BITS} bits.`);
  }
}

function accessTokenKeys(
  algorithm: AccessTokenAlgorithm,
  options: Partial<AccessTokenOptions>,
): { signingKey: KeyObject; verifyingKey: KeyObject } {
  const hmacBytes = HMAC_KEY_BYTES[algorithm];
  if (hmacBytes !== undefined) {
    if (options.privateKey !== undefined || options.publicKey !== undefined) {
      fail('type', 'accessToken.privateKey', `cannot be used with ${algorithm}, which takes \`accessToken.secret\``, 'Pass `secret`, or choose RS256/ES256/EdDSA for keys.');
    }
    const key = createSecretKey(secretBytes('accessToken.secret', options.secret, hmacBytes));
    return { signingKey: key, verifyingKey: key };
  }
  if (options.secret !== undefined) {
    fail('type', 'accessToken.secret', `cannot be used with ${algorithm}, which takes \`privateKey\`/\`publicKey\``, "Pass keys, or set `algorithm: 'HS256'`.");
  }
  if (options.privateKey === undefined) {
    fail('type', 'accessToken.privateKey', `is required for ${algorithm}`, 'Pass the PEM private key (the public key is derived from it unless you pass `publicKey`).');
  }
  const signingKey = toKeyObject('accessToken.privateKey', options.privateKey, 'private');
  checkKeyFitsAlgorithm('accessToken.privateKey', signingKey, algorithm);
  const verifyingKey =
    options.publicKey === undefined ? createPublicKey(signingKey) : toKeyObject('accessToken.publicKey', options.publicKey, 'public');
  checkKeyFitsAlgorithm('accessToken.publicKey', verifyingKey, algorithm);
  const probe = Buffer.from('express-refresh-tokens key pair check');
  const digest = algorithm === 'EdDSA' ? null : `sha${algorithm.slice(2)}`;
  if (!verify(digest, probe, verifyingKey, sign(digest, probe, signingKey))) {
    fail('type', 'accessToken.publicKey', 'does not match `accessToken.privateKey`', 'Pass the public key of the same key pair, or omit it.');
  }
  return { signingKey, verifyingKey };
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
    fail('type', 'cookie.sameSite', "is 'none' with `cookie.secure: false`; browsers drop such cookies", "Use 'strict' or 'lax' on plain http.");
  }
  const name = options.name ?? (secure ? DEFAULT_COOKIE_NAMES.secure : DEFAULT_COOKIE_NAMES.insecure);
  if (typeof name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    fail('type', 'cookie.name', `must be a cookie name (letters, digits, - _ .); received ${describeValue(name)}`, "Leave it out for '__Host-refresh'.");
  }
  const hostPrefixed = name.startsWith('__Host-');
  if ((hostPrefixed || name.startsWith('__Secure-')) && !secure) {
    fail('type', 'cookie.name', `is ${describeValue(name)}, a prefix browsers only accept on Secure cookies, but \`cookie.secure\` is false`, "Leave `cookie.name` out (it becomes 'refresh'), or set `cookie.secure: true`.");
  }
  return { name, sameSite: sameSiteValues[sameSite as keyof typeof sameSiteValues], secure, hostPrefixed };
}

function csrfOptions(options: Partial<CsrfOptions>): Configuration['csrf'] {
  const headerName = options.headerName ?? DEFAULT_CSRF_HEADER;
  if (typeof headerName !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(headerName)) {
    fail('type', 'csrf.headerName', `must be an HTTP header name; received ${describeValue(headerName)}`, "Leave it out for 'X-Requested-With'.");
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
      fail('type', 'csrf.allowedOrigins', `must hold origins like 'https://app.example' (scheme, host, optional port, no path); received ${describeValue(origin)}`, 'Remove the path or fix the URL.');
    }
    return parsed.origin;
  });
  return { headerName: headerName.toLowerCase(), allowedOrigins: new Set(origins) };
}

function storeOption(store: unknown): SessionStore {
  const methods = ['createSession', 'presentToken', 'revokeSession', 'discardSession', 'revokeUser', 'getSession', 'listSessions', 'openRevocationFeed'] as const;
  const missing = store && typeof store === 'object' ? methods.filter((m) => typeof (store as Record<string, unknown>)[m] !== 'function') : methods;
  if (missing.length > 0) {
    fail('type', 'store', `must be a SessionStore (missing ${missing.join(', ')}); received ${describeValue(store)}`, 'Pass `new RedisStore({ client })` or `new MemoryStore()`.');
  }
  return store as SessionStore;
}

/**
 * Validates every option of {@link AuthOptions} at once and resolves defaults. Throws a `TypeError`
 * or `RangeError` naming the option, what was expected, what was received and how to fix it.
 */
export function resolveOptions(options: AuthOptions): Configuration {
  if (options === null || typeof options !== 'object') {
    fail('type', 'options', `must be an object; received ${describeValue(options)}`, 'Call createAuth({ store, accessToken, refreshToken, authenticate }).');
  }
  checkKnownKeys('', options);
  const store = storeOption(options.store);
  if (typeof options.authenticate !== 'function') {
    fail('type', 'authenticate', `must be a function (req) => ({ userId, claims }) | null; received ${describeValue(options.authenticate)}`, 'Pass your credential check.');
  }

  const access = section<AccessTokenOptions>('accessToken', options.accessToken, true);
  const refresh = section<RefreshTokenOptions>('refreshToken', options.refreshToken, true);
  const algorithm = algorithmOption(access.algorithm);
  const keys = accessTokenKeys(algorithm, access);
  const accessTtlMs = duration('accessToken.ttl', access.ttl, '10m');
  if (accessTtlMs < 1000) fail('range', 'accessToken.ttl', `must be at least 1s; received ${describeMs(accessTtlMs)}`, "Use something like '10m'.");

  const refreshSecret = secretBytes('refreshToken.secret', refresh.secret, MIN_REFRESH_SECRET_BYTES);
  if (HMAC_KEY_BYTES[algorithm] !== undefined && refreshSecret.equals(keys.signingKey.export())) {
    fail('type', 'refreshToken.secret', 'is the same as `accessToken.secret`', 'Use two different secrets, so one leaking does not give away the other.');
  }
  const idleTtlMs = duration('refreshToken.idleTtl', refresh.idleTtl, '14d');
  const absoluteTtlMs = duration('refreshToken.absoluteTtl', refresh.absoluteTtl, '30d');
  const reuseGraceMs = duration('refreshToken.reuseGrace', refresh.reuseGrace, '30s');
  if (idleTtlMs < 1000) fail('range', 'refreshToken.idleTtl', `must be at least 1s; received ${describeMs(idleTtlMs)}`, "Use something like '14d'.");
  if (absoluteTtlMs < idleTtlMs) {
    fail('range', 'refreshToken.absoluteTtl', `(${describeMs(absoluteTtlMs)}) must not be shorter than \`refreshToken.idleTtl\` (${describeMs(idleTtlMs)})`, 'Raise absoluteTtl or lower idleTtl.');
  }
  if (reuseGraceMs >= idleTtlMs) {
    fail('range', 'refreshToken.reuseGrace', `(${describeMs(reuseGraceMs)}) must be shorter than \`refreshToken.idleTtl\` (${describeMs(idleTtlMs)})`, "A few seconds is enough; the default is '30s'.");
  }
  if (accessTtlMs > idleTtlMs) {
    fail('range', 'accessToken.ttl', `(${describeMs(accessTtlMs)}) must not be longer than \`refreshToken.idleTtl\` (${describeMs(idleTtlMs)})`, "Access tokens should be short-lived, e.g. '10m'.");
  }

  const revocation = section<RevocationOptions>('revocation', options.revocation, false);
  const maxStalenessMs = duration('revocation.maxStaleness', revocation.maxStaleness, '5s');
  if (maxStalenessMs < 200 || maxStalenessMs > 60_000) {
    fail('range', 'revocation.maxStaleness', `must be from 200ms to 1m; received ${describeMs(maxStalenessMs)}`, "Leave it out for '5s'.");
  }

  const realm = options.realm ?? 'api';
  if (typeof realm !== 'string' || !/^[\x20-\x7e]*$/.test(realm) || realm.includes('"') || realm.includes('\\')) {
    fail('type', 'realm', `must be printable ASCII without quotes or backslashes; received ${describeValue(realm)}`, "Leave it out for 'api'.");
  }
  const bodyLimit = options.bodyLimit ?? 16_384;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 256 || bodyLimit > 1_048_576) {
    fail('range', 'bodyLimit', `must be a whole number of bytes from 256 to 1048576; received ${describeValue(bodyLimit)}`, 'Leave it out for 16384.');
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
    cookie: cookieOptions(section<CookieOptions>('cookie', options.cookie, false)),
    csrf: csrfOptions(section<CsrfOptions>('csrf', options.csrf, false)),
    authenticate: options.authenticate,
    realm,
    bodyLimit,
  };
}
