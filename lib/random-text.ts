// Random identifiers as base64url text, drawn from a pooled CSPRNG buffer (one system call per 4 KiB, as node's randomUUID does).
import { randomFillSync } from 'node:crypto';

/** Refilled from the operating system's CSPRNG whenever fewer bytes are left than a caller asks for. */
const POOL = Buffer.allocUnsafe(4096);
let offset = POOL.length;

/**
 * `bytes` fresh random bytes (at most 4096) as base64url. Every byte is handed out once: a pooled
 * byte is never reused, so this is as unpredictable as `randomBytes(bytes)`, without a call into
 * OpenSSL (which cost about 10 µs of a request under load) for each identifier.
 */
export function randomBase64url(bytes: number): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const text = POOL.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return text;
}
