// createVerifier's options: their types, and their validation at start-up into the settings the verifier runs on.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { describeValue } from '../describe-value';
import { type Duration, parseDuration } from '../duration';
import { type ConfigurationErrorCode, ErrorCodes } from '../errors';
import { checkKnownKeys, configurationError, type KnownOptions, missingOr } from '../option-checks';
import { checkKeyFitsAlgorithm, HMAC_KEY_BYTES, toKeyObject } from '../options/access-token-keys';
import { resolveLogger, resolveTelemetry } from '../options/observability';
import type { AuthLogger, KeyInput, TelemetryOptions } from '../options/types';
import type { SubscriberLike } from '../revocation/redis-revocation-feed';
import { redisConnectionSettings } from '../store/redis-store-options';
import { type AccessTokenAlgorithm, KID_PATTERN } from '../tokens/signing-keys';

/**
 * The part of an ioredis `Redis` or `Cluster` the verifier uses: scripts, and a duplicate to subscribe
 * on. Any ioredis client fits; the type is structural so this package does not force an ioredis version on you.
 */
export interface VerifierRedisClient {
  /** ioredis status: `wait` (lazyConnect), `connecting`, `ready`, `reconnecting`, `end`, ... */
  readonly status: string;
  /** Connects a `lazyConnect` client. */
  connect(): Promise<unknown>;
  /** Probes a Redis that stopped answering. */
  ping(): Promise<unknown>;
  /** Runs a loaded script by its SHA-1. */
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  /** Loads and runs a script, after a `NOSCRIPT` answer. */
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  /** A new connection with the same options: the revocation feed's subscriber. */
  duplicate(): SubscriberLike;
  /** Waits for the connection to be ready, or to end for good. */
  once(event: 'ready' | 'end', listener: () => void): unknown;
  /** Stops waiting for `ready` or `end`. */
  off(event: 'ready' | 'end', listener: () => void): unknown;
}

/**
 * Options for `createVerifier`: where the keys come from (exactly one of `jwksUri`, `keys`, `secret`),
 * the algorithms, issuer and audience required, and the auth service's Redis for its revocation feed.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import type { VerifierOptions } from 'express-refresh-tokens/verifier';
 *
 * const options: VerifierOptions = {
 *   jwksUri: 'https://auth.internal.example/auth/.well-known/jwks.json',
 *   algorithms: ['ES256'],
 *   issuer: 'https://auth.example',
 *   redis: { client: new Redis(process.env.REDIS_URL ?? 'redis://localhost:6379'), prefix: 'auth:' },
 *   revocation: { feedKey: process.env.REVOCATION_FEED_KEY ?? '' },
 * };
 * ```
 */
export interface VerifierOptions {
  /** The auth service's JWKS (`{mount}/.well-known/jwks.json`): https, or http to a loopback host. */
  jwksUri?: string;
  /** The auth service's public keys, when they are configured here rather than fetched: `[{ kid, publicKey }]`. */
  keys?: Array<{ kid: string; publicKey: KeyInput }>;
  /** The auth service's `accessToken.secret`, for `HS*` tokens (then every holder can also sign: prefer asymmetric keys). */
  secret?: string | Buffer;
  /** The only algorithms accepted, e.g. `['ES256']`. Required. */
  algorithms: AccessTokenAlgorithm[];
  /**
   * With `jwksUri`: the shortest time between two fetches of the JWKS that a token with an unknown
   * `kid` (a key the auth service just started signing with) may cause. Defaults to `'30s'`; `0` to `'10m'`.
   */
  keyRefetchCooldown?: Duration;
  /** The `iss` every token must carry: the auth service's `accessToken.issuer`. */
  issuer?: string;
  /** The `aud` every token must carry (one of): the auth service's `accessToken.audience`. */
  audience?: string;
  /** The realm in `WWW-Authenticate` challenges. Defaults to `'api'`. */
  realm?: string;
  /** The auth service's Redis, where its revocation log and channel are. Required. */
  redis: {
    /** An ioredis `Redis` or `Cluster` (never closed by the verifier). */
    client: VerifierRedisClient;
    /** The auth service's `RedisStore` prefix. Defaults to `'ert:'`. */
    prefix?: string;
    /** How long one Redis command may take. Defaults to `1000`. */
    commandTimeoutMs?: number;
  };
  /** The revocation feed: its key, and how stale it may get before protected routes answer 503. Required. */
  revocation: {
    /** `auth.revocationFeedKey()` of the auth service: authenticates what the channel carries. Required. */
    feedKey: string;
    /** Defaults to `'5s'`, as the auth service's. */
    maxStaleness?: Duration;
  };
  /** Metrics and traces, as `createAuth`'s `telemetry`. */
  telemetry?: TelemetryOptions | false;
  /** One line per state change, as `createAuth`'s `logger`. */
  logger?: AuthLogger | false;
}

