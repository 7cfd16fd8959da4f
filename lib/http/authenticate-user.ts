// Running the app's `authenticate` at login: what its errors mean, and what its result must be to make a session.
import type { Request } from 'express';
import { describeValue } from '../describe-value';
import { AuthError, ErrorCodes } from '../errors';
import { configurationError } from '../option-checks';
import type { AuthenticateResult, Configuration, Reauthenticate } from '../options';
import type { AuthenticatedUser } from '../sessions/session-service';
import { REGISTERED_CLAIMS } from '../shared/claims';
import { type ProofOfIdentity, proofProblem } from '../shared/verification';
import type { AccessTokenCodec } from '../tokens/access-token';
import { httpStatusOf, RETRY_AFTER_SECONDS } from './error-handling';
import { MAX_AUTHORIZATION_LENGTH } from './require-auth';

/** Statuses an error thrown by `authenticate` may carry to mean "no such user / wrong password". */
const CREDENTIAL_ERROR_STATUSES = new Set([401, 403, 404]);
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;
/**
 * Claim names that reach an object's prototype wherever claims are copied by assignment
 * (`claims[name] = value`): a client, a proxy, a service reading the token. Never a claim.
 */
const PROTOTYPE_CLAIM_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
/** A `Retry-After` in seconds, as an app's 503 may carry it (RFC 9110 §10.2.3 delta-seconds; an HTTP date is not read). */
const DELTA_SECONDS = /^\d{1,9}$/;

/** The 401 for wrong credentials, whichever way `authenticate` said so (and for a login `revokeUser` overtook). */
export function invalidCredentials(): AuthError {
  return new AuthError('invalid_credentials', 401, 'Invalid credentials');
}

/** The invalid-result error: a TypeError with {@link ErrorCodes.ERR_INVALID_AUTHENTICATE_RESULT}, the cause of the login's 500. */
function invalidResult(message: string): TypeError {
  return configurationError('type', ErrorCodes.ERR_INVALID_AUTHENTICATE_RESULT, message);
}

/** The `Retry-After` an error thrown by `authenticate` carries in its `headers` (http-errors' convention), in seconds, if any. */
function retryAfterOf(error: unknown): string | undefined {
  const headers = (error as { headers?: unknown }).headers;
  if (headers === null || typeof headers !== 'object') return undefined;
  const name = Object.keys(headers).find((key) => key.toLowerCase() === 'retry-after');
  const value = name === undefined ? undefined : String((headers as Record<string, unknown>)[name]).trim();
  return value !== undefined && DELTA_SECONDS.test(value) ? value : undefined;
}

/**
 * What an error thrown by `authenticate` means: `null` for "wrong credentials" (a 401, 403 or 404
 * status, or http-errors' `NotFoundError`), a 503 `temporarily_unavailable` (with its `Retry-After`,
 * in seconds, or the library's) for an error with status 503 — the user database or directory is
 * down, and the client should try again — and otherwise the error itself: an AuthError answers as
 * it is, anything else a 500.
 */
function meaningOf(error: unknown): unknown {
  const status = httpStatusOf(error);
  if ((status !== undefined && CREDENTIAL_ERROR_STATUSES.has(status)) || (error as Error | null)?.name === 'NotFoundError') return null;
  if (status === 503 && !(error instanceof AuthError)) {
    return new AuthError('temporarily_unavailable', 503, '`authenticate` threw an error with status 503: the credential check is unavailable', {
      headers: { 'Retry-After': retryAfterOf(error) ?? String(RETRY_AFTER_SECONDS) },
      cause: error,
    });
  }
  return error;
}

/**
 * Refuses claims that are not a plain object, or that a session's access tokens could not carry:
 * reserved or prototype names, or a size that would not fit an `Authorization` header. One check for
 * `authenticate`'s result and `auth.updateClaims`' argument: `subject` opens each message
 * (`'authenticate returned'`), `fail` makes the error.
 */
