// The typed events auth.events emits: hooks for audit logs and alerting.
import { EventEmitter } from 'node:events';
import type { StoreUnavailableError } from './errors';
import type { FeedReloadCause } from './revocation/revocation-feed';
import type { BindingFailure } from './tokens/dpop-proof';

/**
 * Who did something to which session, and from where: the argument of `login`, `refresh`,
 * `reuse_detected` and `logout`.
 *
 * @example
 * ```ts
 * import type { SessionEvent } from 'express-refresh-tokens';
 *
 * const audit = (action: string) => (event: SessionEvent) => log.info({ action, ...event }, `auth ${action}`);
 * auth.events.on('login', audit('login'));
 * auth.events.on('logout', audit('logout'));
 * ```
 */
export interface SessionEvent {
  /** The session's user. */
  userId: string;
  /** The session (refresh-token family) id. */
  sessionId: string;
  /** `req.ip` of the request (mind Express' `trust proxy`). */
  ip: string | undefined;
  /** The request's `User-Agent` header, if any. */
  userAgent: string | undefined;
}

/**
 * A login from a device the user's sessions had not come from: the argument of `new_device`. `device`
 * and `network` are the labels the session keeps (`Chrome 131 on Windows`, `198.51.100.0/24`, see
 * `SessionRecord`); `ip` and `userAgent` are the login request's, as in {@link SessionEvent}.
 *
 * @example
 * ```ts
 * import type { NewDeviceEvent } from 'express-refresh-tokens';
 *
 * auth.events.on('new_device', ({ userId, device, network }: NewDeviceEvent) => {
 *   mailer.send(userId, `New sign-in: ${device}${network ? ` from ${network}` : ''}. Not you? Change your password.`);
 * });
 * ```
 */
export interface NewDeviceEvent extends SessionEvent {
  /** The new session's device label: browser and operating system, parsed from the User-Agent. */
  device: string;
  /** The new session's network label: an IPv4 /24 or IPv6 /48 by default, per the `sessionNetwork` option (`''` when off). */
  network: string;
}

/**
 * Why a session was revoked, in `session_revoked`: `'api'` by `auth.revokeSession`,
 * `'user_request'` by `DELETE /sessions/:id`, `'new_login'` by a login from a browser that still
 * held the session's refresh cookie.
 *
 * @example
 * ```ts
 * import type { RevocationReason } from 'express-refresh-tokens';
 *
 * const labels: Record<RevocationReason, string> = {
 *   api: 'ended by an administrator',
 *   user_request: 'ended by the user',
 *   new_login: 'replaced by a new sign-in',
 * };
 * auth.events.on('session_revoked', ({ userId, sessionId, reason }) => log.info({ userId, sessionId }, labels[reason]));
 * ```
 */
export type RevocationReason = 'api' | 'user_request' | 'new_login';

/** Who ended every session of a user: `auth.revokeUser` (`api`), or the user at `POST /logout-all`. */
export type UserRevocationReason = 'api' | 'logout_all';

/**
 * Why a logout that answered 503 (the store did not answer; the browser's cookies were cleared all the
 * same) stopped being retried before the session was ended on the server, in `logout_abandoned`:
 * - `'closed'`: `auth.close()` ran first. The session may still be alive until it expires.
 * - `'overflow'`: more logouts were waiting on this instance than it keeps (1000); the oldest gave way.
 *   The session may still be alive until it expires.
 * - `'expired'`: the latest moment the session could live (its login plus `absoluteTtl`) has passed:
 *   it has ended by itself, nothing is left to do.
 * - `'failed'`: the store answered with an error that is not an outage (a custom store's bug): retrying
 *   would not help. The session may still be alive.
 *
 * @example
 * ```ts
 * import type { LogoutAbandonReason } from 'express-refresh-tokens';
 *
 * auth.events.on('logout_abandoned', ({ sessionId, reason }: { sessionId: string; reason: LogoutAbandonReason }) => {
 *   if (reason !== 'expired') log.warn({ sessionId, reason }, 'a logout could not end its session on the server; revoke it by hand');
 * });
 * ```
 */
export type LogoutAbandonReason = 'closed' | 'overflow' | 'expired' | 'failed';

/** What `binding_failed` reports: which operation, why, and who asked. */
export interface BindingFailedEvent {
  operation: 'login' | 'refresh' | 'logout';
  reason: BindingFailure;
  sessionId: string | undefined;
  ip: string | undefined;
  userAgent: string | undefined;
}

/**
 * Every event and its arguments. A listener that throws, or whose promise rejects, changes nothing:
 * it is reported as a process warning with code `ERT_LISTENER_ERROR`.
 *
 * @example
 * ```ts
 * import type { AuthEventMap } from 'express-refresh-tokens';
 *
 * function onRefresh(event: AuthEventMap['refresh'][0]): void {
 *   if (!event.retried) metrics.increment('auth.refresh');
 * }
 * auth.events.on('refresh', onRefresh);
 * auth.events.on('user_revoked', ({ userId, sessionIds }) => log.info({ userId, count: sessionIds.length }, 'user signed out everywhere'));
 * ```
 */
