// SHA-256 (node's one-shot crypto.hash, createHash where it is missing) and HMAC-SHA-2 (createHmac) as base64url text, and labelled key derivation.

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

/** The hash functions HMAC is used with here: HS256/384/512 access tokens, and SHA-256 for the rest. */
export type HmacHash = 'sha256' | 'sha384' | 'sha512';

/**
 * `HMAC(key, message)` as base64url (unpadded): node's `createHmac` under a `KeyObject` made once by
 * the caller (`createSecretKey`), so the key's bytes stay inside node's crypto and are never copied
 * into JavaScript buffers. The refresh tokens' MAC, the revocation channel's MAC, throttling keys,
 * client fingerprints and HS* access tokens are all made here.
 *
 * @example
 * ```ts
 * const mac = hmacBase64url('sha256', createSecretKey(secretBytes));
 * mac('message'); // 'base64url text', 43 characters for SHA-256
 * ```
 */
export function hmacBase64url(algorithm: HmacHash, key: KeyObject): HmacFunction {
  return (message) => crypto.createHmac(algorithm, key).update(message).digest('base64url');
}

/** Compares two hashes (or MACs) in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && crypto.timingSafeEqual(left, right);
}