export function checkClaims(
  codec: AccessTokenCodec,
  userId: string,
  claims: unknown,
  subject: string,
  fail: (message: string) => Error,
): asserts claims is Record<string, unknown> {
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
    throw fail(`${subject} claims that are ${describeValue(claims)}; use a plain object like { role: 'admin' }.`);
  }
  const names = Object.keys(claims);
  const reserved = names.filter((name) => REGISTERED_CLAIMS.has(name));
  if (reserved.length > 0) {
    throw fail(`${subject} reserved claim names (${reserved.join(', ')}); the library sets those itself. Rename them.`);
  }
  const prototypeNames = names.filter((name) => PROTOTYPE_CLAIM_NAMES.has(name));
  if (prototypeNames.length > 0) {
    throw fail(`${subject} claim names that reach an object's prototype wherever claims are copied (${prototypeNames.join(', ')}). Rename them.`);
  }
  const headerLength = 'Bearer '.length + codec.longestTokenLength(userId, claims as Record<string, unknown>);
  if (headerLength > MAX_AUTHORIZATION_LENGTH) {
    throw fail(
      `${subject} claims too large for an access token: with them its Authorization header would be up to ${headerLength} characters, ` +
        `and requireAuth reads at most ${MAX_AUTHORIZATION_LENGTH} (as common proxies do), so every call of the session would be refused. ` +
        'Keep claims small (ids, roles) and look the rest up by userId.',
    );
  }
}

/**
 * Runs one of the app's credential checks (`authenticate`, `reauthenticate`): resolves with what it
 * returned, or `null` for wrong credentials, however it said so (see {@link meaningOf}); throws what
 * anything else it threw means.
 */
async function runCredentialCheck<T>(check: () => Promise<T | null> | T | null): Promise<T | null> {
  try {
    return (await check()) ?? null;
  } catch (error) {
    const meaning = meaningOf(error);
    if (meaning !== null) throw meaning;
    return null;
  }
}

/** The proof of identity a credential check returned, checked; `undefined` when it said nothing of `amr` and `acr` and `required` is false. */
function checkedProof(check: 'authenticate' | 'reauthenticate', result: { amr?: unknown; acr?: unknown }, required: boolean): ProofOfIdentity | undefined {
  if (!required && result.amr === undefined && result.acr === undefined) return undefined;
  const problem = proofProblem(result);
  if (problem !== undefined) throw invalidResult(`${check} returned ${describeValue(result.amr)} as amr: ${problem}.`);
  const proof: ProofOfIdentity = { amr: [...(result.amr as string[])] };
  if (typeof result.acr === 'string') proof.acr = result.acr;
  return proof;
}

/**
 * Runs the app's `authenticate` and checks what it returns before any session exists: wrong
 * credentials become a 401 `invalid_credentials`; an error with status 503 a 503 (see
 * {@link meaningOf}); a result that cannot make a session (no printable string `userId`, claims
 * that are not a plain object, carry reserved or prototype names, or would make tokens too large
 * for an `Authorization` header, or an `amr`/`acr` that cannot be kept) a TypeError coded
 * `ERR_INVALID_AUTHENTICATE_RESULT`, which the router answers as a 500 `server_error`: the app's
 * bug, said in its logs, never to the client.
 */
export async function authenticateUser(config: Configuration, codec: AccessTokenCodec, req: Request): Promise<AuthenticatedUser> {
  const result = await runCredentialCheck(() => config.authenticate(req));
  if (result === null) throw invalidCredentials();
  if (typeof result !== 'object' || typeof result.userId !== 'string' || result.userId === '' || result.userId.length > 256) {
    throw invalidResult(
      `authenticate must return { userId: string, claims? } or null; received userId ${describeValue((result as AuthenticateResult | undefined)?.userId)}. Convert ids with String(id).`,
    );
  }
  if (CONTROL_CHARACTER.test(result.userId)) {
    throw invalidResult(`authenticate returned a userId with control characters (${describeValue(result.userId)}); return a printable id.`);
  }
  const claims: unknown = result.claims ?? {};
  checkClaims(codec, result.userId, claims, 'authenticate returned', invalidResult);
  return { userId: result.userId, claims, proof: checkedProof('authenticate', result, false) };
}

/**
 * Runs the app's `reauthenticate` for the signed-in user of `req.auth`: resolves with how they
 * proved who they are again, or throws 401 `invalid_credentials` for a failed proof (the session
 * goes on), a 503 as for `authenticate`, or a TypeError coded `ERR_INVALID_AUTHENTICATE_RESULT`
 * (a 500) for a result that is neither `null` nor `{ amr, acr? }`.
 */
export async function reauthenticateUser(
  reauthenticate: Reauthenticate,
  req: Request,
  session: { userId: string; sessionId: string },
): Promise<ProofOfIdentity> {
  const result = await runCredentialCheck(() => reauthenticate(req, { userId: session.userId, sessionId: session.sessionId }));
  if (result === null || (result as unknown) === false) throw invalidCredentials();
  if (typeof result !== 'object') throw invalidResult(`reauthenticate must return { amr: ['pwd'] } or null; received ${describeValue(result)}.`);
  return checkedProof('reauthenticate', result, true) as ProofOfIdentity;
}
