// The checks every option validator shares: one error format with a stable code, unknown keys named with the closest known one, sections, durations, secrets.
import { describeValue } from './describe-value';
import { type Duration, parseDuration } from './duration';
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
 * Refuses a key of `value` that is not in `known` (a {@link KnownOptions} record), naming it with its
 * path (`section.key`, or just `key` at the top level) and suggesting the closest known one ("Did you mean …?").
 */
export function checkKnownKeys<Options>(section: string, value: object, knownOptions: KnownOptions<Options>, caller = 'createAuth'): void {
  const path = (key: string): string => (section === '' ? key : `${section}.${key}`);
  const known = Object.keys(knownOptions);
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(knownOptions, key)) continue;
    const closest = known.find((candidate) => editDistance(key, candidate) <= 2);
    const fix = closest ? `Did you mean \`${path(closest)}\`?` : `Known options here: ${known.join(', ')}.`;
    throw configurationError('type', ErrorCodes.ERR_UNKNOWN_OPTION, `${caller}: \`${path(key)}\` is not an option. ${fix}`);
  }
}

/**
 * The option names one interface allows, each `true`: declared with `satisfies Record<keyof Options, true>`,
 * so an option added to the interface but not to its list fails the build.
 */
export type KnownOptions<Options> = Readonly<Record<keyof Options, true>>;

/**
 * Checks that a section of the options (`name`) is an object holding only known options, and returns it.
 * An optional section left out is `{}`.
 */
export function section<T extends object>(name: string, value: unknown, required: boolean, known: KnownOptions<T>): Partial<T> {
  if (value === undefined && !required) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    // The value is never shown: a secret passed where its section belongs must not reach a log.
    fail('type', name, `must be an object; received ${describeValue(value, false)}`, 'See the options table in the README.', missingOr(value));
  }
  checkKnownKeys(name, value, known);
  return value as Partial<T>;
}

const GENERATE_SECRET_HINT =
  "Generate one with `node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"` and load it from the environment.";

/** The longest duration any option takes: ten years. Longer ones are typos, and break dates. */
const MAX_DURATION_MS = 10 * 366 * 86_400_000;

/** Whether a string is too long or too odd to be a mistyped duration: it may be a secret in the wrong option, so it is not shown. */
function looksLikeSecret(value: unknown): boolean {
  return typeof value === 'string' && (value.length > 20 || !/^[\w .+-]*$/.test(value));
}

/** Validates a duration option (`fallback` when left out) as milliseconds, at most ten years. */
export function duration(option: string, value: unknown, fallback: Duration): number {
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

/** Validates a secret option: a string or Buffer of at least `minBytes` bytes. */
export function secretBytes(option: string, value: unknown, minBytes: number): Buffer {
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

/** Validates an optional non-empty string option. */
export function optionalString(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    fail('type', option, `must be a non-empty string when set; received ${describeValue(value)}`, 'Remove it or pass a string.');
  }
  return value;
}
