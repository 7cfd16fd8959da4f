// createAuth(): validates the options once and wires the router, requireAuth, events and the API.
import type { RequestHandler, Router } from 'express';
import { checkUpdatedClaims, immediateOf, type UpdateClaimsOptions } from './claims-update-arguments';
import { ErrorCodes, StoreUnavailableError } from './errors';
import { type AuthEvents, createAuthEvents } from './events';
import { type Jwks, PublishedKeys } from './http/jwks';
import { createRateLimiters } from './http/rate-limit';
import { createRequireAuth, type RequireAuthOptions } from './http/require-auth';
import { createAuthRouter } from './http/router';
import { presentedToken } from './http/token-transport';
import { createHealthHandler, type HealthReport, healthReport } from './observability/health';
import { watchState } from './observability/state-watch';
import { createTelemetry } from './observability/telemetry';
import { configurationError } from './option-checks';
import { type AuthOptions, resolveOptions } from './options';
import { revocationChannelKey } from './revocation/revocation-channel-mac';
import type { ClaimsUpdate } from './sessions/claims-update';
import { SessionService } from './sessions/session-service';
import type { SessionRecord } from './store/session-store';
import { createAccessTokenCodec } from './tokens/access-token';
import { VERIFIED_TOKEN_CACHE_SIZE, VerifiedTokenCache } from './tokens/verified-token-cache';

/**
 * What `createAuth` returns: the router to mount, the `requireAuth` middleware, the session API
 * (`revokeSession`, `revokeUser`, `updateClaims`, `listSessions`), the JWKS, the events, the health check and `close`.
 *
 * @example
 * ```ts
 * import type { Express } from 'express';
 * import type { Auth } from 'express-refresh-tokens';
 *
 * export function mountAuth(app: Express, auth: Auth): void {
 *   app.use('/auth', auth.router);
 *   app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
 *   auth.events.on('reuse_detected', (event) => alertSecurityTeam(event));
 * }
 * ```
 */
