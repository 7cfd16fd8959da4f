// The mountable router: login, refresh, logout, logout-all, step-up and session management over HTTP.
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { AuthError } from '../errors';
import type { AuthEvents } from '../events';
import { failureResult, type ObservedOperation, type OperationResults, type RefreshResult } from '../observability/operation-results';
import type { Observation, Telemetry } from '../observability/telemetry';
import type { Configuration } from '../options';
import type { ProofRefused, ProofRequest } from '../sessions/key-binding';
import type { ClientInfo, IssuedSession, RefreshOutcome, SessionService } from '../sessions/session-service';
import { ROUTES, type SessionsResponse, type TokenResponse } from '../shared/protocol';
import type { ProofOfIdentity } from '../shared/verification';
import type { SessionRecord } from '../store/session-store';
import type { AccessTokenCodec, IssuedAccessToken } from '../tokens/access-token';
import { DPOP_ALGORITHMS } from '../tokens/dpop-proof';
import { authenticateUser, invalidCredentials, reauthenticateUser } from './authenticate-user';
import { clearRefreshCookie, presenceCookieExpiry, readCookie, setPresenceCookie, setRefreshCookie } from './cookies';
import { csrfGuard } from './csrf';
import { ensureFallbackErrorHandler, logoutPending, toAuthError } from './error-handling';
import { inSequence } from './in-sequence';
import { jwksHandler, type PublishedKeys } from './jwks';
import { RATE_LIMIT_OFF, type RateLimiters } from './rate-limit';
import { jsonObjectBody } from './request-body';
import { type AuthInfo, bearerChallenge, revokedToken } from './require-auth';
import { presentedToken, type TokenTransport, transportOf } from './token-transport';
import { warnIfProxyUntrusted } from './trust-proxy-warning';

/** Everything the router needs from the auth instance. */
export interface RouterDeps {
  config: Configuration;
  codec: AccessTokenCodec;
  sessions: SessionService;
  events: AuthEvents;
  requireAuth: RequestHandler;
  /** Throttling of failed logins, failed step-ups and refreshes, in front of those routes (logouts are never throttled). */
  rateLimiters: Pick<RateLimiters, 'login' | 'refresh' | 'reauth'>;
  /** The key set published at /.well-known/jwks.json (keys leave it at their `notAfter`). */
  jwks: PublishedKeys;
  /** Where logins, refreshes and logouts are reported (a span each, and metrics). */
  telemetry: Telemetry;
}

type Handler = (req: Request, res: Response) => Promise<void>;

/** A refusal a login, refresh or logout handler passes to `next(err)`, and the result it counts as. */
interface Refusal<R> {
  result: R;
  error: AuthError;
}

/** A login, refresh or logout handler, under its observation: it answers and resolves with its result, or resolves with a refusal, or throws. */
type ObservedHandler<R> = (req: Request, res: Response, observation: Observation<R>) => Promise<R | Refusal<R>>;

/** What a refused refresh counts as. */
const REFRESH_REFUSALS: Record<Exclude<RefreshOutcome['status'], 'rotated' | 'retried' | 'unproven'>, RefreshResult> = {
  invalid: 'invalid',
  expired: 'expired',
  revoked: 'revoked',
  reuse: 'reuse_detected',
};

/** What `requireAuth` put on a request that reached a route mounted behind it. */
function authOf(req: Request): AuthInfo {
  if (req.auth === undefined) throw new Error('unreachable: a route behind requireAuth ran without req.auth');
  return req.auth;
}

function invalidRefreshToken(): AuthError {
  return new AuthError('invalid_refresh_token', 401, 'The refresh token is missing, invalid, expired or revoked');
}

/** The algorithms a proof may be signed with, as the `DPoP` challenge lists them (RFC 9449 §7.1). */
const DPOP_CHALLENGE_ALGORITHMS = DPOP_ALGORITHMS.join(' ');

/**
 * The 401 of a refused device-key proof (RFC 9449 §7.1, §8): `use_dpop_nonce` when only the nonce was
 * wrong or missing, else `invalid_dpop_proof`; a `DPoP` challenge, and the nonce the presented token
 * expects, so a client that lost it can try once more. Nothing is cleared or revoked.
 */
