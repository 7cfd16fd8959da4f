// The checks every option validator shares: one error format with a stable code, and unknown keys named with the closest known one.
import { describeValue } from './describe-value';
import { type ConfigurationError, type ConfigurationErrorCode, ErrorCodes } from './errors';

/**
 * A configuration error: a plain `TypeError` or `RangeError` (what callers have always caught, and
 * what `instanceof` checks expect) with a stable `code` attached, as Node does (`ERR_INVALID_ARG_TYPE`).
 */
export function configurationError(kind: 'type' | 'range', code: ConfigurationErrorCode, message: string): ConfigurationError {
  return Object.assign(kind === 'type' ? new TypeError(message) : new RangeError(message), { code });
}

/**
 * Throws the library's option error: `createAuth: \`option\` <problem>. <fix>` as a TypeError or
 * RangeError whose `code` is `code` (`ERR_INVALID_OPTION` unless a more precise one applies).
 */
export function fail(
  kind: 'type' | 'range',
  option: string,
  problem: string,
  fix: string,
  code: ConfigurationErrorCode = ErrorCodes.ERR_INVALID_OPTION,
): never {
  throw configurationError(kind, code, `createAuth: \`${option}\` ${problem}. ${fix}`);
}

/** `ERR_MISSING_OPTION` for a value that was not given at all, `ERR_INVALID_OPTION` (or `otherwise`) for one that was. */
export function missingOr(value: unknown, otherwise: ConfigurationErrorCode = ErrorCodes.ERR_INVALID_OPTION): ConfigurationErrorCode {
  return value === undefined ? ErrorCodes.ERR_MISSING_OPTION : otherwise;
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

/**
 * Refuses a key of `value` that is not in `known`, naming it with its path (`section.key`, or just
 * `key` at the top level) and suggesting the closest known one ("Did you mean …?").
 */
export function checkKnownKeys(section: string, value: object, known: readonly string[], caller = 'createAuth'): void {
  const path = (key: string): string => (section === '' ? key : `${section}.${key}`);
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const closest = known.find((candidate) => editDistance(key, candidate) <= 2);
    const fix = closest ? `Did you mean \`${path(closest)}\`?` : `Known options here: ${known.join(', ')}.`;
    throw configurationError('type', ErrorCodes.ERR_UNKNOWN_OPTION, `${caller}: \`${path(key)}\` is not an option. ${fix}`);
  }
}

/**
 * Validates the options of `auth.requireAuth(options)`: an object whose only key is `optional`, a
 * boolean. Throws a TypeError coded `ERR_INVALID_OPTION` or `ERR_UNKNOWN_OPTION`.
 */
export function checkRequireAuthOptions(options: unknown): void {
  if (options === null || typeof options !== 'object') {
    throw configurationError(
      'type',
      ErrorCodes.ERR_INVALID_OPTION,
      `requireAuth: options must be an object like { optional: true }; received ${describeValue(options)}.`,
    );
  }
  checkKnownKeys('', options, ['optional'], 'requireAuth');
  const { optional } = options as { optional?: unknown };
  if (optional !== undefined && typeof optional !== 'boolean') {
    throw configurationError('type', ErrorCodes.ERR_INVALID_OPTION, `requireAuth: \`optional\` must be a boolean; received ${describeValue(optional)}.`);
  }
}
