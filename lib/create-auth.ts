// createAuth(): validates the options once and wires the router, requireAuth, events and the API.
import type { RequestHandler, Router } from 'express';
import { createAccessTokenCodec } from './access-token';
import { StoreUnavailableError } from './errors';
import { createAuthEvents, type AuthEvents } from './events';
import { resolveOptions, type AuthOptions } from './options';
import { VerifiedTokenCache } from './verified-token-cache';
import { createRequireAuth, type RequireAuthOptions } from './require-auth';
import { createAuthRouter } from './router';
import { buildJwks, type Jwks } from './jwks';
import { createRateLimiters } from './rate-limit';
import { SessionService } from './session-service';
import { rateLimitBackendOf } from './store/redis-store';
import type { SessionRecord } from './store/session-store';

/** What `createAuth` returns. */
export interface Auth {
  /** Mount it: `app.use('/auth', auth.router)`. Serves login, refresh, logout and session routes. */
  router: Router;
  /**
   * Middleware for protected routes: sets `req.auth` or passes a 401 `AuthError` to `next(err)`.
   * @example app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
   */
  requireAuth(options?: RequireAuthOptions): RequestHandler;
  /** Ends one session: its refresh token stops working and its access tokens are refused. Resolves with whether it existed. */
  revokeSession(sessionId: string): Promise<boolean>;
  /**
   * Ends every session of a user (e.g. after a password change), including logins that are in
   * flight while it runs. Resolves with the ended session ids.
   */
  revokeUser(userId: string): Promise<string[]>;
  /** The user's live sessions, oldest first. */
  listSessions(userId: string): Promise<SessionRecord[]>;
  /**
   * Resolves once this instance can check access tokens without waiting: its revocation feed has
   * loaded from the store. Optional (the first requests wait for it anyway); handy in a readiness
   * probe or before `app.listen`. Rejects with a `StoreUnavailableError` when the store does not answer in time.
   * @example await auth.ready(); app.listen(3000);
   */
  ready(): Promise<void>;
  /** The public keys that verify access tokens, as served at `{mount}/.well-known/jwks.json` (`{ keys: [] }` for HS*). */
  jwks: Jwks;
  /** Typed events: `login`, `refresh`, `reuse_detected`, `logout`, `session_revoked`, `user_revoked`, `store_error`. */
  events: AuthEvents;
  /**
   * Stops what this instance owns: its revocation feed's subscription and timers. It never closes
   * the store's Redis client, which is yours (closing that client also stops the feed).
   */
  close(): Promise<void>;
}

function requireId(method: string, name: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`auth.${method}: \`${name}\` must be a non-empty string; received ${typeof value}.`);
  }
}

/**
 * Creates an auth instance. Synchronous; validates every option at once and throws a
 * `TypeError`/`RangeError` that names the option and says how to fix it.
 *
 * @example
 * const auth = createAuth({
 *   store: new RedisStore({ client: new Redis(process.env.REDIS_URL), prefix: 'auth:' }),
 *   accessToken: { algorithm: 'HS256', secret: process.env.ACCESS_TOKEN_SECRET, ttl: '10m' },
 *   refreshToken: { secret: process.env.REFRESH_TOKEN_SECRET },
 *   authenticate: async (req) => {
 *     const user = await users.check(req.body.username, req.body.password);
 *     return user ? { userId: user.id } : null;
 *   },
 * });
 * app.use('/auth', auth.router);
 * app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
 */
export function createAuth(options: AuthOptions): Auth {
  const config = resolveOptions(options);
  const jwks = buildJwks(config.accessToken);
  const events = createAuthEvents();
  const codec = createAccessTokenCodec(config.accessToken);
  const verified = new VerifiedTokenCache();
  const sessions = new SessionService(config, events);
  const backend = rateLimitBackendOf(config.store);
  const rateLimiters = createRateLimiters(config.rateLimit, backend?.client, backend?.prefix ?? '', { commandTimeoutMs: backend?.commandTimeoutMs });
  const requireAuth = (requireOptions?: RequireAuthOptions): RequestHandler =>
    createRequireAuth({ codec, verified, feed: sessions.feed, events, realm: config.realm }, requireOptions);

  /** Runs a store operation for the programmatic API, reporting outages as `store_error` events. */
  const withStore = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof StoreUnavailableError) events.emit('store_error', { operation, error });
      throw error;
    }
  };

  return {
    router: createAuthRouter({ config, codec, sessions, events, requireAuth: requireAuth(), rateLimiters, jwks }),
    jwks,
    requireAuth,
    events,
    ready: () => sessions.feed.ready(),
    async revokeSession(sessionId) {
      requireId('revokeSession', 'sessionId', sessionId);
      return (await withStore('revokeSession', () => sessions.revokeSession(sessionId, 'api'))) !== null;
    },
    async revokeUser(userId) {
      requireId('revokeUser', 'userId', userId);
      return withStore('revokeUser', () => sessions.revokeUser(userId));
    },
    listSessions(userId) {
      requireId('listSessions', 'userId', userId);
      return withStore('listSessions', () => sessions.listSessions(userId));
    },
    close() {
      // The revocation feed (its subscription and timers) is this instance's; the store's client is yours.
      rateLimiters.close();
      return sessions.close();
    },
  };
}