export interface Auth {
  /**
   * The routes to mount: `POST /login`, `/refresh`, `/logout`, `/logout-all`, `GET /sessions`,
   * `DELETE /sessions/:id` and `GET /.well-known/jwks.json`. It parses its own JSON body and cookies.
   *
   * @example
   * ```ts
   * app.use('/auth', auth.router); // POST /auth/login, POST /auth/refresh, ...
   * ```
   */
  router: Router;
  /**
   * Middleware for protected routes: sets `req.auth` or passes a 401 `AuthError` to `next(err)`.
   * A bad or missing token is a 401 (RFC 6750), a malformed `Authorization` header a 400, and a
   * revocation feed that cannot vouch for itself a 503.
   *
   * @param options - `{ optional: true }` lets requests without a token through, without `req.auth`.
   * @returns An Express middleware; all of them share the instance's cache of verified tokens.
   * @throws `TypeError` (code `ERR_UNKNOWN_OPTION` or `ERR_INVALID_OPTION`) for an unknown or mistyped option.
   *
   * @example
   * ```ts
   * app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
   * app.get('/api/feed', auth.requireAuth({ optional: true }), (req, res) => {
   *   res.json({ personalised: req.auth !== undefined });
   * });
   * ```
   */
  requireAuth(options?: RequireAuthOptions): RequestHandler;
  /**
   * Ends one session: its refresh token stops working and its access tokens are refused. Resolves with whether it existed.
   * Emits `session_revoked` with `reason: 'api'` when it did.
   *
   * @param sessionId - The session's id: `req.auth.sessionId`, or `sessionId` of a {@link SessionRecord}.
   * @returns `true` if the session was live, `false` if there was none (already ended or expired).
   * @throws `TypeError` with code `ERR_INVALID_ARGUMENT` (as a rejection) for an empty or non-string id;
   * a {@link StoreUnavailableError} when the store does not answer in time (also a `store_error` event).
   *
   * @example
   * ```ts
   * app.delete('/admin/sessions/:id', auth.requireAuth(), async (req, res) => {
   *   if (req.auth?.claims.role !== 'admin') {
   *     res.sendStatus(403);
   *     return;
   *   }
   *   res.sendStatus((await auth.revokeSession(String(req.params.id))) ? 204 : 404);
   * });
   * ```
   */
  revokeSession(sessionId: string): Promise<boolean>;
  /**
   * Ends every session of a user (e.g. after a password change), including logins that are in
   * flight while it runs. Resolves with the ended session ids. Emits `user_revoked`.
   *
   * @param userId - The user's id, as `authenticate` returned it.
   * @returns The ids of the sessions it ended (empty when the user had none).
   * @throws `TypeError` with code `ERR_INVALID_ARGUMENT` (as a rejection) for an empty or non-string id;
   * a {@link StoreUnavailableError} when the store does not answer in time (also a `store_error` event).
   *
   * @example
   * ```ts
   * async function changePassword(userId: string, newPassword: string): Promise<void> {
   *   await users.setPassword(userId, newPassword);
   *   const ended = await auth.revokeUser(userId); // every device signs in again
   *   log.info({ userId, ended: ended.length }, 'sessions ended after a password change');
   * }
   * ```
   */
  revokeUser(userId: string): Promise<string[]>;
  /**
   * Changes the claims of every live session of a user (a new role, a tenant added): the next refresh
   * of each session carries them, with a `claims_time` claim saying when they changed. Pass one
   * object for every session, or a function called in this process once per live session with that
   * session's current claims (sessions can differ) and its record. Every session's claims are checked
   * before any is written, under `authenticate`'s rules plus plain JSON. Logins that were in flight
   * during the call are caught up (the user's sessions are listed again until none has older claims).
   * Emits `claims_updated`.
   *
   * Without `immediate`, access tokens already issued keep their claims until they expire (at most
   * `accessToken.ttl`). With `{ immediate: true }`, every access token of the user issued before the
   * change is refused on every instance sharing the store, within the revocation feed's propagation
   * time (under 100 ms, with no store round trip per request, like `revokeUser`): each client refreshes
   * once and gets the new claims (the browser client does it silently, without a sign-out). Sessions
   * are never ended by it, and the user's other tokens are unaffected once refreshed.
   *
   * @param userId - The user's id, as `authenticate` returned it.
   * @param claims - The new claims (replacing the old ones, not merged), or `(current, session) => claims`.
   * @param options - `{ immediate: true }` to refuse the user's older access tokens at once; default `false`.
   * @returns The ids of the sessions updated (empty when the user has none).
   * @throws `TypeError` with code `ERR_INVALID_ARGUMENT` (as a rejection) for a bad id, claims that are not a plain
   * JSON object, use reserved (`sub`, `sid`, `auth_time`, `claims_time`, …) or prototype names, or would make a token
   * too large for an `Authorization` header; nothing is written then. `ERR_INCOMPATIBLE_OPTIONS` when a custom store
   * lacks `updateClaims` (or, with `immediate`, `markClaimsChanged`); a {@link StoreUnavailableError} when the store does not answer in time.
   *
   * @example
   * ```ts
   * async function promote(userId: string): Promise<void> {
   *   await users.setRole(userId, 'admin');
   *   // Every device gets the new role at its next refresh; with immediate, at its next request.
   *   await auth.updateClaims(userId, (current) => ({ ...current, role: 'admin' }), { immediate: true });
   * }
   * ```
   */
  updateClaims(userId: string, claims: ClaimsUpdate, options?: UpdateClaimsOptions): Promise<string[]>;
  /**
   * The user's live sessions, oldest first, every one of them (times are epoch milliseconds).
   *
   * @param userId - The user's id, as `authenticate` returned it.
   * @returns One {@link SessionRecord} per live session; empty when the user has none.
   * @throws `TypeError` with code `ERR_INVALID_ARGUMENT`, synchronously, for an empty or non-string id;
   * a {@link StoreUnavailableError} (as a rejection) when the store does not answer in time.
   *
   * @example
   * ```ts
   * app.get('/api/devices', auth.requireAuth(), async (req, res) => {
   *   const sessions = await auth.listSessions(req.auth!.userId);
   *   res.json(sessions.map((s) => ({ id: s.sessionId, userAgent: s.userAgent, lastUsedAt: new Date(s.lastUsedAt) })));
   * });
   * ```
   */
  listSessions(userId: string): Promise<SessionRecord[]>;
  /**
   * Resolves once this instance can check access tokens without waiting: its revocation feed has
   * loaded from the store. Optional (the first requests wait for it anyway); handy in a readiness
   * probe or before `app.listen`. Rejects with a `StoreUnavailableError` when the store does not answer in time.
   *
   * @throws {@link StoreUnavailableError} (as a rejection, code `ERR_REVOCATION_FEED_NOT_LOADED`) when the
   * feed cannot load within the store's `commandTimeoutMs`. Its message says why (`connection refused
   * (connect ECONNREFUSED 127.0.0.1:6379)`, a password Redis wants, no answer), and its `cause` is the
   * underlying error when there is one.
   *
   * @example
   * ```ts
   * await auth.ready();
   * app.listen(3000);
   * ```
   */
  ready(): Promise<void>;
  /**
   * The public keys that verify access tokens, as served at `{mount}/.well-known/jwks.json` (`{ keys: [] }` for HS*):
   * those not yet past their `notAfter`, read at each access.
   *
   * @example
   * ```ts
   * console.log('access tokens are checked with', auth.jwks.keys.map((key) => key.kid));
   * ```
   */
  jwks: Jwks;
  /**
   * Typed events: `login`, `refresh`, `reuse_detected`, `logout`, `session_revoked`, `user_revoked`, `claims_updated`, `store_error`, `logout_abandoned`,
   * and the instance's state changes, each said once (also as a line to the `logger` option): `feed_untrusted`, `feed_trusted`,
   * `store_circuit_open`, `store_circuit_closed`, `feed_reloaded`, `store_data_lost`.
   * A listener that throws or rejects never changes an answer (see {@link AuthEventMap}).
   *
   * @example
   * ```ts
   * auth.events.on('reuse_detected', ({ userId, sessionId, ip }) => log.warn({ userId, sessionId, ip }, 'refresh token replayed'));
   * auth.events.on('store_error', ({ operation, error }) => log.error({ operation, code: error.code }, error.message));
   * ```
   */
  events: AuthEvents;
  /**
   * The instance's health now, in the shape of the IETF health-check draft: `status` is `fail` exactly
   * when `requireAuth` answers 503 (the revocation feed is not loaded, or stale), `warn` when something
   * needs a look (the feed past half of `revocation.maxStaleness`, a gap-reload or a loss of the store's
   * data in the last minute, the store's circuit open, Redis' clock more than 1 s off), `pass` otherwise.
   * Synchronous, with no store round trip. See {@link HealthReport} for the checks.
   *
   * @example
   * ```ts
   * const report = auth.health();
   * if (report.status !== 'pass') console.warn(JSON.stringify(report.checks));
   * ```
   */
  health(): HealthReport;
  /**
   * An Express handler answering {@link Auth.health} as `application/health+json`: 200 for `pass` and
   * `warn`, 503 for `fail`, `Cache-Control: no-store`. Mount it where your readiness probe looks, not on
   * the public router (its words may name Redis' host and port). Keep liveness free of Redis.
   *
   * @example
   * ```ts
   * app.get('/health/ready', auth.healthHandler()); // readiness: 503 while protected routes answer 503
   * app.get('/health/live', (_req, res) => res.sendStatus(200)); // liveness: never depends on Redis
   * ```
   */
  healthHandler(): RequestHandler;
  /**
   * Shuts the instance down without losing a rotation. From the call on, a login, refresh or logout
   * that arrives answers 503 `temporarily_unavailable` with `Retry-After` (cause code
   * `ERR_SHUTTING_DOWN`; a refresh keeps its cookie, a logout clears it as on any 503 and its session
   * is reported as `logout_abandoned`, reason `'closed'`). Those already under way finish first, each
   * answered 200 or a clean 503, within the store's time budget (RedisStore: its `commandTimeoutMs`
   * per command; a custom store's operations take as long as they take). Then it stops what this
   * instance owns: its revocation feed's subscription and timers, the throttling's timers, and the
   * background retries of logouts that answered 503 (each one still pending is reported as
   * `logout_abandoned`, reason `'closed'`). It never rejects; called again, it waits for the same
   * shutdown. It never closes the store's Redis client, which is yours: once it has resolved, nothing of
   * this instance uses that client, and you can quit it.
   *
   * @example
   * ```ts
   * const server = app.listen(3000);
   * process.once('SIGTERM', async () => {
   *   server.close(); // no new connections
   *   await auth.close(); // logins, refreshes and logouts under way finish; new ones answer 503
   *   await redis.quit(); // the client you gave RedisStore
   *   process.exit(0); // keep-alive connections would otherwise hold the process open
   * });
   * ```
   */
  close(): Promise<void>;
  /**
   * The key that authenticates this deployment's revocation channel, for other services'
   * `createVerifier({ revocation: { feedKey } })`: 43 base64url characters, derived one-way from
   * `refreshToken.secret` (it cannot sign an access token nor make a refresh cookie). Keep it like a
   * secret: with it and publish access to Redis, one could forge revocations (refusing tokens) or
   * hide that a verifier's feed is stale.
   *
   * @example
   * ```ts
   * // Once, in the auth service: print it into the other services' secrets.
   * console.log(`REVOCATION_FEED_KEY=${auth.revocationFeedKey()}`);
   * ```
   */
  revocationFeedKey(): string;
}

