// Checking the arguments of auth.updateClaims: the claims (each session's, for the function form) and the options.
import { describeValue } from './describe-value';
import { ErrorCodes } from './errors';
import { checkClaims } from './http/authenticate-user';
import { checkKnownKeys, configurationError, type KnownOptions } from './option-checks';
import type { AccessTokenCodec } from './tokens/access-token';

/** Options of `auth.updateClaims`. */
export interface UpdateClaimsOptions {
  /**
   * Refuse the user's access tokens issued before the change, on every instance, within the
   * revocation feed's propagation time: each client refreshes once (silently, with the browser
   * client) and gets the new claims. Without it, tokens already issued keep their claims until they
   * expire (at most `accessToken.ttl`). Defaults to `false`.
   */
  immediate?: boolean;
}

const UPDATE_CLAIMS_OPTIONS = { immediate: true } satisfies KnownOptions<UpdateClaimsOptions>;

const invalidArgument = (message: string): TypeError => configurationError('type', ErrorCodes.ERR_INVALID_ARGUMENT, message);

/** Whether `updateClaims` must act at once: its options checked (an object with only a boolean `immediate`, or nothing). */
export function immediateOf(options: unknown): boolean {
  if (options === undefined) return false;
  if (options === null || typeof options !== 'object') {
    throw invalidArgument(`auth.updateClaims: options must be an object like { immediate: true }; received ${describeValue(options)}.`);
  }
  checkKnownKeys('', options, UPDATE_CLAIMS_OPTIONS, 'auth.updateClaims');
  const { immediate } = options as { immediate?: unknown };
  if (immediate !== undefined && typeof immediate !== 'boolean') {
    throw invalidArgument(`auth.updateClaims: \`immediate\` must be a boolean; received ${describeValue(immediate)}.`);
  }
  return immediate === true;
}

/**
 * Where `value` stops being JSON that reads back as it is (a function, `undefined`, a BigInt, a
 * non-finite number, a Date or other class instance, a cycle), named by its path; `undefined` when it is such JSON.
 */
function jsonProblem(value: unknown, path: string, open: Set<object>): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`;
  if (typeof value !== 'object') return `${path} is ${describeValue(value)}, which JSON cannot hold`;
  if (open.has(value)) return `${path} refers back to an object that contains it`;
  // Plain: made by a literal or JSON.parse, in any realm (structuredClone's objects may come from another).
  const prototype: object | null = Object.getPrototypeOf(value);
  const plain = prototype === null || (Object.getPrototypeOf(prototype) === null && Object.prototype.toString.call(value) === '[object Object]');
  if (!Array.isArray(value) && !plain) {
    return `${path} is ${describeValue(value)}, not a plain object (JSON would not read it back as it is)`;
  }
  open.add(value);
  try {
    for (const [key, item] of Object.entries(value)) {
      const problem = jsonProblem(item, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`, open);
      if (problem !== undefined) return problem;
    }
    return undefined;
  } finally {
    open.delete(value);
  }
}

/**
 * The check `updateClaims` runs on each session's new claims: a JSON-serialisable plain object,
 * under the same rules as `authenticate`'s claims (no reserved or prototype names, small enough for
 * an `Authorization` header). Throws a TypeError coded `ERR_INVALID_ARGUMENT`; `fromFunction` says
 * the claims came from the function form.
 */
export function checkUpdatedClaims(codec: AccessTokenCodec, userId: string, claims: unknown, fromFunction: boolean): Record<string, unknown> {
  const subject = fromFunction ? 'auth.updateClaims: the claims function returned' : 'auth.updateClaims was given';
  // Plain JSON first: measuring the token's size needs claims that JSON.stringify takes (no BigInt, no cycle).
  const problem = claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? jsonProblem(claims, 'claims', new Set()) : undefined;
  if (problem !== undefined) throw invalidArgument(`${subject} claims that are not plain JSON: ${problem}. Claims travel as JSON in every access token.`);
  checkClaims(codec, userId, claims, subject, invalidArgument);
  return claims;
}
