// Describes a received value for error messages without ever printing a secret.

/**
 * A short description of `value` for a misuse message: its type, and its text only when
 * `showValue` is true (never for secrets or keys).
 */
export function describeValue(value: unknown, showValue = true): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'null prototype'})`;
  if (typeof value === 'string') return showValue ? `the string ${JSON.stringify(value)}` : `a string of ${Buffer.byteLength(value)} bytes`;
  return showValue ? `${typeof value} ${String(value)}` : `a ${typeof value}`;
}

/** The most characters of a request's own value (a header, a host name) a message quotes. */
const MAX_QUOTED_LENGTH = 100;

/**
 * A value the request itself sent (its `Origin`, `Content-Type`, host name) as an error message or
 * warning quotes it back: as sent, cut at {@link MAX_QUOTED_LENGTH} characters. Only for values that
 * carry no secret; Node has already refused control characters in headers.
 */
export function quoteReceived(value: string): string {
  return value.length > MAX_QUOTED_LENGTH ? `${value.slice(0, MAX_QUOTED_LENGTH)}…` : value;
}
