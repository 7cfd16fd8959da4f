// Binding a family to a key its client holds: checking the DPoP proof (RFC 9449) of a login, refresh or logout, cheapest check first.
import { type BindingFailure, checkDpopClaims, type DpopRefusal, readDpopProof, verifyDpopSignature } from '../tokens/dpop-proof';
import { proofHash } from '../tokens/refresh-token';

/**
 * How far a proof's `iat` may lie from the server's clock, either way: 5 minutes. The nonce, good for
 * one token of the family, is what ties a proof to its refresh; `iat` only bounds how long a
 * captured one is worth anything at all.
 */
export const MAX_PROOF_SKEW_SECONDS = 300;

/** What a request shows of its proof: the `DPoP` header, and the request the proof must name. */
export interface ProofRequest {
  /** The `DPoP` header (absent, or more than one, is `missing`). */
  header: string | string[] | undefined;
  /** The request's method. */
  method: string;
  /** The route's full URL (the `origin` option + mount path + route) when `origin` is set; else undefined. */
  url: string | undefined;
  /** The route's path as the request reached it (`req.baseUrl + req.path`). */
  path: string;
}

export type { BindingFailure };

/** A proof that holds: its key's thumbprint, and what the store keeps of it (see {@link proofHash}). */
export interface ValidProof {
  jkt: string;
  proofHash: string;
}

/** What a proof must match: the key of a bound family (none at login), the nonce handed out with its token (none at login). */
export interface ProofExpectation {
  jkt?: string | undefined;
  nonce?: string | undefined;
}

/**
 * Checks a proof: its shape and key, then the key against the family's (before any signature work),
 * then method, URL, freshness and nonce, then the signature. The refresh cookie's MAC has been
 * checked before this is called, so a forged cookie never costs a signature check.
 */
export function checkProof(request: ProofRequest, expected: ProofExpectation): ValidProof | DpopRefusal {
  const proof = readDpopProof(request.header);
  if (typeof proof === 'string') return proof;
  if (expected.jkt !== undefined && proof.jkt !== expected.jkt) return 'wrong_key';
  const refusal = checkDpopClaims(proof, {
    method: request.method,
    url: request.url,
    path: request.path,
    nonce: expected.nonce,
    now: Date.now(),
    maxSkewSeconds: MAX_PROOF_SKEW_SECONDS,
  });
  if (refusal !== undefined) return refusal;
  if (!verifyDpopSignature(proof)) return 'bad_signature';
  return { jkt: proof.jkt, proofHash: proofHash(proof.jkt, proof.jti) };
}
