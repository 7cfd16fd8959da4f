// What a login, refresh or logout came to, as metrics and spans name it, and the one rule that names a refusal or failure.
import { AuthError } from '../errors';

/**
 * How a `POST /login` ended, the `express_refresh_tokens.result` of `express_refresh_tokens.login.attempts`
 * and of the login span: `success`; `invalid_credentials` (401: `authenticate` refused, or a user revoked
 * during the login); `invalid_request` (a 4xx before any check: CSRF, body, an ambiguous username);
 * `invalid_proof` (401: a device-key proof sent and refused, or none under `binding: 'require'`);
 * `throttled` (429); `store_unavailable` (503: the store did not answer, or the instance is closing);
 * `error` (500: a bug, or what `authenticate` threw).
 */
export type LoginResult = 'success' | 'invalid_credentials' | 'invalid_request' | 'invalid_proof' | 'throttled' | 'store_unavailable' | 'error';

/**
 * How a `POST /refresh` ended, the `express_refresh_tokens.result` of `express_refresh_tokens.refresh.duration`
 * and of the refresh span: `rotated`; `retried` (a repeat within `reuseGrace`, answered with the same
 * successor); `reuse_detected` (an earlier token of the family: the family was revoked); `invalid` (no
 * cookie, or not one this server issued); `invalid_proof` (a family bound to a device key, without a
 * valid proof of it: nothing changed); `expired` (authentic, but its session no longer exists: it
 * expired, or ended earlier); `revoked` (its user was revoked, or the store lost its data, since its login);
 * `invalid_request` (CSRF); `throttled` (429); `store_unavailable` (503); `error` (500).
 */
export type RefreshResult =
  | 'rotated'
  | 'retried'
  | 'reuse_detected'
  | 'invalid'
  | 'invalid_proof'
  | 'expired'
  | 'revoked'
  | 'invalid_request'
  | 'throttled'
  | 'store_unavailable'
  | 'error';

/**
 * How a `POST /logout` ended, the `express_refresh_tokens.result` of the logout span: `success` (204,
 * whether or not the cookie named a live session); `invalid_request` (CSRF); `store_unavailable` (503:
 * the browser is signed out, ending the session on the server is retried); `invalid_proof` (401: a
 * family bound to a device key, without a valid proof of it: the cookies are cleared, the family is
 * not ended); `error` (500).
 */
export type LogoutResult = 'success' | 'invalid_request' | 'invalid_proof' | 'store_unavailable' | 'error';

/** The results of each observed operation. */
export interface OperationResults {
  /** `POST /login`. */
  login: LoginResult;
  /** `POST /refresh`. */
  refresh: RefreshResult;
  /** `POST /logout`. */
  logout: LogoutResult;
}

/** The router's operations that get a span (and, for login and refresh, a metric). */
export type ObservedOperation = keyof OperationResults;

/** What a 401 counts as, per operation (login's comes from `authenticate`; refresh and logout answer theirs themselves). */
const UNAUTHORIZED: { [O in ObservedOperation]: OperationResults[O] } = { login: 'invalid_credentials', refresh: 'invalid', logout: 'invalid_request' };

/**
 * The result an operation answered with an error counts as, by the error's status: 429 `throttled`,
 * 503 `store_unavailable`, any other 5xx `error`, 401 the operation's own refusal, any other 4xx
 * `invalid_request` (the CSRF check's 403, the body's 400/413/415). One rule for the errors of every
 * step: the CSRF check, the body parser, the limiter and the handler.
 */
export function failureResult<O extends ObservedOperation>(operation: O, error: AuthError): OperationResults[O] {
  const { status } = error;
  // Every operation's results include these four; TypeScript cannot see that through the generic.
  const common = (result: 'throttled' | 'store_unavailable' | 'error' | 'invalid_request') => result as OperationResults[O];
  if (status === 429) return common('throttled');
  if (status === 503) return common('store_unavailable');
  if (status >= 500) return common('error');
  if (status === 401) return UNAUTHORIZED[operation];
  return common('invalid_request');
}

/** Whether an answer is a failure of the server (5xx: the store's outages included), which marks a span ERROR; a 4xx is the client's. */
export function isServerFailure(error: AuthError | undefined): error is AuthError {
  return error instanceof AuthError && error.status >= 500;
}
