// Parses durations given as seconds (number) or strings such as '30s', '10m', '14d'.

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/** A duration: a number of seconds, or a string like `'500ms'`, `'30s'`, `'10m'`, `'12h'`, `'14d'`, `'2w'`. */
export type Duration = number | string;

/**
 * Converts a {@link Duration} to whole milliseconds, or returns `undefined` when the value is not a
 * valid non-negative duration. Callers turn `undefined` into an option error that names the option.
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
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = UNIT_MS[match[2] as string] as number;
  return Math.round(amount * unit);
}

/** Formats milliseconds for error messages: `'90000ms (90s)'`. */
export function describeMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
