// A DPoP client as an app would write one with WebCrypto (globalThis.crypto.subtle): a non-extractable key pair and RFC 9449 proofs.
import { webcrypto } from 'node:crypto';

const subtle = (globalThis.crypto ?? webcrypto).subtle;

/** A proof key pair, the private half non-extractable, as a browser keeps it. */
export interface DpopClientKey {
  alg: 'EdDSA' | 'ES256';
  keys: webcrypto.CryptoKeyPair;
  /** The public key as the proof's `jwk` header carries it. */
  jwk: Record<string, string>;
}

/** Makes a key pair for proofs: Ed25519 (`EdDSA`) or ECDSA P-256 (`ES256`). */
export async function createDpopKey(alg: 'EdDSA' | 'ES256' = 'EdDSA'): Promise<DpopClientKey> {
  const algorithm = alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = (await subtle.generateKey(algorithm, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const exported = (await subtle.exportKey('jwk', keys.publicKey)) as Record<string, unknown>;
  const jwk: Record<string, string> =
    alg === 'EdDSA' ? { kty: 'OKP', crv: 'Ed25519', x: String(exported.x) } : { kty: 'EC', crv: 'P-256', x: String(exported.x), y: String(exported.y) };
  return { alg, keys, jwk };
}

const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** What a proof says; everything but `htm` and `htu` has a sensible default. */
export interface ProofClaims {
  htm: string;
  htu: string;
  nonce?: string | undefined;
  /** Seconds since the epoch; now by default. */
  iat?: number;
  jti?: string;
  /** Extra or replaced protected-header members (for malformed proofs in tests). */
  header?: Record<string, unknown>;
}

/** Signs a DPoP proof JWT (RFC 9449 §4.2) with the key. */
export async function dpopProof(key: DpopClientKey, claims: ProofClaims): Promise<string> {
  const header = { typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...claims.header };
  const payload: Record<string, unknown> = {
    jti: claims.jti ?? webcrypto.randomUUID(),
    htm: claims.htm,
    htu: claims.htu,
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
  };
  if (claims.nonce !== undefined) payload.nonce = claims.nonce;
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const algorithm = key.alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' };
  const signature = await subtle.sign(algorithm, key.keys.privateKey, Buffer.from(signingInput));
  return `${signingInput}.${Buffer.from(signature).toString('base64url')}`;
}
