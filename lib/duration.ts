// Parses durations given as seconds (number) or strings in the `ms` package's notation: '30s', '10m', '1.5h', '2 days'.
import ms from 'ms';

/** A string ending in a unit: `ms` reads a bare `'600'` as milliseconds, where a number here means seconds. */
const HAS_UNIT = /[a-z]$/;
/** Units are lower-case: `ms` would read `'6M'` as six minutes, where many mean six months. */
const UPPER_CASE = /[A-Z]/;

/**
 * A duration: a number of seconds, or a string with a unit, as the `ms` package reads it:
 * `'500ms'`, `'30s'`, `'10m'`, `'1.5h'`, `'12h'`, `'14d'`, `'2w'`, `'1 hour'`, `'2 days'`, `'1y'`.
 * A string without a unit (`'600'`) or with an upper-case one (`'6M'`) is refused, and so is
 * anything over ten years (an access token's `ttl`: over a day).
 *
 * @example
 * ```ts
 * import type { Duration } from 'express-refresh-tokens';
 *
 * const ttl: Duration = '10m'; // the same as 600
 * const idleTtl: Duration = process.env.IDLE_TTL ?? '14d';
 * ```
 */
export type Duration = number | string;

/**
 * Converts a {@link Duration} to whole milliseconds, or returns `undefined` when the value is not a
 * valid non-negative duration: a negative one, junk `ms` cannot read, or a string without a unit.
 * Callers turn `undefined` into an option error that names the option.
 *
 * @example
 * parseDuration('10m'); // 600000
 * parseDuration(30);    // 30000
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!HAS_UNIT.test(text) || UPPER_CASE.test(text)) return undefined;
  // `ms` answers undefined for what it cannot read, and reads '-1s' as -1000: both are refused.
  const parsed = ms(text as ms.StringValue) as number | undefined;
  // `+ 0` turns the -0 of "-0s" into 0.
  return parsed !== undefined && Number.isFinite(parsed) && parsed >= 0 ? Math.round(parsed) + 0 : undefined;
}

/** Formats milliseconds for error messages: `'90000ms (90s)'`. */
export function describeMs(milliseconds: number): string {
  return milliseconds % 1000 === 0 ? `${milliseconds / 1000}s` : `${milliseconds}ms`;
}