export interface AuthEventMap {
  /** A login created a session. */
  login: [SessionEvent];
  /**
   * A login (emitted right after its `login`) came from a device label and network that none of the
   * user's sessions that could still be alive (ended or not, until their absolute deadline) came from:
   * the user's first login too, so the app decides what deserves a notice. A second login from the
   * same browser and network does not emit it; a new browser or network does. With
   * `sessionNetwork: 'off'` only the device label counts. Decided by the store in the login's own round
   * trip; a custom store that does not report it (`CreatedSession.newDevice`) never emits it.
   */
  new_device: [NewDeviceEvent];
  /** A refresh token was rotated; `retried` when it was a repeat inside the grace window. */
  refresh: [SessionEvent & { retried: boolean }];
  /**
   * A signed-in user proved again who they are (`POST /reauth`, a step-up): the session's access
   * tokens from now on carry when (`reauth_time`) and how (`amr`, `acr`).
   */
  reauthenticated: [SessionEvent & { amr: string[]; acr?: string }];
  /** A step-up's proof failed (`reauthenticate` returned `null`): nothing changed, the session goes on. Many of these mean someone is guessing. */
  reauth_failed: [SessionEvent];
  /** An earlier refresh token of a family was presented: the family was revoked. Alert on this. */
  reuse_detected: [SessionEvent];
  /**
   * A login, refresh or logout was refused because its proof of the device key (DPoP) was missing or
   * did not hold. Nothing changed: the family is not revoked (whoever holds only a copied cookie
   * cannot sign its owner out). `sessionId` is the family the presented cookie names (none at login).
   * Many of these for one session mean someone holds a copy of its cookie without its key.
   */
  binding_failed: [BindingFailedEvent];
  /**
   * A client logged out and its session ended. `deferred` is true when the logout had answered 503
   * (the store did not answer; the browser's cookies were cleared all the same) and the session was
   * ended later by this instance's background retry.
   */
  logout: [SessionEvent & { deferred: boolean }];
  /** One session was revoked by `auth.revokeSession`, `DELETE /sessions/:id`, or a new login. */
  session_revoked: [{ userId: string; sessionId: string; reason: RevocationReason }];
  /** Every session of a user was revoked (`auth.revokeUser` or `POST /logout-all`). */
  user_revoked: [{ userId: string; sessionIds: string[]; reason: UserRevocationReason }];
  /**
   * `auth.updateClaims` gave the user's live sessions new claims (`sessionIds`: those updated; their
   * next refresh carries them). `immediate`: the user's access tokens issued before it are refused on
   * every instance (each client refreshes once, silently).
   */
  claims_updated: [{ userId: string; sessionIds: string[]; immediate: boolean }];
  /**
   * A logout answered 503 and its background retry stopped before the session was ended on the server
   * (see {@link LogoutAbandonReason}): unless `reason` is `'expired'`, the session may live on for
   * whoever still holds a copy of its refresh cookie; `auth.revokeSession(sessionId)` ends it. The user is
   * unknown (the store never answered). `ip` and `userAgent` are the logout request's. With no listener,
   * the instance says so once as a process warning (`ERT_LOGOUT_ABANDONED`).
   */
  logout_abandoned: [{ sessionId: string; ip: string | undefined; userAgent: string | undefined; reason: LogoutAbandonReason }];
  /**
   * The store failed; the request was answered 503 (or the `auth.*` call rejected). `error.code` says
   * what failed (`ERR_STORE_TIMEOUT`, `ERR_REVOCATION_FEED_STALE`, …: see `ErrorCodes`), `error.message`
   * why, in words (a refused connection, a password Redis wants, no reply), and `error.cause` is the
   * underlying error (ioredis' connection error, Redis' reply) when there is one. `error` never contains
   * a token; it may name Redis' host and port, so it is for logs, never for an answer.
   */
  store_error: [{ operation: string; error: StoreUnavailableError }];
  /**
   * The revocation feed stopped vouching for its contents: protected routes now answer 503 (fail
   * closed). `freshness` is `'stale'` (it has not heard from the store for `revocation.maxStaleness`)
   * or `'loading'` (it has not loaded within `revocation.maxStaleness` of start); `cause` is what kept
   * it from hearing, when known (ioredis' connection error, the timeout that opened the circuit). Said
   * once per change, with the `ERT_FEED_UNTRUSTED` line; `auth.health()` fails meanwhile.
   */
  feed_untrusted: [{ freshness: 'stale' | 'loading'; cause?: unknown }];
  /** The revocation feed vouches again after `untrustedForMs` (about): protected routes are served again (`ERT_FEED_TRUSTED`). */
  feed_trusted: [{ untrustedForMs: number }];
  /**
   * The store stopped answering and its circuit opened: logins, refreshes and logouts answer 503 at once
   * until a probe is answered; protected routes are served until the feed is stale. `cause` is the
   * problem, when known (`ERT_STORE_CIRCUIT_OPEN`).
   */
  store_circuit_open: [{ cause?: unknown }];
  /** The store answers again after `openForMs` (about): its circuit closed (`ERT_STORE_CIRCUIT_CLOSED`). */
  store_circuit_closed: [{ openForMs: number }];
  /**
   * The revocation feed (re)loaded every revocation from the store: at `'start'`, after a `'reconnect'`,
   * or after a `'gap'` in the revocations it heard (that one also an `ERT_FEED_GAP_RELOAD` line).
   */
  feed_reloaded: [{ cause: FeedReloadCause }];
  /**
   * The store lost its data (Redis restarted empty, was flushed or replaced), noticed `at` (epoch ms):
   * every session begun before then was signed out (`ERT_STORE_DATA_LOST`).
   */
  store_data_lost: [{ at: number }];
}