/** Where the verifier's keys come from, resolved. */
export type VerifierKeys =
  | { kind: 'jwks'; uri: string; cooldownMs: number }
  | { kind: 'keys'; byKid: ReadonlyMap<string, KeyObject> }
  | { kind: 'secret'; key: KeyObject };

/** The validated options. */
export interface VerifierSettings {
  keys: VerifierKeys;
  algorithms: ReadonlySet<AccessTokenAlgorithm>;
  issuer: string | undefined;
  audience: string | undefined;
  realm: string;
  client: VerifierRedisClient;
  prefix: string;
  commandTimeoutMs: number;
  feedKey: KeyObject;
  maxStalenessMs: number;
  telemetry: ReturnType<typeof resolveTelemetry>;
  logger: ReturnType<typeof resolveLogger>;
}

const KNOWN = {
  jwksUri: true,
  keyRefetchCooldown: true,
  keys: true,
  secret: true,
  algorithms: true,
  issuer: true,
  audience: true,
  realm: true,
  redis: true,
  revocation: true,
  telemetry: true,
  logger: true,
} satisfies KnownOptions<VerifierOptions>;

const ALGORITHMS: ReadonlySet<string> = new Set([
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
]);

/** A TypeError (or RangeError) naming the option, coded `code`. */
function invalid(message: string, code: ConfigurationErrorCode = ErrorCodes.ERR_INVALID_OPTION, kind: 'type' | 'range' = 'type'): Error {
  return configurationError(kind, code, `createVerifier: ${message}`);
}

function algorithmsOf(value: unknown): AccessTokenAlgorithm[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((alg) => typeof alg === 'string' && ALGORITHMS.has(alg))) {
    throw invalid(
      `\`algorithms\` must be a non-empty array of ${[...ALGORITHMS].join(', ')} (never 'none'); received ${describeValue(value)}. ` +
        "Pass the auth service's accessToken.algorithm, e.g. ['ES256'].",
      value === undefined ? ErrorCodes.ERR_MISSING_OPTION : ErrorCodes.ERR_INVALID_OPTION,
    );
  }
  return value as AccessTokenAlgorithm[];
}

function jwksUriOf(value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  const loopback = url !== undefined && /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(url.hostname);
  if (url === undefined || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
    throw invalid(
      `\`jwksUri\` must be an https URL (http only to a loopback host); received ${describeValue(value)}. ` +
        "Pass the auth service's JWKS, e.g. 'https://auth.internal.example/auth/.well-known/jwks.json'.",
    );
  }
  return url.href;
}

function cooldownOf(value: unknown): number {
  const ms = parseDuration(value ?? '30s');
  if (ms === undefined || ms > 600_000) {
    throw invalid(
      `\`keyRefetchCooldown\` must be a duration from 0 to 10 minutes, such as '30s'; received ${describeValue(value)}.`,
      ErrorCodes.ERR_INVALID_OPTION,
      'range',
    );
  }
  return ms;
}

function keysOf(value: unknown, algorithms: readonly AccessTokenAlgorithm[]): ReadonlyMap<string, KeyObject> {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid(`\`keys\` must be a non-empty array of { kid, publicKey }; received ${describeValue(value, false)}.`);
  }
  const byKid = new Map<string, KeyObject>();
  value.forEach((entry: unknown, index) => {
    const at = `keys[${index}]`;
    const { kid, publicKey } = (entry ?? {}) as { kid?: unknown; publicKey?: unknown };
    if (typeof kid !== 'string' || !KID_PATTERN.test(kid) || byKid.has(kid)) {
      throw invalid(
        `\`${at}.kid\` must be 1 to 64 printable ASCII characters, each kid once; received ${describeValue(kid)}. Use the kids of the auth service's JWKS.`,
      );
    }
    const key = toKeyObject(`${at}.publicKey`, publicKey, 'public');
    if (!algorithms.some((alg) => fits(key, alg))) {
      checkKeyFitsAlgorithm(`${at}.publicKey`, key, algorithms[0] as AccessTokenAlgorithm);
    }
    byKid.set(kid, key);
  });
  return byKid;
}

/** Whether `key` can verify `alg` (the configuration checks of createAuth, as a yes or no). */
export function fits(key: KeyObject, alg: AccessTokenAlgorithm): boolean {
  try {
    checkKeyFitsAlgorithm('key', key, alg);
    return true;
  } catch {
    return false;
  }
}

