// The `refreshToken` section of the options: the successor secret and the lifetimes of a family.
import { createSecretKey } from 'node:crypto';
import { describeValue } from '../describe-value';
import { describeMs } from '../duration';
import { ErrorCodes } from '../errors';
import { duration, fail, type KnownOptions, secretBytes, section } from '../option-checks';
import type { BindingMode, Configuration, RefreshTokenOptions } from './types';

/** Every option of `refreshToken`. */
const KNOWN = { secret: true, idleTtl: true, absoluteTtl: true, reuseGrace: true, binding: true } satisfies KnownOptions<RefreshTokenOptions>;

const BINDING_MODES: readonly BindingMode[] = ['off', 'prefer', 'require'];

const MIN_REFRESH_SECRET_BYTES = 32;

/**
 * Validates the `refreshToken` section (required) and resolves its defaults; how long a revoked session is
 * remembered depends on the access tokens, so `resolveOptions` adds it.
 */
export function resolveRefreshToken(value: unknown): Omit<Configuration['refreshToken'], 'revocationTtlMs'> {
  const refresh = section<RefreshTokenOptions>('refreshToken', value, true, KNOWN);
  const successorKey = createSecretKey(secretBytes('refreshToken.secret', refresh.secret, MIN_REFRESH_SECRET_BYTES));
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
  const binding = refresh.binding ?? 'prefer';
  if (!BINDING_MODES.includes(binding)) {
    fail('type', 'refreshToken.binding', `must be 'off', 'prefer' or 'require'; received ${describeValue(binding)}`, "Leave it out for 'prefer'.");
  }
  return { successorKey, idleTtlMs, absoluteTtlMs, reuseGraceMs, binding };
}
