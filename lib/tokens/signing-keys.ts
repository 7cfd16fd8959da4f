// Access-token keys: the algorithms, the rules for a `kid`, RFC 7638 thumbprints, and the public JWK of a verifying key.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { ErrorCodes } from '../errors';
import { configurationError } from '../option-checks';
import { sha256Base64url } from './hashing';

/**
 * Signing algorithms for access tokens. `none` is never accepted. `HS*` take `accessToken.secret`;
 * the others take `privateKey`/`publicKey` or `keys`, and their public keys are published in the JWKS.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import type { AccessTokenAlgorithm, AccessTokenOptions } from 'express-refresh-tokens';
 *
 * const algorithm: AccessTokenAlgorithm = 'EdDSA';
 * const accessToken: AccessTokenOptions = { algorithm, privateKey: readFileSync('keys/ed25519.pem') };
 * ```
 */
export type AccessTokenAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA';

/**
 * One published key: its public members only, with `kid`, `alg` and `use: 'sig'`. Fits `createPublicKey({ key, format: 'jwk' })`.
 *
 * Declared here rather than taken from `node:crypto`, whose JWK type moves between @types/node majors
 * (`JsonWebKey` is gone from 25 on). A type alias, not an interface, so it fits both shapes Node's
 * `createPublicKey` has taken: the older one with an index signature and the newer one without.
 *
 * @example
 * ```ts
 * import { createPublicKey } from 'node:crypto';
 * import type { PublicJwk } from 'express-refresh-tokens';
 *
 * const byKid = new Map(auth.jwks.keys.map((jwk: PublicJwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]));
 * ```
 */
export type PublicJwk = {
  /** The key type: `RSA` for `RS*`/`PS*`, `EC` for `ES*`, `OKP` for `EdDSA`. */
  kty: 'RSA' | 'EC' | 'OKP';
  /** The key id tokens carry in their `kid` header. */
  kid: string;
  /** The one algorithm access tokens use. */
  alg: AccessTokenAlgorithm;
  /** Always `'sig'`: the key checks signatures. */
  use: 'sig';
  /** EC and OKP keys: the curve (`P-256`, `Ed25519`, ...). */
  crv?: string;
  /** RSA keys: the modulus. */
  n?: string;
  /** RSA keys: the public exponent. */
  e?: string;
  /** EC and OKP keys: the public point. */
  x?: string;
  /** EC keys: the public point's y coordinate. */
  y?: string;
};

/** The longest `kid` the library configures or accepts in a token header. */
export const MAX_KID_LENGTH = 64;

/** A configured `kid`: 1 to 64 printable ASCII characters (space to `~`). */
export const KID_PATTERN = /^[\x20-\x7e]{1,64}$/;

/**
 * The next moment, after `now`, at which a verifying key retires (its `notAfter`, epoch ms), or
 * `Infinity` when none will: when the published key set changes, and when verified tokens must be
 * checked again.
 */
export function nextKeyRetirement(keyNotAfter: ReadonlyMap<string, number>, now: number): number {
  let next = Number.POSITIVE_INFINITY;
  for (const notAfter of keyNotAfter.values()) if (notAfter > now && notAfter < next) next = notAfter;
  return next;
}

/** Whether the key of `kid` has retired at `now`: it has a `notAfter`, and `now` is at or past it. */
export function keyRetired(keyNotAfter: ReadonlyMap<string, number>, kid: string, now: number): boolean {
  const notAfter = keyNotAfter.get(kid);
  return notAfter !== undefined && now >= notAfter;
}

/** The public members of a JWK, per key type, in the lexicographic order RFC 7638 §3.2 hashes them in. */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

/** The public members of a key's JWK (kty, and n/e or crv/x/y), nothing else: a {@link PublicJwk} without `kid`, `alg` and `use`. */
export type PublicJwkMembers = Pick<PublicJwk, 'kty' | 'crv' | 'e' | 'n' | 'x' | 'y'>;

/** Reads one DER tag-length-value at `offset`, which must carry `tag`; returns where its content starts and ends. */
function derContent(der: Buffer, offset: number, tag: number): { start: number; end: number } {
  if (der[offset] !== tag) throw configurationError('type', ErrorCodes.ERR_INVALID_KEY, 'publicJwkMembers: unexpected DER structure');
  let length = der[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[start++] ?? 0);
  }
  if (start + length > der.length) throw configurationError('type', ErrorCodes.ERR_INVALID_KEY, 'publicJwkMembers: truncated DER structure');
  return { start, end: start + length };
}

/**
 * An RSASSA-PSS public key as a plain RSA one (JWK has no separate key type for it, and Node cannot
 * export it as a JWK): the same modulus and exponent, taken from the SubjectPublicKeyInfo's BIT STRING.
 */
function asPlainRsa(key: KeyObject): KeyObject {
  const spki = key.export({ type: 'spki', format: 'der' });
  const outer = derContent(spki, 0, 0x30); // SubjectPublicKeyInfo ::= SEQUENCE {
  const algorithm = derContent(spki, outer.start, 0x30); //   algorithm AlgorithmIdentifier,
  const bits = derContent(spki, algorithm.end, 0x03); //   subjectPublicKey BIT STRING (an RSAPublicKey) }
  return createPublicKey({ key: spki.subarray(bits.start + 1, bits.end), format: 'der', type: 'pkcs1' });
}

/**
 * The public members of a verifying key's JWK. Only the members named by RFC 7638 for its key type
 * are kept, so nothing private (`d`, `p`, `q`, `dp`, `dq`, `qi`) or symmetric (`k`) can come through.
 */
export function publicJwkMembers(key: KeyObject): PublicJwkMembers {
  if (key.type !== 'public')
    throw configurationError('type', ErrorCodes.ERR_INVALID_KEY, `publicJwkMembers: expected a public key; received a ${key.type} key`);
  const source = key.asymmetricKeyType === 'rsa-pss' ? asPlainRsa(key) : key;
  const jwk = source.export({ format: 'jwk' }) as Record<string, unknown>;
  const members = PUBLIC_MEMBERS[String(jwk.kty)];
  if (!members) throw configurationError('type', ErrorCodes.ERR_INVALID_KEY, `publicJwkMembers: unsupported key type ${String(jwk.kty)}`);
  const result: Record<string, string> = {};
  for (const name of members) {
    const value = jwk[name];
    if (typeof value !== 'string') throw configurationError('type', ErrorCodes.ERR_INVALID_KEY, `publicJwkMembers: the JWK lacks \`${name}\``);
    result[name] = value;
  }
  // kty is one of PUBLIC_MEMBERS' key types (checked above), and the other members are the ones that type has.
  return result as PublicJwkMembers;
}

/**
 * The RFC 7638 JWK SHA-256 thumbprint of a public key, base64url (43 characters): the `kid` a single
 * `privateKey`/`publicKey` gets, stable across restarts and instances for the same key.
 */
export function jwkThumbprint(key: KeyObject): string {
  return membersThumbprint(publicJwkMembers(key));
}

/**
 * The RFC 7638 SHA-256 thumbprint of a JWK's public members, base64url (43 characters). The members
 * must be in lexicographic order, as {@link publicJwkMembers} gives them: JSON.stringify keeps
 * insertion order and adds no whitespace.
 */
export function membersThumbprint(members: PublicJwkMembers): string {
  return sha256Base64url(JSON.stringify(members));
}
