// The browser client's public shape: its options, and the AuthClient a page holds.
import type { SessionSummary } from '../shared/protocol.js';
import type { AuthUser, SessionState } from './session-state.js';
import type { OnReauthRequired } from './step-up.js';

/**
 * Options for {@link createAuthClient}; each must match the server's `createAuth` options.
 *
 * @example
 * ```ts
 * import { createAuthClient, type AuthClientOptions } from 'express-refresh-tokens/client';
 *
 * // The server: app.use('/api/auth', auth.router), with csrf: { headerName: 'X-CSRF-Guard' } and cookie: { name: '__Host-session' }.
 * const options: AuthClientOptions = { baseUrl: '/api/auth', csrfHeader: 'X-CSRF-Guard', cookieName: '__Host-session' };
 * const auth = createAuthClient(options);
 * ```
 */
export interface AuthClientOptions {
  /** Where the router is mounted. Defaults to `'/auth'`. */
  baseUrl?: string;
  /** The CSRF header the router requires (`csrf.headerName` on the server). Defaults to `'X-Requested-With'`. */
  csrfHeader?: string;
  /**
   * The refresh cookie's name on the server (`cookie.name`), used to find its script-readable
   * presence cookie. Defaults to trying `'__Host-refresh'` and `'refresh'`.
   */
  cookieName?: string;
  /**
   * Origins besides the page's own that {@link AuthClient.fetch} sends the access token to, such as
   * the app's API on another host: exact origins, as `URL.origin` writes them (`'https://api.example.com'`:
   * scheme, host and port; no path, no trailing slash, no wildcard). A request to any other origin
   * goes out without the token. Defaults to none: the page's origin only.
   *
   * @throws TypeError from {@link createAuthClient} when it is not an array of such origins.
   */
  tokenOrigins?: readonly string[];
  /**
   * Step-up: called when a route answers 401 `insufficient_user_authentication` (it wants a newer or
   * stronger proof of identity, `requireAuth({ maxAge, amr, acr })` on the server). Ask the user
   * (a password prompt, a passkey ceremony) and return the body for `POST /reauth`; {@link AuthClient.fetch}
   * then sends it and retries the original call once. Return `null` to cancel: `fetch` resolves with
   * the original 401. A wrong answer calls it again with `previousError`; the user stays signed in.
   * Without it, such a 401 is returned as it is.
   */
  onReauthRequired?: OnReauthRequired;
}

/**
 * What {@link AuthClient.logout} resolves to once this browser no longer holds the session.
 *
 * @example
 * ```ts
 * import { createAuthClient, type LogoutResult } from 'express-refresh-tokens/client';
 *
 * const auth = createAuthClient();
 * const result: LogoutResult = await auth.logout();
 * const words = result.serverSessionEnded ? 'Signed out.' : 'Signed out on this device; the server could not confirm the session ended.';
 * ```
 */
export interface LogoutResult {
  /**
   * `true` when the server ended the session; `false` when it cleared this browser's cookies without
   * confirming that (a 503: its store was unreachable), so the session's record stays on the server
   * until the server ends it or it expires.
   */
  serverSessionEnded: boolean;
}

/**
 * What {@link createAuthClient} returns: one per page, shared by everything on it.
 *
 * @example
 * ```ts
 * import { createAuthClient, type AuthClient } from 'express-refresh-tokens/client';
 *
 * export const auth: AuthClient = createAuthClient();
 *
 * export async function loadProfile(): Promise<unknown> {
 *   const res = await auth.fetch('/api/me');
 *   return res.ok ? res.json() : null;
 * }
 * ```
 */
