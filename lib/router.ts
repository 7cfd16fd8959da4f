// The mountable router: login, refresh, logout, logout-all and session management over HTTP.
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { REGISTERED_CLAIMS, type AccessTokenCodec } from './access-token';
import { clearRefreshCookie, readRefreshCookie, setRefreshCookie } from './cookies';
import { csrfGuard } from './csrf';
import { describeValue } from './describe-value';
import { AuthError } from './errors';
import { ensureFallbackErrorHandler, httpStatusOf, toAuthError } from './error-handling';
import type { AuthEvents, SessionEvent } from './events';
import type { AuthenticateResult, Configuration } from './options';
import { jsonObjectBody } from './request-body';
import type { PresentationResult, SessionService } from './session-service';
import type { SessionRecord } from './store/session-store';

/** Everything the router needs from the auth instance. */
export interface RouterDeps {
  config: Configuration;
  codec: AccessTokenCodec;
  sessions: SessionService;
  events: AuthEvents;
  requireAuth: RequestHandler;
}

type Handler = (req: Request, res: Response) => Promise<void>;

/** Statuses an error thrown by `authenticate` may carry to mean "no such user / wrong password". */
const CREDENTIAL_ERROR_STATUSES = new Set([401, 403, 404]);

function invalidRefreshToken(): AuthError {
  return new AuthError('invalid_refresh_token', 401, 'The refresh token is missing, invalid, expired or revoked');
}

function sessionEvent(req: Request, session: SessionRecord): SessionEvent {
  return { userId: session.userId, sessionId: session.sessionId, ip: req.ip, userAgent: req.get('user-agent') };
}

/** Runs the app's `authenticate` and checks what it returns; wrong credentials become 401. */
async function authenticateUser(config: Configuration, req: Request): Promise<Required<AuthenticateResult>> {
  let result: AuthenticateResult | null;
  try {
    result = await config.authenticate(req);
  } catch (error) {
    const status = httpStatusOf(error);
    if ((status !== undefined && CREDENTIAL_ERROR_STATUSES.has(status)) || (error as Error | null)?.name === 'NotFoundError') result = null;
    else throw error;
  }
  if (result === null || result === undefined) {
    throw new AuthError('invalid_credentials', 401, 'Invalid credentials');
  }
  if (typeof result !== 'object' || typeof result.userId !== 'string' || result.userId === '' || result.userId.length > 256) {
    throw new TypeError(`authenticate must return { userId: string, claims? } or null; received userId ${describeValue((result as AuthenticateResult | undefined)?.userId)}. Convert ids with String(id).`);
  }
  const claims = result.claims ?? {};
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
    throw new TypeError(`authenticate returned claims that are ${describeValue(claims)}; return a plain object like { role: 'admin' }.`);
  }
  const reserved = Object.keys(claims).filter((name) => REGISTERED_CLAIMS.has(name));
  if (reserved.length > 0) {
    throw new TypeError(`authenticate returned reserved claim names (${reserved.join(', ')}); the library sets those itself. Rename them.`);
  }
  return { userId: result.userId, claims };
}

/**
 * Builds the router. It parses its own JSON bodies and cookies, marks every answer
 * `Cache-Control: no-store`, and passes every failure to `next(err)` as an AuthError.
 */
