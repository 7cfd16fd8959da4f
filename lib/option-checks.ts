// The checks every option validator shares: one error format, and unknown keys named with the closest known one.

/** Throws the library's option error: `createAuth: \`option\` <problem>. <fix>` as a TypeError or RangeError. */
export function fail(kind: 'type' | 'range', option: string, problem: string, fix: string): never {
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

/**
 * Refuses a key of `value` that is not in `known`, naming it with its path (`section.key`, or just
 * `key` at the top level) and suggesting the closest known one ("Did you mean …?").
 */
export function checkKnownKeys(section: string, value: object, known: readonly string[]): void {
  const path = (key: string): string => (section === '' ? key : `${section}.${key}`);
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const closest = known.find((candidate) => editDistance(key, candidate) <= 2);
    fail('type', path(key), 'is not an option', closest ? `Did you mean \`${path(closest)}\`?` : `Known options here: ${known.join(', ')}.`);
  }
}