/**
 * `auth.events`: an EventEmitter typed by {@link AuthEventMap}. Listeners that throw never affect a request.
 * An unknown event name does not compile, and each listener gets its own event's arguments.
 *
 * Its event-name methods are declared here rather than through @types/node's generic
 * `EventEmitter<T>`, whose typing moves between majors (from @types/node 25 on it accepts any
 * event name), so the check is the same whichever @types/node a project has.
 *
 * @example
 * ```ts
 * import type { AuthEvents } from 'express-refresh-tokens';
 *
 * function alertOnReuse(events: AuthEvents): void {
 *   events.on('reuse_detected', ({ userId, sessionId, ip, userAgent }) => alertSecurityTeam({ userId, sessionId, ip, userAgent }));
 * }
 * alertOnReuse(auth.events);
 * ```
 */
export interface AuthEvents extends EventEmitter {
  /** Adds a listener for `event`, called with the event's arguments. */
  on<E extends keyof AuthEventMap>(event: E, listener: (...args: AuthEventMap[E]) => void): this;
  /** The same as {@link AuthEvents.on}. */
  addListener<E extends keyof AuthEventMap>(event: E, listener: (...args: AuthEventMap[E]) => void): this;
  /** Adds a listener called the next time `event` is emitted, then removed. */
  once<E extends keyof AuthEventMap>(event: E, listener: (...args: AuthEventMap[E]) => void): this;
  /** Adds a listener for `event` ahead of the others. */
  prependListener<E extends keyof AuthEventMap>(event: E, listener: (...args: AuthEventMap[E]) => void): this;
  /** Adds a one-time listener for `event` ahead of the others. */
  prependOnceListener<E extends keyof AuthEventMap>(event: E, listener: (...args: AuthEventMap[E]) => void): this;
  /** Removes a listener added for `event`. */
  off<E extends keyof AuthEventMap>(event: E, listener: (...args: AuthEventMap[E]) => void): this;
  /** The same as {@link AuthEvents.off}. */
  removeListener<E extends keyof AuthEventMap>(event: E, listener: (...args: AuthEventMap[E]) => void): this;
  /** Calls the listeners of `event` with `args`; true when it had any. */
  emit<E extends keyof AuthEventMap>(event: E, ...args: AuthEventMap[E]): boolean;
  /** How many listeners `event` has (of `listener`, when given). */
  listenerCount<E extends keyof AuthEventMap>(event: E, listener?: (...args: AuthEventMap[E]) => void): number;
  /** The listeners of `event`. */
  listeners<E extends keyof AuthEventMap>(event: E): Array<(...args: AuthEventMap[E]) => void>;
  /** The listeners of `event`, `once` wrappers included. */
  rawListeners<E extends keyof AuthEventMap>(event: E): Array<(...args: AuthEventMap[E]) => void>;
}

/**
 * The emitter behind `auth.events`, with listeners isolated from the library: a listener that
 * throws, or returns a promise that rejects, is reported as a process warning
 * (`ERT_LISTENER_ERROR`) and changes nothing else: not the answer, not the cookie, not the process.
 */
class IsolatedEmitter extends EventEmitter<AuthEventMap> {
  override emit<K extends keyof AuthEventMap>(event: K, ...args: AuthEventMap[K]): boolean {
    if (this.listenerCount(event) === 0) return false; // the usual case: no copy of an empty list
    const listeners = this.rawListeners(event) as Array<(...values: AuthEventMap[K]) => unknown>;
    for (const listener of listeners) {
      try {
        const result = listener.apply(this, args);
        if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
          (result as PromiseLike<unknown>).then(undefined, (error: unknown) => reportListenerError(String(event), error));
        }
      } catch (error) {
        reportListenerError(String(event), error);
      }
    }
    return listeners.length > 0;
  }
}

function reportListenerError(event: string, error: unknown): void {
  const reason = error instanceof Error ? error.message : String(error);
  process.emitWarning(`A listener of auth.events '${event}' threw: ${reason}. The library went on as if it had not.`, {
    code: 'ERT_LISTENER_ERROR',
  });
}

/** Creates the emitter behind `auth.events`. */
export function createAuthEvents(): AuthEvents {
  return new IsolatedEmitter();
}
