// Reads an answer's Retry-After header (seconds or an HTTP date) and says a wait in words, for AuthClientError.

/** An HTTP date as servers send it (IMF-fixdate, or the obsolete RFC 850 form): always in GMT. */
const HTTP_DATE = /^[A-Z][a-z]{2,8}, [\w -]+ \d{2}:\d{2}:\d{2} GMT$/;

/**
 * Seconds to wait before trying again, from a `Retry-After` header: delta-seconds (`'897'`) or an
 * HTTP date (`'Wed, 21 Oct 2026 07:28:00 GMT'`, counted from `now`; `0` when it has passed).
 *
 * @param header - The header's value, or `null` when the answer had none.
 * @param now - This browser's clock, epoch ms.
 * @returns Whole seconds, or `undefined` when there is no header or it is neither form (garbage is ignored).
 */
export function retryAfterSeconds(header: string | null, now: number): number | undefined {
  const value = header?.trim() ?? '';
  if (/^\d+$/.test(value)) {
    const seconds = Number(value);
    return Number.isSafeInteger(seconds) ? seconds : undefined;
  }
  if (!HTTP_DATE.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now) / 1000)) : undefined;
}

function count(amount: number, unit: string): string {
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}

/**
 * A wait in words, rounded to what a person needs: seconds under a minute, minutes under an hour,
 * hours beyond (`897` reads `'15 minutes'`, `45` reads `'45 seconds'`, `5400` reads `'2 hours'`).
 *
 * @param seconds - The wait, from {@link retryAfterSeconds}; under one second reads `'1 second'`.
 */
export function waitInWords(seconds: number): string {
  if (seconds < 60) return count(Math.max(1, Math.ceil(seconds)), 'second');
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return count(minutes, 'minute');
  return count(Math.round(seconds / 3600), 'hour');
}
