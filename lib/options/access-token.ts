// The `accessToken` section of the options: the signing algorithm and keys, the lifetime, issuer and audience.

import { describeMs } from '../duration';
import { ErrorCodes } from '../errors';
import { duration, fail, type KnownOptions, optionalString, section } from '../option-checks';
import { MAX_ACCESS_TTL_MS } from '../tokens/token-lifetimes';
import { accessTokenKeys, algorithmOption } from './access-token-keys';
import type { AccessTokenOptions, Configuration } from './types';

/** Every option of `accessToken`. */
const KNOWN = {
  algorithm: true,
  secret: true,
  privateKey: true,
  publicKey: true,
  keys: true,
  ttl: true,
  issuer: true,
  audience: true,
} satisfies KnownOptions<AccessTokenOptions>;

/** Validates the `accessToken` section (required) and resolves its keys and defaults. */
export function resolveAccessToken(value: unknown): Configuration['accessToken'] {
  const access = section<AccessTokenOptions>('accessToken', value, true, KNOWN);
  const algorithm = algorithmOption(access.algorithm);
  const keys = accessTokenKeys(algorithm, access);
  const ttlMs = duration('accessToken.ttl', access.ttl, '10m');
  if (ttlMs < 1000)
    fail('range', 'accessToken.ttl', `must be at least 1s; received ${describeMs(ttlMs)}`, "Use something like '10m'.", ErrorCodes.ERR_INVALID_DURATION);
  return {
    algorithm,
    ...keys,
    ttlMs,
    issuer: optionalString('accessToken.issuer', access.issuer),
    audience: optionalString('accessToken.audience', access.audience),
  };
}

/**
 * Refuses an access-token lifetime over a day (a number of milliseconds taken for seconds, usually).
 * `resolveOptions` applies it after the rule that the lifetime fits within `refreshToken.idleTtl`, which says more.
 */
export function checkAccessTtlCap(ttlMs: number): void {
  if (ttlMs > MAX_ACCESS_TTL_MS) {
    fail(
      'range',
      'accessToken.ttl',
      `must be at most 1d; received ${describeMs(ttlMs)}`,
      "A number is seconds, not milliseconds: 900 or '15m' for fifteen minutes.",
      ErrorCodes.ERR_INVALID_DURATION,
    );
  }
}
