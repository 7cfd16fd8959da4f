// SHA-256 and HMAC-SHA-2 as base64url text (node's one-shot crypto.hash, HMAC as RFC 2104 over it, createHash/createHmac where it is missing), and labelled key derivation.

import type { KeyObject } from 'node:crypto';
import * as crypto from 'node:crypto';

/**
 * SHA-256 of a string (UTF-8) as base64url: node's one-shot `crypto.hash` (Node ≥ 20.12, a fraction
 * of createHash's cost), else createHash. The one hash of the library's stored secrets, JWKS ETag,
 * key thumbprints and throttling keys.
 */
export const sha256Base64url: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'base64url')
    : (text) => crypto.createHash('sha256').update(text).digest('base64url');

/**
 * A key for one purpose, derived from another: `HMAC-SHA-256(key, label)`. Every key the library
 * derives from a configured secret is made here, each under a label of its own (the refresh tokens'
 * MAC key, the revocation channel's key), so no two purposes ever share a key.
 */
export function deriveKey(key: KeyObject, label: string): KeyObject {
  return crypto.createSecretKey(crypto.createHmac('sha256', key).update(label).digest());
}

/** A keyed MAC function: the HMAC of a message, base64url (unpadded). */
export type HmacFunction = (message: string) => string;

/** The hash functions HMAC is used with here, with their block and digest sizes in bytes. */
const HASHES = {
  sha256: { blockBytes: 64, digestBytes: 32 },
  sha384: { blockBytes: 128, digestBytes: 48 },
  sha512: { blockBytes: 128, digestBytes: 64 },
} as const;

/** Messages up to this many UTF-16 units take the fast path (3 bytes of UTF-8 each at most). */
const FAST_PATH_MAX_UNITS = 1024;

/**
 * `HMAC(key, message)` as base64url, equal to `createHmac(algorithm, key).update(message).digest('base64url')`.
 *
 * Why not createHmac itself: each createHmac fetches the algorithm from OpenSSL 3 and builds a
 * context, which made the 5 HMACs of a refresh a visible share of its cost. RFC 2104 is two hashes,
 * `H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))`, and `crypto.hash` (Node ≥ 20.12) hashes a buffer in one call.
 * The padded keys are computed once, in buffers this function alone writes into, synchronously, so
 * no call can see another's message. Nothing branches on the key or the message's content. Where
 * `crypto.hash` is missing, or the message is longer than the fast path's buffer, createHmac runs.
 */
export function hmacBase64url(algorithm: keyof typeof HASHES, key: KeyObject): HmacFunction {
  const slow: HmacFunction = (message) => crypto.createHmac(algorithm, key).update(message).digest('base64url');
  if (typeof crypto.hash !== 'function') return slow;
  const hash = crypto.hash;
  const { blockBytes, digestBytes } = HASHES[algorithm];
  const exported = key.export();
  const keyBytes = exported.length > blockBytes ? crypto.createHash(algorithm).update(exported).digest() : exported;
  // (K ⊕ ipad) followed by room for the message; (K ⊕ opad) followed by the inner digest.
  const inner = Buffer.alloc(blockBytes + FAST_PATH_MAX_UNITS * 3, 0x36);
  const outer = Buffer.alloc(blockBytes + digestBytes, 0x5c);
  for (let index = 0; index < keyBytes.length; index++) {
    inner[index] = (inner[index] as number) ^ (keyBytes[index] as number);
    outer[index] = (outer[index] as number) ^ (keyBytes[index] as number);
  }
  exported.fill(0);
  keyBytes.fill(0);
  return (message) => {
    if (message.length > FAST_PATH_MAX_UNITS) return slow(message);
    const length = inner.write(message, blockBytes, 'utf8');
    outer.write(hash(algorithm, inner.subarray(0, blockBytes + length), 'binary'), blockBytes, 'binary'); // 'binary' (latin1): one char per byte
    inner.fill(0, blockBytes, blockBytes + length); // the message (a refresh secret, say) does not stay behind
    return hash(algorithm, outer, 'base64url');
  };
}