function requireId(method: string, name: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') {
    throw configurationError('type', ErrorCodes.ERR_INVALID_ARGUMENT, `auth.${method}: \`${name}\` must be a non-empty string; received ${typeof value}.`);
  }
}

/**
 * Creates an auth instance. Synchronous; validates every option at once and throws a
 * `TypeError`/`RangeError` that names the option and says how to fix it, with a stable `code`
 * from {@link ErrorCodes} (`ERR_MISSING_OPTION`, `ERR_INVALID_KEY`, …).
 *
 * @param options - Everything at once: see {@link AuthOptions}; `store`, `accessToken`, `refreshToken`
 * and `authenticate` are required.
 * @returns The auth instance: mount `auth.router`, protect routes with `auth.requireAuth()`.
 * @throws `TypeError` or `RangeError` (a {@link ConfigurationError}) for a missing, unknown or wrong option.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { Redis } from 'ioredis';
 * import { createAuth, RedisStore } from 'express-refresh-tokens';
 *
 * const auth = createAuth({
 *   store: new RedisStore({ client: new Redis(process.env.REDIS_URL ?? 'redis://localhost:6379'), prefix: 'auth:' }),
 *   accessToken: { algorithm: 'HS256', secret: process.env.ACCESS_TOKEN_SECRET ?? '', ttl: '10m' },
 *   refreshToken: { secret: process.env.REFRESH_TOKEN_SECRET ?? '' }, // an empty secret throws, naming the option
 *   authenticate: async (req) => {
 *     const user = await users.check(req.body.username, req.body.password);
 *     return user ? { userId: user.id, claims: { role: user.role } } : null;
 *   },
 * });
 *
 * const app = express();
 * app.use('/auth', auth.router);
 * app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
 * ```
 */
