// A user's latest proof of identity (the login's, or a step-up's): its checked shape, its stored form and the claims it puts in access tokens.

/**
 * How and when the user of a session last proved who they are: at login (when `authenticate` said
 * how) or at a step-up (`POST /reauth`). Kept with the session, carried by every access token it
 * issues, never renewed by a refresh.
 *
 * @example
 * ```ts
 * import type { Verification } from 'express-refresh-tokens';
 *
 * const describe = (verification: Verification): string =>
 *   `${verification.amr.join('+')} at ${new Date(verification.at).toISOString()}${verification.acr ? ` (${verification.acr})` : ''}`;
 * ```
 */
export interface Verification {
  /** When, in epoch milliseconds on the store's clock: the session's `createdAt` for the login's own proof. */
  at: number;
  /** How: RFC 8176 authentication method references, such as `pwd`, `hwk`, `otp`, `mfa`; may be empty. */
  amr: readonly string[];
  /** The authentication context class reference (OIDC `acr`), when the app gave one. */
  acr?: string;
}

/**
 * What `authenticate` (optionally) and `reauthenticate` return to say how the user proved who they
 * are: `amr` values from RFC 8176 and, if the app uses them, an `acr`.
 *
 * @example
 * ```ts
 * import type { ProofOfIdentity } from 'express-refresh-tokens';
 *
 * const passkey: ProofOfIdentity = { amr: ['hwk', 'user'], acr: 'urn:example:aal2' };
 * ```
 */
export interface ProofOfIdentity {
  /** RFC 8176 method references (`pwd`, `hwk`, `swk`, `otp`, `mfa`, `face`, `fpt`, `user`, …): 1 to 8 short tokens. */
  amr: string[];
  /** An authentication context class reference: printable ASCII, no quotes, backslashes or `|`, at most 128 characters. */
  acr?: string;
}

/** The most `amr` values kept, and the longest one. */
const MAX_AMR_VALUES = 8;
const AMR_VALUE = /^[A-Za-z0-9_.:-]{1,32}$/;
/** An `acr`: it travels in a quoted `WWW-Authenticate` parameter and in a stored field, so no quote, backslash or `|`. */
const ACR_VALUE = /^[\x21\x23-\x5b\x5d-\x7b\x7d\x7e]{1,128}$/;

/** Why `amr` cannot be kept (1 to 8 RFC 8176 method names), or `undefined` when it can. */
export function amrProblem(amr: unknown): string | undefined {
  if (!Array.isArray(amr) || amr.length === 0 || amr.length > MAX_AMR_VALUES || !amr.every((value) => typeof value === 'string' && AMR_VALUE.test(value))) {
    return `amr must be an array of 1 to ${MAX_AMR_VALUES} RFC 8176 method names such as ['pwd'] or ['hwk', 'user'] (letters, digits, _ . : -, up to 32 characters each)`;
  }
  return undefined;
}

/** Why `acr` cannot be kept (printable ASCII, no spaces, quotes, backslashes or `|`), or `undefined` when it can. */
export function acrProblem(acr: unknown): string | undefined {
  return typeof acr === 'string' && ACR_VALUE.test(acr)
    ? undefined
    : 'acr must be printable ASCII without spaces, quotes, backslashes or |, 1 to 128 characters';
}

/**
 * Why a proof of identity cannot be kept, or `undefined` when it can: `amr` an array of 1 to 8
 * tokens (letters, digits, `_ . : -`, up to 32 characters), `acr` absent or printable ASCII.
 */
export function proofProblem(proof: { amr?: unknown; acr?: unknown }): string | undefined {
  return amrProblem(proof.amr) ?? (proof.acr === undefined ? undefined : acrProblem(proof.acr));
}

/**
 * Adds a verification's claims to an access-token payload: `amr` and `acr` when known, and
 * `reauth_time` (seconds, with millisecond fractions, like `auth_time`) when it was a step-up, i.e.
 * later than the login that began at `createdAt`.
 */
export function addVerificationClaims(payload: Record<string, unknown>, verification: Verification, createdAt: number): void {
  if (verification.amr.length > 0) payload.amr = verification.amr;
  if (verification.acr !== undefined) payload.acr = verification.acr;
  if (verification.at !== createdAt) payload.reauth_time = verification.at / 1000;
}
