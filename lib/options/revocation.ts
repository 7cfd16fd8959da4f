// The `revocation` section of the options: how stale the in-process revocation feed may grow.
import { describeMs } from '../duration';
import { ErrorCodes } from '../errors';
import { duration, fail, type KnownOptions, section } from '../option-checks';
import type { Configuration, RevocationOptions } from './types';

/** Every option of `revocation`. */
const KNOWN = { maxStaleness: true } satisfies KnownOptions<RevocationOptions>;

/**
 * Validates the `revocation` section (optional) and resolves its default; how long revocations are
 * retained depends on the token lifetimes, so `resolveOptions` adds it.
 */
export function resolveRevocation(value: unknown): Omit<Configuration['revocation'], 'retainMs'> {
  const revocation = section<RevocationOptions>('revocation', value, false, KNOWN);
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
  return { maxStalenessMs };
}
