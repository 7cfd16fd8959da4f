// The browser client: keeps the access token in memory, refreshes it through the cookie once for all calls and all tabs.
/**
 * The browser client, an ES module with no dependencies: signs in, keeps the access token in memory
 * and refreshes it through the server's cookie, once for all calls and all tabs. Start with {@link createAuthClient}.
 *
 * @module express-refresh-tokens/client
 */
import {
  DEFAULT_COOKIE_NAMES,
  DEFAULT_CSRF_HEADER,
  PRESENCE_COOKIE_SUFFIX,
  ROUTES,
  type SessionSummary,
  type SessionsResponse,
  type TokenResponse,
} from '../shared/protocol.js';
import { type AuthClientError, deviceKeyUnavailable, errorOf, invalidResponse, networkError, signOutIncomplete } from './auth-client-error.js';
import { crossTabRefresh } from './cross-tab-refresh.js';
import { createDeviceKey, deleteDeviceKey, loadDeviceKey, saveDeviceKey } from './device-key.js';
import { errorCodeOf, keyRequests } from './key-requests.js';
import { type AuthUser, createTabSession, type HeldToken, type SessionState, usable } from './session-state.js';
import { tokenOriginCheck } from './token-origins.js';
import { readTokenPayload } from './token-payload.js';

export type { SessionSummary } from '../shared/protocol.js';
export { AuthClientError } from './auth-client-error.js';
export type { AuthUser, SessionState } from './session-state.js';

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

/**
 * Creates the client for a router mounted at `baseUrl` on this origin. The access token lives in
 * this object only (never in web storage or a readable cookie); the refresh token is the server's
 * HttpOnly cookie, which the browser sends by itself.
 *
 * The tabs of the origin share the token over a BroadcastChannel (`express-refresh-tokens:<baseUrl>`).
 * A tab ignores malformed messages, takes a token only of the session it holds (same `sid`) or of
 * its user (same `sub`), or, holding none, while the browser has a session; and never for longer
 * than the token's own `exp`. Any script of the origin can read and post on that channel, as it
 * can call this client: script of the same origin is inside the trust boundary (keep XSS out and
 * do not share the origin with code you do not trust).
 *
 * @param options - Where the router is mounted and how the server is configured; see {@link AuthClientOptions}.
 * @returns The client: one per page.
 * @throws TypeError when `options.tokenOrigins` is not an array of exact origins (`'https://api.example.com'`).
 *
 * @example
 * ```ts
 * import { createAuthClient } from 'express-refresh-tokens/client';
 *
 * const auth = createAuthClient(); // the router is mounted at /auth on this origin
 * auth.onSessionChange((state) => render(state));
 * if (!(await auth.restore()).signedIn) await auth.login({ username, password });
 * const res = await auth.fetch('/api/me');
 * ```
 */