export function createAuthRouter(deps: RouterDeps): Router {
  const { config, codec, sessions, events, requireAuth } = deps;
  const router = express.Router();
  const csrf = csrfGuard(config.csrf);

  const route = (operation: string, handler: Handler): RequestHandler =>
    function routeHandler(req, res, next) {
      handler(req, res).catch((error: unknown) => next(toAuthError(error, operation, events)));
    };

  const sendTokens = (req: Request, res: Response, session: SessionRecord, refreshToken: string): void => {
    const now = Date.now();
    const { sessionId, userId, claims, expiresAt } = session;
    const access = codec.issue({ userId, sessionId, claims, now, sessionExpiresAt: expiresAt });
    setRefreshCookie(req, res, config.cookie, refreshToken, expiresAt - now);
    res.status(200).json({ accessToken: access.token, tokenType: 'Bearer', expiresIn: access.expiresIn });
  };

  /** Reports what a presentation did to a family that was not simply rotated. */
  const reportEnded = (req: Request, result: PresentationResult, reason: 'logout' | 'new_login'): void => {
    if (result.status === 'reuse') events.emit('reuse_detected', sessionEvent(req, result.session));
    if (result.status !== 'revoked') return;
    if (reason === 'logout') events.emit('logout', sessionEvent(req, result.session));
    else events.emit('session_revoked', { userId: result.session.userId, sessionId: result.session.sessionId, reason });
  };

  router.use(function prepareAuthResponse(req: Request, res: Response, next: NextFunction) {
    ensureFallbackErrorHandler(req.app);
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.post('/login', csrf, ...jsonObjectBody(config.bodyLimit), route('login', async (req, res) => {
    const user = await authenticateUser(config, req);
    const { session, refreshToken } = await sessions.start(user, req.get('user-agent'));
    // The old family ends only once the new one exists, so a 503 leaves the client a working cookie.
    const held = readRefreshCookie(req, config.cookie.name);
    if (held.status === 'present') {
      const ended = await sessions.present(held.value, 'revoke').catch(async (error: unknown) => {
        await sessions.revoke(session.sessionId).catch(() => undefined);
        throw error;
      });
      reportEnded(req, ended, 'new_login');
    }
    sendTokens(req, res, session, refreshToken);
    events.emit('login', sessionEvent(req, session));
  }));

  router.post('/refresh', csrf, route('refresh', async (req, res) => {
    const held = readRefreshCookie(req, config.cookie.name);
    const result = held.status === 'present' ? await sessions.present(held.value, 'rotate') : undefined;
    if (result?.status === 'rotated' || result?.status === 'retried') {
      sendTokens(req, res, result.session, result.refreshToken);
      events.emit('refresh', { ...sessionEvent(req, result.session), retried: result.status === 'retried' });
      return;
    }
    if (result?.status === 'reuse') events.emit('reuse_detected', sessionEvent(req, result.session));
    clearRefreshCookie(req, res, config.cookie);
    throw invalidRefreshToken();
  }));

  router.post('/logout', csrf, route('logout', async (req, res) => {
    const held = readRefreshCookie(req, config.cookie.name);
    if (held.status === 'present') reportEnded(req, await sessions.present(held.value, 'revoke'), 'logout');
    clearRefreshCookie(req, res, config.cookie);
    res.status(204).end();
  }));

  router.post('/logout-all', requireAuth, route('logout-all', async (req, res) => {
    await sessions.revokeUser(req.auth!.userId);
    clearRefreshCookie(req, res, config.cookie);
    res.status(204).end();
  }));

  router.get('/sessions', requireAuth, route('list-sessions', async (req, res) => {
    const { userId, sessionId } = req.auth!;
    const records = await config.store.listSessions(userId);
    res.json({
      sessions: records.map((record) => ({
        id: record.sessionId,
        createdAt: new Date(record.createdAt).toISOString(),
        lastUsedAt: new Date(record.lastUsedAt).toISOString(),
        expiresAt: new Date(record.expiresAt).toISOString(),
        userAgent: record.userAgent,
        current: record.sessionId === sessionId,
      })),
    });
  }));

  router.delete('/sessions/:id', requireAuth, route('revoke-session', async (req, res) => {
    const { userId, sessionId } = req.auth!;
    const target = String(req.params.id);
    const record = await config.store.getSession(target);
    if (!record || record.userId !== userId) throw new AuthError('session_not_found', 404, 'No such session');
    await sessions.revokeSession(target, 'user_request');
    if (target === sessionId) clearRefreshCookie(req, res, config.cookie);
    res.status(204).end();
  }));

  router.use(function authRouterErrors(error: unknown, _req: Request, _res: Response, next: NextFunction) {
    next(toAuthError(error, 'router', events));
  });

  return router;
}