function proofRefusal(refused: ProofRefused): AuthError {
  const code = refused.reason === 'wrong_nonce' ? 'use_dpop_nonce' : 'invalid_dpop_proof';
  const headers: Record<string, string> = { 'WWW-Authenticate': `DPoP error="${code}", algs="${DPOP_CHALLENGE_ALGORITHMS}"` };
  if (refused.nonce !== undefined) headers['DPoP-Nonce'] = refused.nonce;
  return new AuthError(code, 401, `The proof of the device key was refused (${refused.reason})`, { headers });
}

/** The most sessions one page of `GET /sessions` holds, and its default size. */
const MAX_SESSIONS_PAGE = 100;

/** Reads `?limit=` (1 to 100, default 100) and `?cursor=` (an offset this route handed out) strictly. */
function sessionsPage(req: Request): { offset: number; limit: number } {
  const { limit = String(MAX_SESSIONS_PAGE), cursor = '0' } = req.query as Record<string, unknown>;
  const parsedLimit = typeof limit === 'string' && /^\d{1,3}$/.test(limit) ? Number(limit) : NaN;
  const parsedOffset = typeof cursor === 'string' && /^\d{1,5}$/.test(cursor) ? Number(cursor) : NaN;
  if (!(parsedLimit >= 1 && parsedLimit <= MAX_SESSIONS_PAGE) || Number.isNaN(parsedOffset)) {
    throw new AuthError('invalid_request', 400, `limit must be 1 to ${MAX_SESSIONS_PAGE} and cursor one this route returned`);
  }
  return { offset: parsedOffset, limit: parsedLimit };
}

/** How far under the family's deadline a held presence cookie may read and still count as lasting (see sendTokens). */
const PRESENCE_ROUNDING_MS = 2000;

/**
 * Answers 200 with the token response ({@link TokenResponse}) as JSON, written directly rather than
 * through `res.json`: a token response is `no-store`, so Express' ETag (a SHA-1 of the body), its
 * freshness check and its Content-Type lookup are work for nothing on the busiest route. The JSON is
 * spelled out: a signed token is base64url and dots, which JSON needs no escape for, and ASCII, so
 * its length is its length in bytes.
 */
function sendTokenResponse(res: Response, access: IssuedAccessToken, refreshToken: string | undefined): void {
  // A refresh token is base64url and dots too.
  const inBody = refreshToken === undefined ? '' : `,"refreshToken":"${refreshToken}"`;
  const json = `{"accessToken":"${access.token}","tokenType":"Bearer","expiresIn":${JSON.stringify(access.expiresIn)}${inBody}}`;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', json.length);
  res.end(json);
}

/**
 * The transport a login asks for (`tokenTransport` in its body: `'cookie'`, the default, or `'body'`);
 * `'body'` only for a login bound to a device key (`jkt`). Anything else is a 400 that says why.
 */
function requestedTransport(req: Request, jkt: string | undefined): TokenTransport {
  const asked: unknown = (req.body as Record<string, unknown>).tokenTransport;
  if (asked === undefined || asked === 'cookie') return 'cookie';
  if (asked !== 'body') throw new AuthError('invalid_request', 400, "tokenTransport must be 'cookie' (the default) or 'body'");
  if (jkt === undefined) {
    throw new AuthError(
      'invalid_request',
      400,
      "tokenTransport 'body' needs a session bound to a device key: send a DPoP proof with the login (a refresh token outside an HttpOnly cookie must be bound)",
    );
  }
  return 'body';
}

function clientOf(req: Request): ClientInfo {
  return { ip: req.ip, userAgent: req.get('user-agent') };
}

/**
 * Builds the router. It parses its own JSON bodies and cookies, marks every answer
 * `Cache-Control: no-store`, and passes every failure to `next(err)` as an AuthError.
 */