export function createAuthClient(options: AuthClientOptions = {}): AuthClient {
  const baseUrl = (options.baseUrl ?? '/auth').replace(/\/$/, '');
  const csrfHeader = options.csrfHeader ?? DEFAULT_CSRF_HEADER;
  const presenceCookies = (options.cookieName ? [options.cookieName] : [DEFAULT_COOKIE_NAMES.secure, DEFAULT_COOKIE_NAMES.insecure]).map(
    (name) => `${name}${PRESENCE_COOKIE_SUFFIX}`,
  );
  const mayCarryToken = tokenOriginCheck(options.tokenOrigins, typeof location !== 'undefined' ? location.origin : undefined);
  const session = createTabSession();

  const hasPresenceCookie = (): boolean =>
    typeof document !== 'undefined' && document.cookie.split(';').some((pair) => presenceCookies.includes(pair.split('=')[0]?.trim() ?? ''));

  const request = (path: string, init: RequestInit & { csrf?: boolean }): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (init.csrf) headers.set(csrfHeader, 'fetch');
    return fetch(`${baseUrl}${path}`, { ...init, headers, credentials: 'same-origin' }).catch(() => {
      throw networkError();
    });
  };

  /** The Web Lock's, the BroadcastChannel's and the device key's name: one per router. */
  const slot = `express-refresh-tokens:${baseUrl}`;

  const keyed = keyRequests({ slot, baseUrl, presenceCookies, request });

  /** Holds the token of a login's or a refresh's answer. */
  const acceptTokens = async (response: Response): Promise<HeldToken> => {
    const { accessToken, expiresIn } = ((await response.json().catch(() => null)) ?? {}) as Partial<TokenResponse>;
    const payload = readTokenPayload(accessToken);
    if (typeof accessToken !== 'string' || !payload || typeof expiresIn !== 'number' || !Number.isFinite(expiresIn)) {
      throw invalidResponse(response.status);
    }
    // The server counts whole seconds from the start of the second it issued in: up to 1 s less is left.
    return session.adopt(accessToken, Date.now() + Math.max(0, expiresIn - 1) * 1000, payload);
  };

  const tabs = crossTabRefresh({
    name: slot,
    session,
    browserHasSession: hasPresenceCookie,
    async refreshThroughCookie() {
      // Under the Web Lock: one tab at a time uses the key and moves its nonce on.
      const key = await loadDeviceKey(slot);
      const send = async () => {
        const answer = await keyed.send(ROUTES.refresh, { method: 'POST', csrf: true }, key);
        return { answer, refusal: answer.status === 401 ? await errorCodeOf(answer) : undefined };
      };
      let { answer: response, refusal } = await send();
      // A nonce kept from an older answer: the server says which one it wants, once.
      if (key && refusal === 'use_dpop_nonce') ({ answer: response, refusal } = await send());
      if (response.ok) return acceptTokens(response);
      if (response.status === 401) {
        if (refusal === 'invalid_dpop_proof') await keyed.forget();
        else if (key) await deleteDeviceKey(slot);
        return null;
      }
      throw await errorOf(response); // 503 and the like: nothing changed, the cookie is kept
    },
  });

  /** A token good for a request now: the one held, another tab's, or a refreshed one. */
  const freshToken = async (): Promise<HeldToken | null> => {
    if (session.token && usable(session.token)) return session.token;
    if (!session.token && session.known === null) {
      // First use in this tab: another tab may hold a token; otherwise the cookie may give one.
      if (!hasPresenceCookie()) {
        session.signOut();
        return null;
      }
      const taken = await tabs.askOtherTabs();
      if (taken) return taken;
    }
    if (!session.token && session.known?.signedIn === false && !hasPresenceCookie()) return null;
    return tabs.refreshOnce(session.token);
  };

  const send = (input: RequestInfo | URL, init: RequestInit | undefined, accessToken: string | undefined): Promise<Response> => {
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    if (accessToken) headers.set('Authorization', `Bearer ${accessToken}`);
    return fetch(new Request(request, { headers }));
  };

  const client: AuthClient = {
    async login(credentials) {
      // A fresh key for every login, made, kept and sent under the lock: two tabs signing in at once
      // never bind a session to a key the other overwrote. A browser that cannot keep it signs in unbound.
      const { response, kept } = await keyed.underLock(async () => {
        const key = await createDeviceKey();
        const saved = key !== undefined && (await saveDeviceKey(slot, key));
        const answer = await keyed.send(
          ROUTES.login,
          { method: 'POST', csrf: true, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(credentials) },
          saved ? key : undefined,
        );
        // Not bound (refused, or a server with binding off): the key serves nothing.
        if (saved && !(answer.ok && answer.headers.get('DPoP-Nonce'))) await deleteDeviceKey(slot);
        return { response: answer, kept: saved };
      });
      // A server that requires a key, and a browser that could not keep one: say so, in words.
      if (!kept && response.status === 401 && (await errorCodeOf(response)) === 'invalid_dpop_proof') throw deviceKeyUnavailable(response.status);
      if (!response.ok) throw await errorOf(response);
      const token = await acceptTokens(response);
      tabs.shareToken(token);
      return token.user;
    },

    async logout() {
      const heldSession = hasPresenceCookie();
      const key = await loadDeviceKey(slot);
      const answer = await keyed.send(ROUTES.logout, { method: 'POST', csrf: true }, key).catch((error: AuthClientError) => error);
      const ended = answer instanceof Response && answer.ok;
      // Signed out only when the browser no longer holds the session: the server ended it, or cleared its cookies.
      if (!ended && !(heldSession && !hasPresenceCookie())) throw signOutIncomplete(answer instanceof Response ? await errorOf(answer) : answer);
      if (key) await deleteDeviceKey(slot);
      tabs.signOutAllTabs();
      return { serverSessionEnded: ended };
    },

    async logoutEverywhere() {
      const response = await client.fetch(`${baseUrl}${ROUTES.logoutAll}`, { method: 'POST' });
      if (!response.ok && response.status !== 401) throw await errorOf(response);
      tabs.signOutAllTabs();
    },

    async fetch(input, init) {
      // A body that is a stream can be sent only once; cloning before the first try keeps the retry possible.
      const original = new Request(input, init);
      // Another origin gets the request as plain fetch sends it: no token, no refresh, no retry.
      if (!mayCarryToken(original.url)) return fetch(original);
      const first = await freshToken().catch(() => session.token);
      const response = await send(original.clone(), undefined, first?.value);
      // A 401 says nothing about the token when it came from an origin that may not have it (after a redirect).
      if (response.status !== 401 || !first || !mayCarryToken(response.url || original.url)) return response;
      const held = session.token;
      const second = held && held !== first && usable(held) ? held : await tabs.refreshOnce(first);
      return second ? send(original, undefined, second.value) : response;
    },

    async getAccessToken() {
      return (await freshToken())?.value ?? null;
    },

    async restore() {
      await freshToken();
      if (session.known === null) session.publish();
      return session.state();
    },

    getSession() {
      return session.known;
    },

    async listSessions() {
      const response = await client.fetch(`${baseUrl}${ROUTES.sessions}`);
      if (!response.ok) throw await errorOf(response);
      return ((await response.json()) as SessionsResponse).sessions;
    },

    async revokeSession(id) {
      const response = await client.fetch(`${baseUrl}${ROUTES.sessions}/${encodeURIComponent(id)}`, { method: 'DELETE' });
      if (!response.ok) throw await errorOf(response);
      if (session.token?.user.sessionId === id) tabs.signOutAllTabs();
    },

    onSessionChange: (listener) => session.onChange(listener),
  };
  return client;
}
