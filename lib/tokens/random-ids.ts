// Random ids as base64url text from a pooled CSPRNG buffer, as nanoid's `random` and node-oidc-provider's helpers/nanoid.js (nanoid) make theirs.
import { randomFillSync } from 'node:crypto';

/** The most bytes one id may take: the pool's size. */
export const RANDOM_ID_MAX_BYTES = 4096;

/** Refilled from the operating system's CSPRNG whenever fewer bytes are left than a caller asks for. */
const POOL = Buffer.allocUnsafe(RANDOM_ID_MAX_BYTES);
let offset = POOL.length;

/**
 * A random id of `bytes` fresh random bytes, as base64url text. The bytes come from a pool refilled
 * with one `randomFillSync` per 4 KiB (the design of nanoid's pooled `random`, which
 * node-oidc-provider's `helpers/nanoid.js` uses for its ids, and of node's `randomUUID`), and every
 * byte is handed out once, so an id is as unpredictable as `randomBytes(bytes)` without a call into
 * OpenSSL per id.
 *
 * @throws RangeError when `bytes` is not a whole number from 0 to {@link RANDOM_ID_MAX_BYTES}: a
 * larger id than the pool holds is refused rather than returned short.
 *
 * @example
 * ```ts
 * randomId(16); // 22 base64url characters
 * ```
 */
export function randomId(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 0 || bytes > POOL.length) {
    throw new RangeError(`randomId takes 0 to ${POOL.length} bytes, not ${bytes}`);
  }
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const text = POOL.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return text;
}
