// Binding a family to a key its client holds: the DPoP proof (RFC 9449) a login, refresh or logout needs, checked cheapest first, and its refusals reported.
import type { AuthEvents } from '../events';
import type { BindingMode } from '../options';
import { type BindingFailure, checkDpopClaims, type DpopRefusal, readDpopProof, verifyDpopSignature } from '../tokens/dpop-proof';
import { proofHash, proofNonce, type RefreshTokenKeys, type RefreshTokenParts } from '../tokens/refresh-token';

/**
 * How far a proof's `iat` may lie from the server's clock, either way: 5 minutes. The nonce, good for
 * one token of the family, is what ties a proof to its refresh; `iat` only bounds how long a
 * captured one is worth anything at all.
 */
const MAX_PROOF_SKEW_SECONDS = 300;

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

/** A proof that holds: its key's thumbprint, and what the store keeps of it (see {@link proofHash}). */
export interface ValidProof {
  jkt: string;
  proofHash: string;
}

/** What a proof must match: the key of a bound family (none at login), the nonce handed out with its token (none at login). */
interface ProofExpectation {
  jkt?: string | undefined;
  nonce?: string | undefined;
}

/**
 * Checks a proof: its shape and key's members, then the key's thumbprint against the family's
 * (before any key is made), then method, URL, freshness and nonce, then the key and the signature.
 * The refresh cookie's MAC has been checked before this is called, so a forged cookie never costs a
 * signature check.
 */
function checkProof(request: ProofRequest, expected: ProofExpectation): ValidProof | DpopRefusal {
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
  const unsigned = verifyDpopSignature(proof);
  if (unsigned !== undefined) return unsigned;
  return { jkt: proof.jkt, proofHash: proofHash(proof.jkt, proof.jti) };
}

/**
 * A proof refused: why, and, for a family bound to a key, the nonce its token expects (for the
 * `DPoP-Nonce` header of the 401, so a client that lost it can try once more).
 */
export interface ProofRefused {
  status: 'unproven';
  reason: BindingFailure;
  nonce?: string | undefined;
}

/** Who sent a proof, as `binding_failed` reports it. */
interface Requester {
  ip: string | undefined;
  userAgent: string | undefined;
}

/** The proofs logins, refreshes and logouts need under `refreshToken.binding`; every refusal is reported (`binding_failed`). */
export class KeyBinding {
  constructor(
    private readonly mode: BindingMode,
    private readonly keys: RefreshTokenKeys,
    private readonly events: AuthEvents,
  ) {}

  /**
   * The key a login binds its family to: the thumbprint of its proof's key when it sent a valid one
   * (and binding is not `'off'`), none when it sent none (and binding is not `'require'`), or why the
   * login must be refused (a proof sent and refused: the client meant to bind, so it is told).
   */
  forLogin(proof: ProofRequest, client: Requester): { jkt: string | undefined } | ProofRefused {
    if (this.mode === 'off') return { jkt: undefined };
    if (proof.header === undefined && this.mode === 'prefer') return { jkt: undefined };
    const checked = checkProof(proof, {});
    if (typeof checked !== 'string') return { jkt: checked.jkt };
    return this.refused('login', checked, client, undefined);
  }

  /**
   * The proof a refresh or logout of an authentic token needs: none for an unbound family (unless
   * binding is `'require'`, which refuses its refresh as `unbound`); for a bound one, a valid proof by
   * its key carrying the nonce of the presented token. A refusal changes nothing: the family is not
   * revoked, whoever sent it.
   */
  forToken(operation: 'refresh' | 'logout', parts: RefreshTokenParts, proof: () => ProofRequest, client: Requester): ValidProof | ProofRefused | undefined {
    if (parts.jkt === undefined) {
      return this.mode === 'require' && operation === 'refresh' ? this.refused(operation, 'unbound', client, parts.sessionId) : undefined;
    }
    const nonce = proofNonce(this.keys, parts.sessionId, parts.generation);
    const checked = checkProof(proof(), { jkt: parts.jkt, nonce });
    if (typeof checked !== 'string') return checked;
    return { ...this.refused(operation, checked, client, parts.sessionId), nonce };
  }

  private refused(operation: 'login' | 'refresh' | 'logout', reason: BindingFailure, client: Requester, sessionId: string | undefined): ProofRefused {
    this.events.emit('binding_failed', { operation, reason, sessionId, ip: client.ip, userAgent: client.userAgent });
    return { status: 'unproven', reason };
  }
}