export interface AuthClient {
  /**
   * Signs in with the JSON body the server's `authenticate` reads. Throws {@link AuthClientError} when refused.
   *
   * @param credentials - Sent as the JSON body of `POST /login`, e.g. `{ username, password }`.
   * @returns The signed-in user; every tab is told.
   * @throws {@link AuthClientError}: `invalid_credentials` (401), `too_many_requests` (429),
   * `temporarily_unavailable` (503), `network_error` (status 0), …
   *
   * @example
   * ```ts
   * const user = await auth.login({ username: 'demo', password: 'demo-password' });
   * console.log(`signed in as ${user.userId}`);
   * ```
   */
  login(credentials: Record<string, unknown>): Promise<AuthUser>;
  /**
   * Signs this browser out (every tab), and says so only when it is true: when the browser no longer
   * holds the session, because the server answered 2xx or cleared the cookie (its script-readable
   * presence cookie is gone). Never throws for a session that is already gone.
   *
   * @returns `{ serverSessionEnded: true }` when the server ended the session; `{ serverSessionEnded: false }`
   * when it cleared this browser's cookies without confirming the end of the session (503: its store
   * was unreachable). Either way every tab is signed out, and the session can no longer be refreshed
   * from this browser. With `false` its record stays on the server until the server ends it or it
   * expires; a page may suggest ending it later from another device's sessions list
   * ({@link AuthClient.revokeSession}) or with {@link AuthClient.logoutEverywhere}.
   * @throws {@link AuthClientError} when the sign-out did not complete and the browser still holds the
   * session (unreachable server: `network_error`; an answer that left the cookie, e.g. 403 or an older
   * server's 429): nothing changes, every tab stays signed in, and the message says so
   * (`'Sign-out did not complete: you are still signed in. …'`), so the page can offer to try again.
   *
   * @example
   * ```ts
   * document.querySelector('#logout')?.addEventListener('click', async () => {
   *   try {
   *     const { serverSessionEnded } = await auth.logout();
   *     if (!serverSessionEnded) showNotice('Signed out on this device. The server could not confirm the session ended.');
   *   } catch (error) {
   *     showNotice(error instanceof AuthClientError ? error.message : 'Sign-out failed.'); // still signed in: offer to retry
   *   }
   * });
   * ```
   */
  logout(): Promise<LogoutResult>;
  /**
   * Ends every session of the user, on every device, and signs this browser out.
   *
   * @throws {@link AuthClientError} when the server refuses (other than 401) or fails; `TypeError`
   * from `fetch` when it cannot be reached.
   *
   * @example
   * ```ts
   * await auth.logoutEverywhere(); // e.g. after the user changed their password
   * ```
   */
  logoutEverywhere(): Promise<void>;
  /**
   * `fetch` with the access token attached: refreshed first when it is about to expire, and once
   * more (then the request retried once) when the server answers 401. When no session can be had,
   * the request goes out without a token, and its 401 is returned.
   *
   * Only requests to the page's own origin, and to the origins listed in {@link AuthClientOptions.tokenOrigins},
   * get the token (the request's URL as `fetch` resolves it, from a string, a `URL` or a `Request`).
   * Any other request goes out as plain `fetch` would send it: without the token, with no refresh
   * before it and no retry after a 401. A redirect to another origin does not take the token along
   * either: browsers drop `Authorization` on a cross-origin redirect (the Fetch standard), and a 401
   * from an origin that may not have the token sets off no refresh.
   *
   * @param input - What `fetch` takes: a URL or a `Request`.
   * @param init - What `fetch` takes; its `Authorization` header is replaced when there is a token.
   * @returns The server's response; an HTTP error status is an answer, not a rejection.
   * @throws `TypeError` from `fetch` when the network fails; {@link AuthClientError} when the refresh
   * after a 401 fails with something other than 401 (e.g. 503).
   *
   * @example
   * ```ts
   * const res = await auth.fetch('/api/notes', {
   *   method: 'POST',
   *   headers: { 'Content-Type': 'application/json' },
   *   body: JSON.stringify({ text: 'hello' }),
   * });
   * if (res.status === 401) showError('Please sign in.');
   * ```
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /**
   * Proves again who the user is (`POST /reauth`, a step-up), for instance before showing a
   * sensitive page; the session's tokens say so from now on, in every tab. `fetch` does this by
   * itself through {@link AuthClientOptions.onReauthRequired} when a route asks.
   *
   * @param credentials - The JSON body the server's `reauthenticate` reads, e.g. `{ password }`.
   * @returns The user, now with a fresh proof of identity.
   * @throws {@link AuthClientError}: `invalid_credentials` (401: a wrong answer; still signed in),
   * `too_many_requests` (429), `invalid_token` (401: signed out), `reauth_not_configured` (404), …
   *
   * @example
   * ```ts
   * await auth.reauthenticate({ password: passwordInput.value });
   * await auth.fetch('/api/account', { method: 'DELETE' });
   * ```
   */
  reauthenticate(credentials: Record<string, unknown>): Promise<AuthUser>;
  /**
   * A current access token (refreshed if needed), or `null` when signed out.
   *
   * @throws {@link AuthClientError} when a needed refresh fails with something other than 401 (503, network).
   *
   * @example
   * ```ts
   * const socket = new WebSocket('wss://example.com/live');
   * socket.addEventListener('open', async () => {
   *   socket.send(JSON.stringify({ type: 'authenticate', token: await auth.getAccessToken() }));
   * });
   * ```
   */
  getAccessToken(): Promise<string | null>;
  /**
   * Finds out whether the browser is signed in, getting the session back from the cookie after a
   * reload. Without the presence cookie it answers at once, with no request that would fail.
   *
   * @returns The state, also passed to `onSessionChange` listeners when it changed.
   * @throws {@link AuthClientError} when the server cannot answer (503, network): the state is still unknown.
   *
   * @example
   * ```ts
   * const state = await auth.restore();
   * if (!state.signedIn) location.assign('/login');
   * ```
   */
  restore(): Promise<SessionState>;
  /**
   * The state as last known, without any request.
   *
   * @returns `null` until the first call has found out (`restore`, `login`, `fetch`, …).
   *
   * @example
   * ```ts
   * const signedIn = auth.getSession()?.signedIn ?? false;
   * ```
   */
  getSession(): SessionState | null;
  /**
   * The user's sessions (this one marked `current`).
   *
   * Only the first page of `GET /sessions` (up to 100).
   *
   * @throws {@link AuthClientError} when refused (401 `invalid_token` when signed out) or on a server error.
   *
   * @example
   * ```ts
   * for (const session of await auth.listSessions()) {
   *   console.log(session.current ? '(this browser)' : session.id, session.userAgent, session.lastUsedAt);
   * }
   * ```
   */
  listSessions(): Promise<SessionSummary[]>;
  /**
   * Ends one of the user's sessions; ending this one signs this browser out.
   *
   * @param id - A session's `id`, from {@link AuthClient.listSessions}.
   * @throws {@link AuthClientError}: 404 `session_not_found` when it is not one of the user's live sessions.
   *
   * @example
   * ```ts
   * const others = (await auth.listSessions()).filter((session) => !session.current);
   * await Promise.all(others.map((session) => auth.revokeSession(session.id)));
   * ```
   */
  revokeSession(id: string): Promise<void>;
  /**
   * Calls `listener` on every sign-in, refresh and sign-out, in this tab or another. Returns the unsubscribe function.
   * Not called with the current state when subscribing: `restore()` reports it.
   *
   * @param listener - Receives the new {@link SessionState}.
   * @returns A function that removes the listener.
   *
   * @example
   * ```ts
   * const stop = auth.onSessionChange((state) => render(state));
   * await auth.restore(); // the first call reports the state
   * window.addEventListener('pagehide', stop);
   * ```
   */
  onSessionChange(listener: (state: SessionState) => void): () => void;
}
