// This tab's access token in memory, the session state it makes, and the onSessionChange listeners told when it changes.
import type { TokenPayload } from './token-payload.js';

/**
 * Who is signed in, read from the access token (not verified here: the server does that).
 *
 * @example
 * ```ts
 * import { createAuthClient, type AuthUser } from 'express-refresh-tokens/client';
 *
 * const auth = createAuthClient();
 * const user: AuthUser = await auth.login({ username, password });
 * document.title = user.claims.role === 'admin' ? 'Admin' : 'Welcome';
 * ```
 */
export interface AuthUser {
  /** The user's id (the token's `sub`). */
  userId: string;
  /** This browser's session id (the token's `sid`), as `listSessions` lists it. */
  sessionId: string;
  /** The app's claims from `authenticate` (e.g. `{ role }`). */
  claims: Record<string, unknown>;
}

/**
 * What {@link AuthClient.onSessionChange} listeners receive: `{ signedIn: true, user, expiresAt }`
 * (`expiresAt` when the access token expires, epoch ms on this browser's clock) or `{ signedIn: false }`.
 *
 * @example
 * ```ts
 * import { createAuthClient, type SessionState } from 'express-refresh-tokens/client';
 *
 * function render(state: SessionState): void {
 *   const status = document.querySelector('#status');
 *   if (status) status.textContent = state.signedIn ? `Signed in as ${state.user.userId}` : 'Signed out';
 * }
 * createAuthClient().onSessionChange(render);
 * ```
 */
export type SessionState =
  | {
      /** Signed in. */
      signedIn: true;
      /** Who is signed in. */
      user: AuthUser;
      /** When the access token expires (epoch ms). */
      expiresAt: number;
    }
  | {
      /** Signed out. */
      signedIn: false;
    };

/** An access token this tab holds. */
export interface HeldToken {
  value: string;
  /** Epoch ms, on this browser's clock. */
  expiresAt: number;
  /** How long it was valid for when it arrived. */
  lifetimeMs: number;
  user: AuthUser;
}

/** Refresh when less than this share of the token's life is left (and at most this long before expiry). */
const REFRESH_AHEAD_SHARE = 0.2;
const REFRESH_AHEAD_MAX_MS = 30_000;

/**
 * Whether a token is good for a request now: not so close to its expiry that it should be refreshed first
 * (a fifth of its life, at most 30 s, left).
 *
 * @param token - A token this tab holds.
 */
export function usable(token: HeldToken): boolean {
  return token.expiresAt - Date.now() >= Math.min(REFRESH_AHEAD_MAX_MS, REFRESH_AHEAD_SHARE * token.lifetimeMs);
}

/** This tab's session, made by {@link createTabSession}: the token held, and the state last told to the listeners. */
export interface TabSession {
  /** The token this tab holds, or `null`. */
  readonly token: HeldToken | null;
  /** The state last told to the listeners; `null` until the tab has found out (nothing told yet). */
  readonly known: SessionState | null;
  /** The state the held token makes (signed out when there is none). */
  state(): SessionState;
  /**
   * Holds a token (from the server, or from another tab) and tells the listeners.
   *
   * @param value - The compact token.
   * @param expiresAt - When this browser counts it as expired, epoch ms.
   * @param payload - Its payload, read by `readTokenPayload`.
   * @returns The token now held.
   */
  adopt(value: string, expiresAt: number, payload: TokenPayload): HeldToken;
  /** Drops the token and tells the listeners the tab is signed out. */
  signOut(): void;
  /** Tells the listeners the state when it differs from the one last told, or when none was told yet. */
  publish(): void;
  /**
   * Adds a listener of every change of the state.
   *
   * @returns A function that removes it.
   */
  onChange(listener: (state: SessionState) => void): () => void;
}

/** A tab's session holding no token, with no state told yet. */
export function createTabSession(): TabSession {
  const listeners = new Set<(state: SessionState) => void>();
  let token: HeldToken | null = null;
  let known: SessionState | null = null;

  const session: TabSession = {
    get token() {
      return token;
    },
    get known() {
      return known;
    },
    state: () => (token ? { signedIn: true, user: token.user, expiresAt: token.expiresAt } : { signedIn: false }),
    adopt(value, expiresAt, payload) {
      token = { value, expiresAt, lifetimeMs: expiresAt - Date.now(), user: { userId: payload.sub, sessionId: payload.sid, claims: payload.claims } };
      session.publish();
      return token;
    },
    signOut() {
      token = null;
      session.publish();
    },
    publish() {
      const next = session.state();
      const changed = known === null || known.signedIn !== next.signedIn || (next.signedIn && known.signedIn && known.expiresAt !== next.expiresAt);
      known = next;
      if (changed) for (const listener of listeners) listener(next);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return session;
}