export function createAuth(options: AuthOptions): Auth {
  const config = resolveOptions(options);
  const jwks = new PublishedKeys(config.accessToken);
  const events = createAuthEvents();
  const codec = createAccessTokenCodec(config.accessToken);
  // Emptied when a key retires, so no token verified with it outlives its notAfter.
  const verified = new VerifiedTokenCache(VERIFIED_TOKEN_CACHE_SIZE, config.accessToken.keyNotAfter);
  const sessions = new SessionService(config, events);
  const rateLimiters = createRateLimiters(config.rateLimit, config.store, {
    secret: config.refreshToken.successorKey,
    refreshFamily: (req) => {
      const { token } = presentedToken(req, config.cookie.name);
      return token === undefined ? undefined : sessions.familyOf(token);
    },
  });
  const stateSources = { feed: sessions.feed, store: config.store, maxStalenessMs: config.revocation.maxStalenessMs };
  const health = (): HealthReport => healthReport({ ...stateSources, accessToken: config.accessToken });
  // Reads status() on an unref'd timer and says each change once: nothing per request.
  const stateWatch = watchState({ ...stateSources, events, logger: config.logger });
  // Metrics and spans on the configured (or global) OpenTelemetry providers; nothing with `telemetry: false`.
  const telemetry = createTelemetry(config.telemetry, { events, feed: sessions.feed, store: config.store });
  const requireAuth = (requireOptions?: RequireAuthOptions): RequestHandler =>
    createRequireAuth({ codec, verified, feed: sessions.feed, events, realm: config.realm, telemetry }, requireOptions);

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
    router: createAuthRouter({ config, codec, sessions, events, requireAuth: requireAuth(), rateLimiters, jwks, telemetry }),
    get jwks() {
      return jwks.at(Date.now()).jwks;
    },
    requireAuth,
    events,
    ready: () => sessions.feed.ready(),
    revocationFeedKey: () => revocationChannelKey(config.refreshToken.successorKey).export().toString('base64url'),
    health,
    healthHandler: () => createHealthHandler(health),
    async revokeSession(sessionId) {
      requireId('revokeSession', 'sessionId', sessionId);
      return (await withStore('revokeSession', () => sessions.revokeSession(sessionId, 'api'))) !== null;
    },
    async revokeUser(userId) {
      requireId('revokeUser', 'userId', userId);
      return withStore('revokeUser', () => sessions.revokeUser(userId));
    },
    async updateClaims(userId, claims, options) {
      requireId('updateClaims', 'userId', userId);
      const immediate = immediateOf(options);
      const fromFunction = typeof claims === 'function';
      // The object form is checked at once, before anything is read or written.
      if (!fromFunction) checkUpdatedClaims(codec, userId, claims, false);
      const check = (value: unknown): Record<string, unknown> => checkUpdatedClaims(codec, userId, value, fromFunction);
      return withStore('updateClaims', () => sessions.updateClaims(userId, claims, immediate, check));
    },
    async listSessions(userId) {
      // async like its siblings: a bad id rejects the promise rather than throwing where it is called.
      requireId('listSessions', 'userId', userId);
      return withStore('listSessions', () => sessions.listSessions(userId));
    },
    async close() {
      stateWatch.stop();
      // Operations under way finish first (they may still count against the limits); then the
      // revocation feed (its subscription and timers) and the throttling's timers, which are this
      // instance's, stop. The store's client is yours.
      await sessions.close();
      rateLimiters.close();
      telemetry.close();
    },
  };
}
