// The typed events auth.events emits: hooks for audit logs and alerting.
import { EventEmitter } from 'node:events';

/** Who did something to which session, and from where. */
export interface SessionEvent {
  userId: string;
  sessionId: string;
  /** `req.ip` of the request (mind Express' `trust proxy`). */
  ip: string | undefined;
  userAgent: string | undefined;
}

/** Why a session was revoked. */
export type RevocationReason = 'api' | 'user_request' | 'new_login';

/** Every event and its arguments. */
export interface AuthEventMap {
  /** A login created a session. */
  login: [SessionEvent];
  /** A refresh token was rotated; `retried` when it was a repeat inside the grace window. */
  refresh: [SessionEvent & { retried: boolean }];
  /** An earlier refresh token of a family was presented: the family was revoked. Alert on this. */
  reuse_detected: [SessionEvent];
  /** A client logged out and its session ended. */
  logout: [SessionEvent];
  /** One session was revoked by `auth.revokeSession`, `DELETE /sessions/:id`, or a new login. */
  session_revoked: [{ userId: string; sessionId: string; reason: RevocationReason }];
  /** Every session of a user was revoked (`auth.revokeUser` or `POST /logout-all`). */
  user_revoked: [{ userId: string; sessionIds: string[] }];
  /** The store failed; the request was answered 503. `error` never contains a token. */
  store_error: [{ operation: string; error: Error }];
}

/** `auth.events`: an EventEmitter typed by {@link AuthEventMap}. Listeners that throw never affect a request. */
export type AuthEvents = EventEmitter<AuthEventMap>;

/**
 * The emitter behind `auth.events`, with listeners isolated from the library: a listener that
 * throws, or returns a promise that rejects, is reported as a process warning
 * (`ERT_LISTENER_ERROR`) and changes nothing else: not the answer, not the cookie, not the process.
 */
class IsolatedEmitter extends EventEmitter<AuthEventMap> {
  override emit<K extends keyof AuthEventMap>(event: K, ...args: AuthEventMap[K]): boolean {
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
