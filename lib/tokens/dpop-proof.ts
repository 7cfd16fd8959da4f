// DPoP proofs (RFC 9449) at refresh: reading one, checking it against the request and the nonce, its key's thumbprint, its signature.
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { jsonObjectSegment } from './json-segment';
import { membersThumbprint, type PublicJwkMembers } from './signing-keys';

/** The proof algorithms accepted: what WebCrypto makes non-extractable keys for in every browser. */
export const DPOP_ALGORITHMS: readonly DpopAlgorithm[] = ['EdDSA', 'ES256'];

/** A DPoP proof's signature algorithm: Ed25519 (`EdDSA`) or ECDSA P-256 (`ES256`). */
export type DpopAlgorithm = 'EdDSA' | 'ES256';

/** The longest `DPoP` header read: a proof of ours is about 400 characters; this bounds the JSON parsed before anything is checked. */
const MAX_PROOF_LENGTH = 2048;
/** The longest `jti` accepted (RFC 9449 suggests 96 bits of randomness or more; a UUID is 36 characters). */
const MAX_JTI_LENGTH = 128;
const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Why a proof was refused, for the `binding_failed` event and the 401's message:
 * - `missing`: no `DPoP` header (or more than one);
 * - `malformed`: not a JWT of the RFC's shape (typ, alg, jwk, jti, htm, htu, iat);
 * - `unsupported_algorithm`: an algorithm other than `EdDSA` and `ES256`;
 * - `bad_key`: a `jwk` that is not a public key of that algorithm (or holds private members);
 * - `wrong_key`: signed by another key than the one the session is bound to;
 * - `wrong_method` / `wrong_uri`: `htm`/`htu` name another request;
 * - `stale`: `iat` too far from now;
 * - `wrong_nonce`: not the nonce the server gave for this refresh token;
 * - `bad_signature`: the signature does not verify.
 */
export type DpopRefusal =
  | 'missing'
  | 'malformed'
  | 'unsupported_algorithm'
  | 'bad_key'
  | 'wrong_key'
  | 'wrong_method'
  | 'wrong_uri'
  | 'stale'
  | 'wrong_nonce'
  | 'bad_signature';

/**
 * Why a login, refresh or logout's proof was refused: a {@link DpopRefusal}, or `unbound` (under
 * `binding: 'require'`, a family that is not bound to any key).
 */
export type BindingFailure = DpopRefusal | 'unbound';

/** A proof read from its header, its signature not yet checked. */
export interface DpopProof {
  alg: DpopAlgorithm;
  /** The RFC 7638 SHA-256 thumbprint of the proof's public key, base64url (43 characters). */
  jkt: string;
  /** The public key's members, as `jwk` gave them: made into a key only for the signature check. */
  members: PublicJwkMembers;
  htm: string;
  htu: string;
  /** Seconds since the epoch. */
  iat: number;
  jti: string;
  nonce: string | undefined;
  /** `<header>.<payload>`, what the signature covers. */
  signingInput: string;
  signature: Buffer;
}

/** The request a proof must name, and the nonce it must carry. */
export interface DpopExpectation {
  /** The request's method (`POST`). */
  method: string;
  /** The refresh route's full URL (`origin` + mount path + route) when the app set `origin`; else undefined. */
  url: string | undefined;
  /** The refresh route's path as the request reached it (`req.baseUrl + req.path`): what `htu`'s path must be when `url` is not known. */
  path: string;
  /** The nonce the server handed out with the refresh token presented; undefined at login (no family yet). */
  nonce: string | undefined;
  /** Now, in ms since the epoch. */
  now: number;
  /** How far `iat` may lie from now, in seconds, either way. */
  maxSkewSeconds: number;
}

/** A segment's JSON object, when the segment is plain base64url. */
function parseSegment(segment: string): Record<string, unknown> | undefined {
  return BASE64URL_SEGMENT.test(segment) ? jsonObjectSegment(segment) : undefined;
}