export function createAuthRouter(deps: RouterDeps): Router {
  const { config, codec, sessions, events, requireAuth, rateLimiters, jwks, telemetry } = deps;
  const router = express.Router();
  const csrf = csrfGuard(config.csrf);

  /** A limiter as a step of its route; none at all when the limit is off (a step that only calls `next()` still costs every request). */
  const limited = (limiter: RequestHandler): RequestHandler[] => (limiter === RATE_LIMIT_OFF ? [] : [limiter]);

  /**
   * What every answer of the router starts with: the app's JSON error fallback installed (once per
   * app), the trust-proxy warning checked, and `Cache-Control: no-store` (each answer carries a token,
   * a session list or a refusal of one).
   */
  const prepareAnswer = (req: Request, res: Response): void => {
    ensureFallbackErrorHandler(req.app);
    warnIfProxyUntrusted(req);
    res.setHeader('Cache-Control', 'no-store');
  };

  const route = (operation: string, handler: Handler): RequestHandler =>
    function routeHandler(req, res, next) {
      handler(req, res).catch((error: unknown) => next(toAuthError(error, operation, events)));
    };

  /**
   * A login, refresh or logout route: its steps (the CSRF check, the body parser, the limiter), then
   * its handler, run in turn under one observation (a span; for login and refresh, a metric). It ends
   * with the handler's result, or with the result {@link failureResult} gives the error of any step
   * (a store outage reported under the operation's name).
   */
  const observed = <O extends ObservedOperation>(operation: O, steps: RequestHandler[], handler: ObservedHandler<OperationResults[O]>): RequestHandler => {
    const before = inSequence(steps);
    return function observedRoute(req, res, next) {
      prepareAnswer(req, res);
      const observation = telemetry.begin(operation);
      const fail = (error: unknown): void => {
        const failure = toAuthError(error, operation, events);
        observation.end(failureResult(operation, failure), failure);
        next(failure);
      };
      const answered = (outcome: OperationResults[O] | Refusal<OperationResults[O]>): void => {
        if (typeof outcome === 'string') return observation.end(outcome);
        observation.end(outcome.result, outcome.error);
        next(outcome.error);
      };
      before(req, res, (error?: unknown) => {
        if (error !== undefined) return fail(error);
        handler(req, res, observation).then(answered, fail);
      });
    };
  };

  /** An access token for a session, dated `now` (the store's clock). */
  const accessTokenFor = (session: SessionRecord, now: number): IssuedAccessToken => {
    const { sessionId, userId, claims, expiresAt, createdAt, claimsUpdatedAt, verification } = session;
    return codec.issue({ userId, sessionId, claims, now, sessionExpiresAt: expiresAt, authTime: createdAt, claimsTime: claimsUpdatedAt, verification });
  };

  /**
   * Answers with an access token and sets the refresh cookie, and the presence cookie at login (a new
   * family) or when the one the browser holds would die before the new refresh cookie. Its value is
   * the day it expires, rounded up from the family's deadline, so it never reads under it; a value
   * up to 2 s under the deadline is also taken as current (a value in whole seconds, floored, from a
   * Max-Age also floored, as earlier builds wrote it).
   */
  const sendTokens = (req: Request, res: Response, issued: IssuedSession, newFamily: boolean, transport: TokenTransport): void => {
    // The store's clock (Redis': the session's times are its), so no instance's clock skews a token's life.
    const now = sessions.now();
    const { expiresAt, absoluteExpiresAt } = issued.session;
    const access = accessTokenFor(issued.session, now);
    if (issued.nonce !== undefined) res.setHeader('DPoP-Nonce', issued.nonce);
    if (transport === 'body') return sendTokenResponse(res, access, issued.refreshToken);
    setRefreshCookie(req, res, config.cookie, issued.refreshToken, expiresAt - now);
    if (newFamily || presenceCookieExpiry(req, config.cookie) < expiresAt - PRESENCE_ROUNDING_MS) setPresenceCookie(res, config.cookie, absoluteExpiresAt, now);
    sendTokenResponse(res, access, undefined);
  };

  /**
   * The first step of `/refresh` and `/logout`: a request that sends its token in the body (a client
   * without cookies) gets its JSON body parsed, and no CSRF check (no cookie is involved: a page of
   * another site has no token to put there, nor the key to prove it); a request with the cookie gets
   * the CSRF check.
   */
  const parseJson = inSequence(jsonObjectBody(config.bodyLimit));
  const byTransport: RequestHandler = function tokenTransport(req, res, next) {
    const step = transportOf(req, config.cookie.name) === 'body' ? parseJson : csrf;
    step(req, res, next);
  };

  /**
   * What the request shows of a device-key proof: its `DPoP` header, and the request it must name:
   * the `origin` option's URL of the route when set, never the `Host` header.
   */
  const proofOf = (req: Request): ProofRequest => {
    const path = req.baseUrl + req.path;
    return { header: req.headers.dpop, method: req.method, url: config.origin === undefined ? undefined : config.origin + path, path };
  };

  /** The refresh cookie's value, or undefined when absent or duplicated (cookie tossing). */
  const heldCookie = (req: Request): string | undefined => {
    const held = readCookie(req, config.cookie.name);
    return held.status === 'present' ? held.value : undefined;
  };

  // Refresh, the busiest route, is matched first; it, login and logout prepare their own answers.
  router.post(
    ROUTES.refresh,
    observed('refresh', [byTransport, ...limited(rateLimiters.refresh)], async (req, res) => {
      const { transport, token } = presentedToken(req, config.cookie.name);
      const outcome = await sessions.refresh(token, clientOf(req), () => proofOf(req), transport === 'body');
      if (outcome.status === 'rotated' || outcome.status === 'retried') {
        sendTokens(req, res, outcome, false, transport);
        return outcome.status;
      }
      // A refused proof changes nothing, the cookie included: whoever holds only a copy of it must not sign its owner out.
      if (outcome.status === 'unproven') return { result: 'invalid_proof', error: proofRefusal(outcome) };
      if (transport === 'cookie') clearRefreshCookie(req, res, config.cookie);
      return { result: REFRESH_REFUSALS[outcome.status], error: invalidRefreshToken() };
    }),
  );

  // The limiters run after the CSRF check (a hostile page cannot spend an office's quota) and, for
  // login, after the body parser (they count per username).
  router.post(
    ROUTES.login,
    observed('login', [csrf, ...jsonObjectBody(config.bodyLimit), ...limited(rateLimiters.login)], async (req, res, observation) => {
      // A proof sent is checked before the credentials: a client that meant to bind its session learns at once that it cannot.
      const binding = sessions.binding.forLogin(proofOf(req), clientOf(req));
      if ('status' in binding) return { result: 'invalid_proof', error: proofRefusal(binding) };
      const transport = requestedTransport(req, binding.jkt);
      // Taken before `authenticate` runs, so a revokeUser during a slow credential check ends this login
      // too; and after the feed has loaded, so a store's first epoch never postdates its first logins.
      // On the store's clock, as revokeUser marks and the epoch are, whatever this instance's clock says.
      await sessions.feed.ready();
      const loginStartedAt = await sessions.loginStart();
      // The app's code runs with the login span active: its spans (a directory lookup) are the span's children.
      const user = await observation.around(() => authenticateUser(config, codec, req));
      const issued = await sessions.login(user, loginStartedAt, clientOf(req), heldCookie(req), binding.jkt);
      if (!issued) throw invalidCredentials();
      sendTokens(req, res, issued, true, transport);
      return 'success';
    }),
  );

  // No throttling: a logout must never be refused because of others' traffic from the same address,
  // and throttling protects nothing here. A cookie that is not one this server issued (forged,
  // garbled, tossed) is refused by its MAC in SessionService.logout before the store is asked (one
  // HMAC, like any request's work); only an authentic token reaches the store, and it ends its family.
  router.post(
    ROUTES.logout,
    observed('logout', [byTransport], async (req, res) => {
      // Past the CSRF check, every answer to a cookie request clears both cookies, whatever happens next
      // (the clearing is on the response before anything can fail): the browser is signed out even when
      // the store is down. SPEC's "a store outage leaves the client's cookie alone" deliberately does not
      // apply to logout: keeping the cookie of a user who asked to leave would sign them back in on
      // reload. Instead the 503 says so, and the server-side end is retried in the background.
      const { transport, token } = presentedToken(req, config.cookie.name);
      if (transport === 'cookie') clearRefreshCookie(req, res, config.cookie);
      let refused: ProofRefused | undefined;
      try {
        refused = await sessions.logout(token, clientOf(req), () => proofOf(req), transport === 'body');
      } catch (error) {
        const failure = toAuthError(error, 'logout', events);
        throw failure.code === 'temporarily_unavailable' ? logoutPending(failure.cause) : failure;
      }
      if (refused !== undefined) return { result: 'invalid_proof', error: proofRefusal(refused) };
      res.status(204).end();
      return 'success';
    }),
  );

  // Every other answer of the router (session management, 405s, requireAuth's 401s) is prepared by
  // this layer; login, refresh and logout, declared above it, prepare their own (one layer less on
  // the busiest routes).
  router.use(function prepareAuthResponse(req: Request, res: Response, next: NextFunction) {
    prepareAnswer(req, res);
    next();
  });

  // Public keys for other services; the handler sets its own cache headers.
  router.get(ROUTES.jwks, jwksHandler(jwks));

  router.post(
    ROUTES.logoutAll,
    requireAuth,
    route('logout-all', async (req, res) => {
      await sessions.revokeUser(authOf(req).userId, 'logout_all');
      clearRefreshCookie(req, res, config.cookie);
      res.status(204).end();
    }),
  );

  // Step-up: the signed-in user proves again who they are; the answer is an access token of the same
  // session saying when and how. The refresh cookie is left alone: the session records the proof, so
  // its next refreshes carry it too. CSRF-checked (it changes what the session's tokens say), and
  // failed proofs are throttled per user like failed logins.
  router.post(
    ROUTES.reauth,
    csrf,
    requireAuth,
    ...jsonObjectBody(config.bodyLimit),
    ...limited(rateLimiters.reauth),
    route('reauth', async (req, res) => {
      const { reauthenticate } = config;
      if (reauthenticate === undefined) {
        throw new AuthError('reauth_not_configured', 404, 'Step-up is off: pass `reauthenticate` to createAuth to turn POST /reauth on');
      }
      const { userId, sessionId } = authOf(req);
      const client = clientOf(req);
      let proof: ProofOfIdentity;
      try {
        proof = await reauthenticateUser(reauthenticate, req, { userId, sessionId });
      } catch (error) {
        if (error instanceof AuthError && error.code === 'invalid_credentials') sessions.reauthenticationFailed(userId, sessionId, client);
        throw error;
      }
      const session = await sessions.reauthenticate(sessionId, proof, client);
      // Ended since its access token was issued (and not yet in the feed): nothing to step up.
      if (session === null) throw bearerChallenge(config.realm, revokedToken());
      sendTokenResponse(res, accessTokenFor(session, sessions.now()), undefined);
    }),
  );

  router.get(
    ROUTES.sessions,
    requireAuth,
    route('list-sessions', async (req, res) => {
      const { userId, sessionId } = authOf(req);
      const { offset, limit } = sessionsPage(req);
      const records = await sessions.listSessions(userId);
      const page = records.slice(offset, offset + limit);
      const body: SessionsResponse = {
        nextCursor: offset + limit < records.length ? String(offset + limit) : null,
        sessions: page.map((record) => ({
          id: record.sessionId,
          createdAt: new Date(record.createdAt).toISOString(),
          lastUsedAt: new Date(record.lastUsedAt).toISOString(),
          expiresAt: new Date(record.expiresAt).toISOString(),
          device: record.device,
          network: record.network,
          userAgent: record.device,
          current: record.sessionId === sessionId,
          bound: record.bound === true,
        })),
      };
      res.json(body);
    }),
  );

  router.delete(
    `${ROUTES.sessions}/:id`,
    requireAuth,
    route('revoke-session', async (req, res) => {
      const { userId, sessionId } = authOf(req);
      const target = String(req.params.id);
      if (!(await sessions.sessionOf(userId, target))) throw new AuthError('session_not_found', 404, 'No such session');
      await sessions.revokeSession(target, 'user_request');
      if (target === sessionId) clearRefreshCookie(req, res, config.cookie);
      res.status(204).end();
    }),
  );

  // Any other method on the router's paths: 405 as JSON with Allow, not Express' HTML 404 page.
  // (OPTIONS is left to Express, which answers it with Allow, or to the app's CORS middleware.)
  const allowed: Array<[string, string]> = [
    [ROUTES.login, 'POST'],
    [ROUTES.refresh, 'POST'],
    [ROUTES.logout, 'POST'],
    [ROUTES.logoutAll, 'POST'],
    [ROUTES.reauth, 'POST'],
    [ROUTES.sessions, 'GET, HEAD'],
    [`${ROUTES.sessions}/:id`, 'DELETE'],
  ];
  for (const [path, methods] of allowed) {
    router.all(path, function methodNotAllowed(req: Request, _res: Response, next: NextFunction) {
      if (req.method === 'OPTIONS') return next();
      next(new AuthError('method_not_allowed', 405, `Use ${methods}`, { headers: { Allow: methods } }));
    });
  }

  router.use(function authRouterErrors(error: unknown, _req: Request, _res: Response, next: NextFunction) {
    next(toAuthError(error, 'router', events));
  });

  return router;
}
