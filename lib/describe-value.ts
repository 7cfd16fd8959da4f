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
