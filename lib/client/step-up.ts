// Step-up in the browser: the RFC 9470 challenge of a 401 read, the app's onReauthRequired hook asked, POST /reauth sent until it holds or the user gives up.
import { AuthClientError, errorOf } from './auth-client-error.js';

/**
 * What a route asked for when it answered 401 `insufficient_user_authentication` (RFC 9470): what
 * {@link OnReauthRequired} is given, to ask the user in fitting words.
 *
 * @example
 * ```ts
 * import type { ReauthChallenge } from 'express-refresh-tokens/client';
 *
 * const title = (challenge: ReauthChallenge): string =>
 *   challenge.amr?.includes('hwk') ? 'Confirm with your security key' : 'Confirm your password to continue';
 * ```
 */
export interface ReauthChallenge {
  /** The server's words for what is missing (`'More recent authentication is required'`). */
  reason: string;
  /** The oldest proof of identity the route accepts, in seconds (`max_age`), when it asked. */
  maxAge?: number;
  /** The methods the route asks for (RFC 8176 `amr` values: `hwk` a security key or passkey), when it asked. */
  amr?: string[];
  /** The classes the route accepts (`acr_values`), when it asked. */
  acr?: string[];
  /**
   * Set when the user's previous answer in this round was refused: `invalid_credentials` (a wrong
   * password or a failed passkey check; the session goes on). Show its `message`, ask again, or
   * return `null` to give up.
   */
  previousError?: AuthClientError;
}

/**
 * The app's way of asking the user to prove again who they are: show a password prompt or run a
 * passkey ceremony, and return the JSON body the server's `reauthenticate` reads, or `null` (or
 * `undefined`) when the user cancels. Called again with `previousError` after a wrong answer.
 *
 * @example
 * ```ts
 * import { createAuthClient, type OnReauthRequired } from 'express-refresh-tokens/client';
 *
 * const onReauthRequired: OnReauthRequired = async (challenge) => {
 *   const password = await passwordDialog({ error: challenge.previousError?.message });
 *   return password === null ? null : { password };
 * };
 * const auth = createAuthClient({ onReauthRequired });
 * ```
 */
export type OnReauthRequired = (challenge: ReauthChallenge) => Promise<Record<string, unknown> | null | undefined> | Record<string, unknown> | null | undefined;

/** One auth-param of a `WWW-Authenticate` challenge: quoted or a bare token. */
function parameter(challenge: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|[\\s,])${name}=(?:"([^"]*)"|([^\\s,]*))`, 'i').exec(challenge);
  return match === null ? undefined : (match[1] ?? match[2]);
}

/**
 * The step-up challenge of a 401, when it is one (its `WWW-Authenticate` names
 * `insufficient_user_authentication`, or, when another origin's answer does not expose that header,
 * its JSON body's `error` does); `undefined` for any other answer.
 */
export async function stepUpChallengeOf(response: Response): Promise<ReauthChallenge | undefined> {
  if (response.status !== 401) return undefined;
  const header = response.headers.get('WWW-Authenticate') ?? '';
  if (parameter(header, 'error') !== 'insufficient_user_authentication') {
    const body = (await response
      .clone()
      .json()
      .catch(() => null)) as { error?: unknown } | null;
    if (body?.error !== 'insufficient_user_authentication') return undefined;
  }
  const challenge: ReauthChallenge = { reason: parameter(header, 'error_description') ?? 'Please confirm it is you to continue.' };
  const maxAge = Number(parameter(header, 'max_age'));
  if (Number.isInteger(maxAge) && maxAge > 0) challenge.maxAge = maxAge;
  const amr = parameter(header, 'amr_values');
  if (amr) challenge.amr = amr.split(' ');
  const acr = parameter(header, 'acr_values');
  if (acr) challenge.acr = acr.split(' ');
  return challenge;
}

/**
 * Asks the hook and sends its answer to `POST /reauth` (`reauth`), again after a wrong answer, until
 * the server accepts one (resolves with its answer) or the hook gives up (resolves with `null`). Any
 * other refusal (429 throttled, 503) is thrown as an {@link AuthClientError}.
 */
export async function stepUpWithHook(
  challenge: ReauthChallenge,
  onReauthRequired: OnReauthRequired,
  reauth: (body: Record<string, unknown>) => Promise<Response>,
): Promise<Response | null> {
  let previousError: AuthClientError | undefined;
  for (;;) {
    const body = await onReauthRequired(previousError === undefined ? challenge : { ...challenge, previousError });
    if (body === null || body === undefined) return null;
    const answer = await reauth(body);
    if (answer.ok) return answer;
    const error = await reauthError(answer);
    if (error.code !== 'invalid_credentials') throw error;
    previousError = error;
  }
}

/** A refused step-up as an {@link AuthClientError}, a wrong answer in words that fit it. */
export async function reauthError(answer: Response): Promise<AuthClientError> {
  const error = await errorOf(answer);
  if (error.code !== 'invalid_credentials') return error;
  return new AuthClientError(error.status, error.code, 'That did not confirm it is you. Please try again.', error.retryAfter);
}
