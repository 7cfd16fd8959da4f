// Step-up on protected routes: requireAuth({ maxAge, amr, acr }) and its RFC 9470 challenge when the latest proof of identity is too old or too weak.
import { describeValue } from '../describe-value';
import { parseDuration } from '../duration';
import { AuthError, ErrorCodes } from '../errors';
import { configurationError } from '../option-checks';
import { acrProblem, amrProblem } from '../shared/verification';
import type { AccessTokenPayload } from '../tokens/access-token';

/** What a route asks of the user's latest proof of identity (`requireAuth({ maxAge, amr, acr })`), resolved. */
export interface StepUpRequirement {
  /** The longest since that proof, in whole seconds (what the challenge's `max_age` says). */
  maxAgeSeconds: number | undefined;
  /** Methods the proof must include, every one. */
  amr: readonly string[] | undefined;
  /** Classes the proof must be one of. */
  acr: readonly string[] | undefined;
}

/** The longest `maxAge` taken: a step-up is for minutes, not days. */
const MAX_AGE_LIMIT_SECONDS = 86_400;

function invalid(message: string): TypeError {
  return configurationError('type', ErrorCodes.ERR_INVALID_OPTION, `requireAuth: ${message}`);
}

/**
 * Reads `maxAge`, `amr` and `acr` of requireAuth's options, or throws a TypeError that says how to
 * fix one; `undefined` when none is set (the middleware then does no step-up work at all).
 */
export function stepUpRequirement(options: { maxAge?: unknown; amr?: unknown; acr?: unknown }): StepUpRequirement | undefined {
  const { maxAge, amr, acr } = options;
  if (maxAge === undefined && amr === undefined && acr === undefined) return undefined;
  let maxAgeSeconds: number | undefined;
  if (maxAge !== undefined) {
    const ms = parseDuration(maxAge);
    if (ms === undefined || ms < 1000 || ms > MAX_AGE_LIMIT_SECONDS * 1000) {
      throw invalid(`\`maxAge\` must be a duration from 1 second to 1 day, such as '5m' or 300; received ${describeValue(maxAge)}.`);
    }
    maxAgeSeconds = Math.floor(ms / 1000);
  }
  if (amr !== undefined) {
    const problem = amrProblem(amr);
    if (problem !== undefined) throw invalid(`\`${problem}\`; received ${describeValue(amr)}.`);
  }
  const acrValues = typeof acr === 'string' ? [acr] : acr;
  if (acrValues !== undefined) {
    const valid = Array.isArray(acrValues) && acrValues.length > 0 && acrValues.every((value) => acrProblem(value) === undefined);
    if (!valid)
      throw invalid(`\`acr\` must be a class name or a non-empty array of them (printable ASCII, no spaces or quotes); received ${describeValue(acr)}.`);
  }
  return { maxAgeSeconds, amr: amr as string[] | undefined, acr: acrValues as string[] | undefined };
}

/**
 * Why a verified token's latest proof of identity falls short of `requirement` at `nowMs`, or
 * `undefined` when it meets it. The proof's time is `reauth_time` after a step-up, else `auth_time`
 * (the login); its methods and class are the token's `amr` and `acr`.
 */
export function unmetStepUp(requirement: StepUpRequirement, payload: AccessTokenPayload, nowMs: number): string | undefined {
  if (requirement.maxAgeSeconds !== undefined) {
    const provedAt = typeof payload.reauth_time === 'number' ? payload.reauth_time : payload.auth_time;
    if (nowMs / 1000 - provedAt > requirement.maxAgeSeconds) return 'More recent authentication is required';
  }
  if (requirement.amr !== undefined) {
    const methods = Array.isArray(payload.amr) ? payload.amr : [];
    if (!requirement.amr.every((method) => methods.includes(method))) return 'A different authentication method is required';
  }
  if (requirement.acr !== undefined && !(typeof payload.acr === 'string' && requirement.acr.includes(payload.acr))) {
    return 'A different authentication level is required';
  }
  return undefined;
}

/**
 * The 401 `insufficient_user_authentication` of RFC 9470 §3: a `Bearer` challenge naming what the
 * route asks (`max_age` in seconds, `acr_values`; and `amr_values`, this library's addition, which
 * RFC 9470 has no parameter for), so the client knows what to ask the user for before retrying.
 */
export function insufficientAuthentication(realm: string, requirement: StepUpRequirement, description: string): AuthError {
  let challenge = `Bearer realm="${realm}", error="insufficient_user_authentication", error_description="${description}"`;
  if (requirement.maxAgeSeconds !== undefined) challenge += `, max_age=${requirement.maxAgeSeconds}`;
  if (requirement.acr !== undefined) challenge += `, acr_values="${requirement.acr.join(' ')}"`;
  if (requirement.amr !== undefined) challenge += `, amr_values="${requirement.amr.join(' ')}"`;
  return new AuthError('insufficient_user_authentication', 401, description, { headers: { 'WWW-Authenticate': challenge } });
}
