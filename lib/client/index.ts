// The browser client: keeps the access token in memory, refreshes it through the cookie once for all calls and all tabs.
/**
 * The browser client, an ES module with no dependencies: signs in, keeps the access token in memory
 * and refreshes it through the server's cookie, once for all calls and all tabs. Start with {@link createAuthClient}.
 *
 * @module express-refresh-tokens/client
 */
import { DEFAULT_COOKIE_NAMES, DEFAULT_CSRF_HEADER, PRESENCE_COOKIE_SUFFIX, ROUTES, type SessionsResponse, type TokenResponse } from '../shared/protocol.js';
import type { AuthClient, AuthClientOptions } from './auth-client.js';
import { type AuthClientError, deviceKeyUnavailable, errorOf, invalidResponse, networkError, signOutIncomplete } from './auth-client-error.js';
import { crossTabRefresh } from './cross-tab-refresh.js';
import { createDeviceKey, deleteDeviceKey, loadDeviceKey, saveDeviceKey } from './device-key.js';
import { errorCodeOf, keyRequests } from './key-requests.js';
import { createTabSession, type HeldToken, usable } from './session-state.js';
import { reauthError, stepUpChallengeOf, stepUpWithHook } from './step-up.js';
import { tokenOriginCheck } from './token-origins.js';
import { readTokenPayload } from './token-payload.js';

export type { SessionSummary } from '../shared/protocol.js';
export type { AuthClient, AuthClientOptions, LogoutResult } from './auth-client.js';
export { AuthClientError } from './auth-client-error.js';
export type { AuthUser, SessionState } from './session-state.js';
export type { OnReauthRequired, ReauthChallenge } from './step-up.js';

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

  /** Reads to its end an answer that is answered again by a retry: one left unread stays open, and a page leaving then aborts it. */
  const drained = (response: Response): Promise<unknown> => response.arrayBuffer().catch(() => undefined);

  const send = (input: RequestInfo | URL, init: RequestInit | undefined, accessToken: string | undefined): Promise<Response> => {
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    if (accessToken) headers.set('Authorization', `Bearer ${accessToken}`);
    return fetch(new Request(request, { headers }));
  };

  /** `POST /reauth` with `body`, as the held token's user; no refresh and no retry (a wrong password must count once). */
  const sendReauth = async (body: Record<string, unknown>): Promise<Response> => {
    const token = await freshToken().catch(() => session.token);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token.value}`;
    return request(ROUTES.reauth, { method: 'POST', csrf: true, headers, body: JSON.stringify(body) });
  };

  /** Takes the token a step-up answered with, in every tab. */
  const acceptStepUp = async (answer: Response): Promise<HeldToken> => {
    const token = await acceptTokens(answer);
    tabs.shareToken(token);
    return token;
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
      // A route that wants a newer or stronger proof: a refresh would not give one; the user must.
      const challenge = await stepUpChallengeOf(response);
      if (challenge) {
        const stepped = options.onReauthRequired && (await stepUpWithHook(challenge, options.onReauthRequired, sendReauth));
        if (!stepped) return response;
        await drained(response);
        return send(original, undefined, (await acceptStepUp(stepped)).value);
      }
      const held = session.token;
      const second = held && held !== first && usable(held) ? held : await tabs.refreshOnce(first);
      if (!second) return response;
      await drained(response);
      return send(original, undefined, second.value);
    },

    async reauthenticate(credentials) {
      const answer = await sendReauth(credentials);
      if (!answer.ok) throw await reauthError(answer);
      return (await acceptStepUp(answer)).user;
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
