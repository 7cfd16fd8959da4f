// What the server router and the browser client agree on: route paths, the CSRF header, cookie names and JSON shapes.
// Imported by both builds (CommonJS for the server, ES modules for the browser), so it holds no code beyond constants.

/** The router's routes, relative to where it is mounted. */
export const ROUTES = {
  login: '/login',
  refresh: '/refresh',
  logout: '/logout',
  logoutAll: '/logout-all',
  sessions: '/sessions',
  reauth: '/reauth',
  jwks: '/.well-known/jwks.json',
} as const;

/** JWT claims the library sets in access tokens itself; every other claim is the app's own. */
export const REGISTERED_CLAIM_NAMES: readonly string[] = [
  'sub',
  'sid',
  'jti',
  'iat',
  'exp',
  'nbf',
  'iss',
  'aud',
  'typ',
  'auth_time',
  'amr',
  'acr',
  'reauth_time',
  'claims_time',
];

/** The header `/login`, `/refresh` and `/logout` require by default (any non-empty value). */
export const DEFAULT_CSRF_HEADER = 'X-Requested-With';

/** The refresh cookie's default names: with `cookie.secure` (the default), and without. */
export const DEFAULT_COOKIE_NAMES = { secure: '__Host-refresh', insecure: 'refresh' } as const;

/**
 * Appended to the refresh cookie's name for its companion "a session is here" cookie: readable by
 * scripts, holding nothing secret (when it expires), set at login, renewed when it would die before
 * the refresh cookie, and cleared with it. It lets a page know it is signed in after a reload without
 * a call that would fail; only its presence matters to the client.
 */
export const PRESENCE_COOKIE_SUFFIX = '-present';

/** The answer of `/login` and `/refresh`. */
export interface TokenResponse {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  /**
   * The refresh token, only for a client that asked for it in the body at login
   * (`tokenTransport: 'body'`, a family bound to a device key); browsers get it in the HttpOnly cookie.
   */
  refreshToken?: string;
}

/**
 * One session as `GET /sessions` lists it (times are ISO-8601).
 *
 * @example
 * ```ts
 * import { createAuthClient, type SessionSummary } from 'express-refresh-tokens/client';
 *
 * const describe = (session: SessionSummary): string =>
 *   `${session.device} · ${session.network || 'unknown network'}, since ${new Date(session.createdAt).toLocaleDateString()}${session.current ? ' (this browser)' : ''}`;
 * const sessions = await createAuthClient().listSessions();
 * console.log(sessions.map(describe));
 * ```
 */
export interface SessionSummary {
  /** The session's id: pass it to `revokeSession`. */
  id: string;
  /** When the login began. */
  createdAt: string;
  /** When its refresh token was last rotated. */
  lastUsedAt: string;
  /** When the session ends unless it is used before then; never after its absolute deadline. */
  expiresAt: string;
  /** What signed in, for people: browser, major version and operating system from its User-Agent (`Chrome 131 on Windows`). */
  device: string;
  /**
   * Where it signed in from: the address's IPv4 /24 or IPv6 /48 (`198.51.100.0/24`), the whole address
   * when the server keeps it (`sessionNetwork: 'address'`), or `''` when it keeps none or did not know it.
   */
  network: string;
  /** @deprecated The same as {@link SessionSummary.device}: the raw User-Agent is no longer stored. */
  userAgent: string;
  /** Whether it is the session of the access token that asked. */
  current: boolean;
  /** Whether the session is bound to a key its device holds: a copy of its cookie is worthless elsewhere. */
  bound: boolean;
}

/** The answer of `GET /sessions[?limit=N&cursor=C]`: one page, oldest first. */
export interface SessionsResponse {
  sessions: SessionSummary[];
  /** Pass as `cursor` for the next page; `null` on the last one. */
  nextCursor: string | null;
}

/**
 * Every error answer: `{ error: code }`, with `message` when the call itself was wrong (a header, the
 * content type, the body), and on a `/logout` answered 503 `temporarily_unavailable` (whose cookies
 * are cleared all the same: the browser is signed out, the server-side end is retried).
 */
export interface ErrorResponse {
  error: string;
  /** How to make the call right (403 `csrf_rejected`, 415, 413, 400, 405), or what became of a logout (503); for people, not for code. */
  message?: string;
}