/** The members of a public JWK that define it (RFC 7638 §3.2), in lexicographic order, or undefined when it is not one of `alg`'s keys. */
function requiredMembers(alg: DpopAlgorithm, jwk: Record<string, unknown>): PublicJwkMembers | undefined {
  // Private members (`d` and RSA's) mean the client sent its private key: refuse rather than use it.
  if ('d' in jwk || 'p' in jwk || 'q' in jwk || 'k' in jwk) return undefined;
  const { crv, kty, x, y } = jwk;
  if (typeof x !== 'string' || !BASE64URL_SEGMENT.test(x)) return undefined;
  if (alg === 'EdDSA') return kty === 'OKP' && crv === 'Ed25519' ? { crv, kty, x } : undefined;
  if (kty !== 'EC' || crv !== 'P-256' || typeof y !== 'string' || !BASE64URL_SEGMENT.test(y)) return undefined;
  return { crv, kty, x, y };
}

/**
 * Reads the `DPoP` header of a request: the proof, or why it is not one. Checks its shape, algorithm
 * and key's members; neither the key itself nor the signature ({@link verifyDpopSignature}, last,
 * after the cheap checks: a proof by another key than the session's is refused by its thumbprint first).
 */
export function readDpopProof(header: string | string[] | undefined): DpopProof | DpopRefusal {
  if (typeof header !== 'string' || header === '') return 'missing';
  if (header.length > MAX_PROOF_LENGTH) return 'malformed';
  const parts = header.split('.');
  if (parts.length !== 3) return 'malformed';
  const [headerSegment, payloadSegment, signatureSegment] = parts as [string, string, string];
  const protectedHeader = parseSegment(headerSegment);
  const payload = parseSegment(payloadSegment);
  if (!protectedHeader || !payload || !BASE64URL_SEGMENT.test(signatureSegment)) return 'malformed';
  if (protectedHeader.typ !== 'dpop+jwt') return 'malformed';
  const alg = protectedHeader.alg;
  if (!DPOP_ALGORITHMS.includes(alg as DpopAlgorithm)) return 'unsupported_algorithm';
  const jwk = protectedHeader.jwk;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return 'malformed';
  const members = requiredMembers(alg as DpopAlgorithm, jwk as Record<string, unknown>);
  if (!members) return 'bad_key';
  const { jti, htm, htu, iat, nonce } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) return 'malformed';
  if (typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number' || !Number.isFinite(iat)) return 'malformed';
  if (nonce !== undefined && typeof nonce !== 'string') return 'malformed';
  return {
    alg: alg as DpopAlgorithm,
    jkt: membersThumbprint(members),
    members,
    htm,
    htu,
    iat,
    jti,
    nonce,
    signingInput: `${headerSegment}.${payloadSegment}`,
    signature: Buffer.from(signatureSegment, 'base64url'),
  };
}

/** `htu` without query and fragment (RFC 9449 §4.3 step 9), or undefined when it is no absolute http(s) URL. */
function targetOf(htu: string): URL | undefined {
  try {
    const url = new URL(htu);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks what a proof claims against the request it came with: method, URL (or path, when the app's
 * origin is not configured), freshness and nonce. Returns why it does not fit, or undefined when it does.
 */
export function checkDpopClaims(proof: DpopProof, expected: DpopExpectation): DpopRefusal | undefined {
  if (proof.htm !== expected.method) return 'wrong_method';
  const target = targetOf(proof.htu);
  if (!target) return 'wrong_uri';
  if (expected.url !== undefined ? `${target.origin}${target.pathname}` !== expected.url : target.pathname !== expected.path) return 'wrong_uri';
  if (Math.abs(proof.iat - expected.now / 1000) > expected.maxSkewSeconds) return 'stale';
  if (expected.nonce !== undefined && proof.nonce !== expected.nonce) return 'wrong_nonce';
  return undefined;
}

/**
 * Checks the proof's signature under its own key (ES256 signatures are raw `r‖s`, as JWS has them):
 * undefined when it verifies, `bad_key` when the members make no key (a point off the curve),
 * `bad_signature` otherwise.
 */
export function verifyDpopSignature(proof: DpopProof): 'bad_key' | 'bad_signature' | undefined {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: proof.members, format: 'jwk' });
  } catch {
    return 'bad_key';
  }
  const data = Buffer.from(proof.signingInput);
  try {
    const valid =
      proof.alg === 'EdDSA'
        ? cryptoVerify(null, data, key, proof.signature)
        : cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, proof.signature);
    return valid ? undefined : 'bad_signature';
  } catch {
    return 'bad_signature';
  }
}
