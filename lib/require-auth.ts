// requireAuth(): the middleware that checks access tokens on protected routes (RFC 6750).
import type { NextFunction, Request, Response } from 'express';
import { appClaims, type AccessTokenCodec, type AccessTokenPayload } from './access-token';
import { describeValue } from './describe-value';
import { AuthError } from './errors';
import { ensureFallbackErrorHandler, toAuthError } from './error-handling';
import type { AuthEvents } from './events';
import type { SessionStore } from './store/session-store';

/** What `requireAuth()` puts on `req.auth`. */
export interface AuthInfo {
  /** The user id (`sub`). */
  userId: string;
  /** The session id (`sid`), as listed by `GET /sessions`. */
  sessionId: string;
  /** The app's extra claims, as returned by `authenticate`. */
  claims: Record<string, unknown>;
  /** The whole verified JWT payload. */
  payload: AccessTokenPayload;
}

/** Options for `auth.requireAuth()`. */
export interface RequireAuthOptions {
  /** Let requests without any token through (with no `req.auth`); a bad token is still refused. Defaults to `false`. */
  optional?: boolean;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const BEARER_SCHEME = /^bearer(\s|$)/i;

/** Everything requireAuth needs from the auth instance. */
export interface RequireAuthDeps {
  codec: AccessTokenCodec;
  store: SessionStore;
  events: AuthEvents;
  realm: string;
}

/** Builds the 401 for a missing token (no error code) or a bad one (`invalid_token`), per RFC 6750. */
export function bearerChallenge(realm: string, invalid: boolean): AuthError {
  return invalid
    ? new AuthError('invalid_token', 401, 'The access token is invalid, expired or revoked', {
        headers: { 'WWW-Authenticate': `Bearer realm="${realm}", error="invalid_token"` },
      })
    : new AuthError('invalid_token', 401, 'An access token is required', {
        headers: { 'WWW-Authenticate': `Bearer realm="${realm}"` },
      });
}

/**
 * Creates the middleware. It verifies the bearer token's signature, algorithm, type and claims,
 * refuses tokens of revoked sessions (a store that cannot answer means 503, never "not revoked"),
 * sets `req.auth` and calls `next()`; every failure goes to `next(err)` as an {@link AuthError}.
 */
export function createRequireAuth(deps: RequireAuthDeps, options: RequireAuthOptions = {}) {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`requireAuth: options must be an object like { optional: true }; received ${describeValue(options)}.`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'optional') throw new TypeError(`requireAuth: \`${key}\` is not an option. The only option is \`optional\`.`);
  }
  if (options.optional !== undefined && typeof options.optional !== 'boolean') {
    throw new TypeError(`requireAuth: \`optional\` must be a boolean; received ${describeValue(options.optional)}.`);
  }
  const optional = options.optional === true;

  return async function requireAuthMiddleware(req: Request, _res: Response, next: NextFunction): Promise<void> {
    ensureFallbackErrorHandler(req.app);
    const header = req.headers.authorization;
    const match = header === undefined ? null : BEARER.exec(header);
    if (!match) {
      // Another scheme (or none) is "no token"; a Bearer header we cannot read is a bad token.
      const presented = header !== undefined && BEARER_SCHEME.test(header);
      return next(presented ? bearerChallenge(deps.realm, true) : optional ? undefined : bearerChallenge(deps.realm, false));
    }
    let payload: AccessTokenPayload;
    try {
      payload = deps.codec.verify(match[1] as string);
    } catch {
      return next(bearerChallenge(deps.realm, true));
    }
    try {
      if (await deps.store.isRevoked(payload.sid)) return next(bearerChallenge(deps.realm, true));
    } catch (error) {
      return next(toAuthError(error, 'isRevoked', deps.events));
    }
    req.auth = { userId: payload.sub, sessionId: payload.sid, claims: appClaims(payload), payload };
    next();
  };
}