function secretOf(value: unknown, algorithms: readonly AccessTokenAlgorithm[]): KeyObject {
  const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.isBuffer(value) ? value : undefined;
  const needed = Math.max(...algorithms.map((alg) => HMAC_KEY_BYTES[alg] ?? Number.POSITIVE_INFINITY));
  if (!Number.isFinite(needed)) {
    throw invalid(
      '`secret` verifies HS256/384/512 tokens only: `algorithms` must name only those. With asymmetric keys pass `jwksUri` or `keys`.',
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  if (bytes === undefined || bytes.length < needed) {
    throw invalid(`\`secret\` must be the auth service's accessToken.secret, at least ${needed} bytes; received ${describeValue(value, false)}.`);
  }
  return createSecretKey(bytes);
}

/** The revocation feed's key: what `auth.revocationFeedKey()` printed (base64url of 32 bytes). */
function feedKeyOf(value: unknown): KeyObject {
  const bytes = typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value) ? Buffer.from(value, 'base64url') : undefined;
  if (bytes === undefined || bytes.length !== 32) {
    throw invalid(
      "`revocation.feedKey` must be what the auth service's `auth.revocationFeedKey()` returns (43 base64url characters); " +
        `received ${describeValue(value, false)}. Read it once there and give it to this service like a secret.`,
      value === undefined ? ErrorCodes.ERR_MISSING_OPTION : ErrorCodes.ERR_INVALID_OPTION,
    );
  }
  return createSecretKey(bytes);
}

/**
 * Validates every option at once; throws a TypeError or RangeError that names the option, says what
 * was expected and received, and how to fix it (never printing a secret).
 */
export function resolveVerifierOptions(options: VerifierOptions): VerifierSettings {
  if (options === null || typeof options !== 'object') {
    throw invalid(
      `options must be an object; received ${describeValue(options)}. Call createVerifier({ jwksUri, algorithms, redis, revocation }).`,
      missingOr(options),
    );
  }
  checkKnownKeys('', options, KNOWN, 'createVerifier');
  const algorithms = algorithmsOf(options.algorithms);
  const sources = (['jwksUri', 'keys', 'secret'] as const).filter((name) => options[name] !== undefined);
  if (sources.length !== 1) {
    throw invalid(
      `pass exactly one of \`jwksUri\`, \`keys\` and \`secret\`; received ${sources.length === 0 ? 'none' : sources.join(' and ')}. ` +
        "With asymmetric keys, `jwksUri` (the auth service's /.well-known/jwks.json) keeps up with key rotation by itself.",
      sources.length === 0 ? ErrorCodes.ERR_MISSING_OPTION : ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  const keys: VerifierKeys =
    sources[0] === 'jwksUri'
      ? { kind: 'jwks', uri: jwksUriOf(options.jwksUri), cooldownMs: cooldownOf(options.keyRefetchCooldown) }
      : sources[0] === 'keys'
        ? { kind: 'keys', byKid: keysOf(options.keys, algorithms) }
        : { kind: 'secret', key: secretOf(options.secret, algorithms) };
  for (const name of ['issuer', 'audience'] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw invalid(`\`${name}\` must be a non-empty string, the auth service's accessToken.${name}; received ${describeValue(value)}.`);
    }
  }
  const realm = options.realm ?? 'api';
  if (typeof realm !== 'string' || !/^[\x20-\x7e]*$/.test(realm) || /["\\]/.test(realm)) {
    throw invalid(`\`realm\` must be printable ASCII without quotes or backslashes; received ${describeValue(realm)}.`);
  }
  const redis = options.redis as VerifierOptions['redis'] | undefined;
  if (redis === null || typeof redis !== 'object') {
    throw invalid(`\`redis\` must be { client, prefix? }, the auth service's Redis; received ${describeValue(redis)}.`, missingOr(redis));
  }
  checkKnownKeys('redis', redis, { client: true, prefix: true, commandTimeoutMs: true }, 'createVerifier');
  const { client, prefix, commandTimeoutMs } = redisConnectionSettings(redis, 'createVerifier', 'redis.');
  const revocation = options.revocation as VerifierOptions['revocation'] | undefined;
  if (revocation === null || typeof revocation !== 'object') {
    throw invalid(`\`revocation\` must be { feedKey, maxStaleness? }; received ${describeValue(revocation, false)}.`, missingOr(revocation));
  }
  checkKnownKeys('revocation', revocation, { feedKey: true, maxStaleness: true }, 'createVerifier');
  const maxStalenessMs = parseDuration(revocation.maxStaleness ?? '5s');
  if (maxStalenessMs === undefined || maxStalenessMs < 200 || maxStalenessMs > 60_000) {
    throw invalid(
      `\`revocation.maxStaleness\` must be from 200ms to 1m; received ${describeValue(revocation.maxStaleness)}.`,
      ErrorCodes.ERR_INVALID_OPTION,
      'range',
    );
  }
  return {
    keys,
    algorithms: new Set(algorithms),
    issuer: options.issuer,
    audience: options.audience,
    realm,
    client,
    prefix,
    commandTimeoutMs,
    feedKey: feedKeyOf(revocation.feedKey),
    maxStalenessMs: maxStalenessMs as number,
    telemetry: resolveTelemetry(options.telemetry),
    logger: resolveLogger(options.logger),
  };
}
