// AuthClientError, and how the client turns a router's refusal into one: the server's code, words a page can show, the wait it asked for.
import type { ErrorResponse } from '../shared/protocol.js';
import { retryAfterSeconds, waitInWords } from './retry-after.js';

/**
 * An answer of the router that was not a success: `status` and the server's `code`, and a message in words.
 * A request that never reached the server has status `0` and code `network_error`. When the server said
 * how long to wait (`Retry-After`, as on 429 `too_many_requests` and 503), `retryAfter` holds it in
 * seconds and a 429's message says it in words: `'Too many attempts. Try again in 15 minutes.'`.
 *
 * @example
 * ```ts
 * import { AuthClientError, createAuthClient } from 'express-refresh-tokens/client';
 *
 * const auth = createAuthClient();
 * try {
 *   await auth.login({ username, password });
 * } catch (error) {
 *   if (!(error instanceof AuthClientError)) throw error;
 *   showError(error.message); // e.g. 'Wrong username or password.', 'Too many attempts. Try again in 15 minutes.'
 *   if (error.code === 'too_many_requests' && error.retryAfter !== undefined) {
 *     disableLoginFor(error.retryAfter * 1000);
 *   }
 * }
 * ```
 */
export class AuthClientError extends Error {
  /**
   * Seconds the server asked the client to wait before trying again (its `Retry-After` header, sent
   * as seconds or as an HTTP date, counted from when the answer arrived); `undefined` when it sent
   * none, or something that was neither. After too many failed logins it is the rest of the
   * throttling window (up to 900 with the default `rateLimit.login`).
   */
  readonly retryAfter: number | undefined;

  /**
   * The client creates these from the router's answers; an app only reads them.
   *
   * @param status - The HTTP status, `0` for a network failure.
   * @param code - The server's `error` code, or `network_error` / `invalid_response` / `http_<status>`.
   * @param message - Words a page can show (`'Wrong username or password.'`).
   * @param retryAfter - Seconds to wait before trying again, when the server said.
   */
  constructor(
    /** The HTTP status; `0` when the server could not be reached. */
    readonly status: number,
    /**
     * The server's `error` code (`invalid_credentials`, `too_many_requests`, …), `network_error`,
     * `invalid_response` (a success whose body holds no readable access token), or `http_<status>`
     * for an answer without one.
     */
    readonly code: string,
    message: string,
    retryAfter?: number,
  ) {
    super(message);
    this.name = 'AuthClientError';
    this.retryAfter = retryAfter;
  }
}

/** Words for an error code, for pages that show `error.message`. */
const MESSAGES: Record<string, string> = {
  invalid_credentials: 'Wrong username or password.',
  invalid_refresh_token: 'Your session has ended. Please sign in again.',
  invalid_dpop_proof:
    'This browser could not prove it is the one you signed in on (it may not keep sign-in keys, as some private modes do). Please sign in again.',
  use_dpop_nonce: 'Your session could not be checked. Please try again.',
  device_key_unavailable:
    'This browser cannot keep the key that protects your sign-in (some private windows and iOS Lockdown Mode refuse to). Use a regular window or another browser.',
  invalid_token: 'Your session has ended. Please sign in again.',
  insufficient_user_authentication: 'Please confirm it is you to continue.',
  reauth_not_configured: 'This server does not ask to confirm who you are.',
  csrf_rejected: 'The request was refused for security reasons. Reload the page and try again.',
  temporarily_unavailable: 'The service is temporarily unavailable. Please try again in a moment.',
  too_many_requests: 'Too many attempts. Please wait a moment and try again.',
  session_not_found: 'That session no longer exists.',
  payload_too_large: 'The request was too large.',
  invalid_request: 'The request was malformed.',
  unsupported_media_type: 'The request was malformed.',
  network_error: 'Could not reach the server. Check your connection and try again.',
  invalid_response: 'The server sent an answer this page could not read.',
};

/** The words for an answer: throttling says when to try again, when the server said. */
function messageOf(status: number, code: string, retryAfter: number | undefined): string {
  if (code === 'too_many_requests' && retryAfter !== undefined) return `Too many attempts. Try again in ${waitInWords(retryAfter)}.`;
  return MESSAGES[code] ?? `The server answered ${status}.`;
}

/**
 * The error of a request that never reached the server (status `0`, code `network_error`).
 */
export function networkError(): AuthClientError {
  return new AuthClientError(0, 'network_error', messageOf(0, 'network_error', undefined));
}

/**
 * The error of a sign-in the server refused because this browser sent no proof of a device key, when
 * the browser could not keep one (code `device_key_unavailable`; under the server's
 * `refreshToken.binding: 'require'`).
 *
 * @param status - The answer's status (401).
 */
export function deviceKeyUnavailable(status: number): AuthClientError {
  return new AuthClientError(status, 'device_key_unavailable', messageOf(status, 'device_key_unavailable', undefined));
}

/**
 * The error of a success whose body holds no readable access token (code `invalid_response`).
 *
 * @param status - The answer's status (a 2xx).
 */
export function invalidResponse(status: number): AuthClientError {
  return new AuthClientError(status, 'invalid_response', messageOf(status, 'invalid_response', undefined));
}

/**
 * The error an answer that was not a success stands for: the server's `error` code (or `http_<status>`),
 * its words, and the `Retry-After` it sent.
 *
 * @param response - The router's answer; its body is read.
 */
export async function errorOf(response: Response): Promise<AuthClientError> {
  const retryAfter = retryAfterSeconds(response.headers.get('Retry-After'), Date.now());
  const body = (await response.json().catch(() => ({}))) as Partial<ErrorResponse>;
  const code = typeof body.error === 'string' ? body.error : `http_${response.status}`;
  return new AuthClientError(response.status, code, messageOf(response.status, code, retryAfter), retryAfter);
}

/**
 * The error of a sign-out that did not complete: the cause's status, code and wait, in words that say the user is still signed in.
 *
 * @param cause - Why the sign-out did not complete (the router's refusal, or `network_error`).
 */
export function signOutIncomplete(cause: AuthClientError): AuthClientError {
  return new AuthClientError(cause.status, cause.code, `Sign-out did not complete: you are still signed in. ${cause.message}`, cause.retryAfter);
}
