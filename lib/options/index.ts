// resolveOptions: validates every section of createAuth's options, then the rules that span sections, into one Configuration.

import { describeValue } from '../describe-value';
import { describeMs } from '../duration';
import { ErrorCodes } from '../errors';
import { checkKnownKeys, fail, type KnownOptions, missingOr } from '../option-checks';
import { REVOCATION_LEEWAY_MS } from '../tokens/token-lifetimes';
import { checkAccessTtlCap, resolveAccessToken } from './access-token';
import { HMAC_KEY_BYTES } from './access-token-keys';
import { resolveCookie } from './cookie';
import { resolveCsrf } from './csrf';
import { resolveLogger, resolveTelemetry } from './observability';
import { resolveRateLimit } from './rate-limit';
import { resolveRefreshToken } from './refresh-token';
import { resolveRevocation } from './revocation';
import { resolveAuthenticate, resolveLimits, resolveOrigin, resolveReauthenticate, resolveSessionNetwork, resolveStore } from './top-level';
import type { AuthOptions, Configuration } from './types';

/** The option types and the resolved Configuration, for the modules that import them from here. */
export type * from './types';

/** Every option of {@link AuthOptions}. */
const KNOWN = {
  store: true,
  accessToken: true,
  refreshToken: true,
  cookie: true,
  csrf: true,
  revocation: true,
  rateLimit: true,
  authenticate: true,
  reauthenticate: true,
  realm: true,
  bodyLimit: true,
  maxSessionsPerUser: true,
  sessionNetwork: true,
  origin: true,
  telemetry: true,
  logger: true,
} satisfies KnownOptions<AuthOptions>;

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
  checkKnownKeys('', options, KNOWN);
  const store = resolveStore(options.store);
  const authenticate = resolveAuthenticate(options.authenticate);
  const accessToken = resolveAccessToken(options.accessToken);
  const refreshToken = resolveRefreshToken(options.refreshToken);
  checkSecretsDiffer(accessToken, refreshToken);
  checkAccessWithinIdle(accessToken.ttlMs, refreshToken.idleTtlMs);
  checkAccessTtlCap(accessToken.ttlMs);
  const revocation = resolveRevocation(options.revocation);
  const limits = resolveLimits(options);
  const rateLimit = resolveRateLimit(options.rateLimit);
  const cookie = resolveCookie(options.cookie);
  const csrf = resolveCsrf(options.csrf);
  const telemetry = resolveTelemetry(options.telemetry);
  const logger = resolveLogger(options.logger);
  const accessTtlMs = accessToken.ttlMs;
  return {
    store,
    origin: resolveOrigin(options.origin),
    accessToken,
    refreshToken: { ...refreshToken, revocationTtlMs: accessTtlMs + REVOCATION_LEEWAY_MS },
    revocation: { ...revocation, retainMs: refreshToken.absoluteTtlMs + accessTtlMs + REVOCATION_LEEWAY_MS },
    rateLimit,
    cookie,
    csrf,
    authenticate,
    reauthenticate: resolveReauthenticate(options.reauthenticate),
    ...limits,
    sessionNetwork: resolveSessionNetwork(options.sessionNetwork),
    telemetry,
    logger,
  };
}

/** Refuses an `HS*` access-token secret that is also the refresh-token secret: one leaking must not give away the other. */
function checkSecretsDiffer(accessToken: Configuration['accessToken'], refreshToken: Pick<Configuration['refreshToken'], 'successorKey'>): void {
  if (HMAC_KEY_BYTES[accessToken.algorithm] === undefined) return;
  if (refreshToken.successorKey.export().equals(accessToken.signingKey.export())) {
    fail(
      'type',
      'refreshToken.secret',
      'is the same as `accessToken.secret`',
      'Use two different secrets, so one leaking does not give away the other.',
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
}

/** Refuses access tokens that live longer than an idle session: a token must not outlive the session it speaks for. */
function checkAccessWithinIdle(accessTtlMs: number, idleTtlMs: number): void {
  if (accessTtlMs > idleTtlMs) {
    fail(
      'range',
      'accessToken.ttl',
      `(${describeMs(accessTtlMs)}) must not be longer than \`refreshToken.idleTtl\` (${describeMs(idleTtlMs)})`,
      "Access tokens should be short-lived, e.g. '10m'.",
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
}
