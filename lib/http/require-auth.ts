// requireAuth(): the middleware that checks access tokens on protected routes (RFC 6750).
import type { NextFunction, Request, Response } from 'express';
import { describeValue } from '../describe-value';
import type { Duration } from '../duration';
import { AuthError, ErrorCodes, InvalidAccessTokenError, revocationFeedStale, StoreUnavailableError } from '../errors';
import type { AuthEvents } from '../events';
import type { AccessTokenRejectionReason } from '../observability/metrics';
import type { Telemetry } from '../observability/telemetry';
import { checkKnownKeys, configurationError, type KnownOptions } from '../option-checks';
import type { RevocationFeed, RevocationVerdict } from '../revocation/revocation-feed';
import type { AccessTokenCodec, AccessTokenPayload } from '../tokens/access-token';
import { UnknownKeyError } from '../tokens/access-token-verification';
import type { AccessTokenAlgorithm } from '../tokens/signing-keys';
import type { VerifiedToken, VerifiedTokenCache } from '../tokens/verified-token-cache';
import { ensureFallbackErrorHandler, toAuthError } from './error-handling';
import { insufficientAuthentication, type StepUpRequirement, stepUpRequirement, unmetStepUp } from './step-up';

/**
 * What `requireAuth()` puts on `req.auth` (typed on `Express.Request` by importing the package).
 *
 * @example
 * ```ts
 * import type { AuthInfo } from 'express-refresh-tokens';
 *
 * function hasRole(info: AuthInfo | undefined, role: string): boolean {
 *   return info?.claims.role === role;
 * }
 * app.get('/api/admin', auth.requireAuth(), (req, res) => {
 *   if (!hasRole(req.auth, 'admin')) res.sendStatus(403);
 *   else res.json({ userId: req.auth?.userId, sessionId: req.auth?.sessionId });
 * });
 * ```
 */
export interface AuthInfo {
  /** The user id (`sub`). */
  userId: string;
  /** The session id (`sid`), as listed by `GET /sessions`. */
  sessionId: string;
  /** The app's extra claims, as returned by `authenticate`; frozen (see `payload`). */
  claims: Record<string, unknown>;
  /**
   * The whole verified JWT payload. Frozen, deeply: requests carrying the same token share it, as
   * the token is verified once and remembered until it expires.
   */
  payload: AccessTokenPayload;
}

/**
 * Options for `auth.requireAuth()`.
 *
 * @example
 * ```ts
 * app.get('/api/articles', auth.requireAuth({ optional: true }), (req, res) => {
 *   res.json({ drafts: req.auth ? 'shown' : 'hidden' }); // anonymous allowed, bad tokens still 401
 * });
 * ```
 */
export interface RequireAuthOptions {
  /** Let requests without any token through (with no `req.auth`); a bad token is still refused. Defaults to `false`. */
  optional?: boolean;
  /**
   * Step-up: the longest since the user last proved who they are (a login, or `POST /reauth`), such as
   * `'5m'` or `300` (seconds, 1 s to 1 day). Older: 401 `insufficient_user_authentication` with
   * `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=300` (RFC 9470).
   */
  maxAge?: Duration;
  /** Step-up: RFC 8176 methods the latest proof must include, every one (`['hwk']`: a hardware key). */
  amr?: string[];
  /** Step-up: the class (or one of the classes) the latest proof must have (`acr`); named in the challenge's `acr_values`. */
  acr?: string | string[];
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const BEARER_SCHEME = /^bearer(\s|$)/i;

const REQUIRE_AUTH_OPTIONS = { optional: true, maxAge: true, amr: true, acr: true } satisfies KnownOptions<RequireAuthOptions>;

/**
 * Validates the options of `auth.requireAuth(options)`: an object with `optional`, a boolean, and the
 * step-up requirements ({@link stepUpRequirement}), which it returns. Throws a TypeError coded
 * `ERR_INVALID_OPTION` or `ERR_UNKNOWN_OPTION`.
 */
function checkRequireAuthOptions(options: unknown): StepUpRequirement | undefined {
  if (options === null || typeof options !== 'object') {
    throw configurationError(
      'type',
      ErrorCodes.ERR_INVALID_OPTION,
      `requireAuth: options must be an object like { optional: true }; received ${describeValue(options)}.`,
    );
  }
  checkKnownKeys('', options, REQUIRE_AUTH_OPTIONS, 'requireAuth');
  const { optional } = options as { optional?: unknown };
  if (optional !== undefined && typeof optional !== 'boolean') {
    throw configurationError('type', ErrorCodes.ERR_INVALID_OPTION, `requireAuth: \`optional\` must be a boolean; received ${describeValue(optional)}.`);
  }
  return stepUpRequirement(options);
}
/**
 * The longest `Authorization` header read, in characters. The library's own tokens are well under
 * 2 KB; common proxies refuse header lines over 8 KB (nginx, Apache), so a longer one is refused
 * as malformed before anything is parsed.
 */
export const MAX_AUTHORIZATION_LENGTH = 8192;
/** The parameter name RFC 6750 §2.2 and §2.3 define for form-body and query-string tokens. */
const TOKEN_PARAMETER = 'access_token';

/** Everything requireAuth needs from the auth instance. */
export interface RequireAuthDeps {
  /** What verifies a token (createAuth's codec, or a verifier's keys). */
  codec: Pick<AccessTokenCodec, 'verify'>;
  /**
   * For a verifier whose keys are fetched: fetches them again (at most once per bounded interval) when a
   * token names a `kid` not held yet, resolving with whether that `kid` is known now; the token is then
   * verified again. Absent for createAuth, whose keys are configured: an unknown `kid` is refused at once.
   */
  fetchKey?: ((kid: string, alg: AccessTokenAlgorithm) => Promise<boolean>) | undefined;
  /** The auth instance's cache of verified tokens, shared by all its requireAuth middlewares. */
  verified: VerifiedTokenCache;
  feed: RevocationFeed;
  events: AuthEvents;
  realm: string;
  /** Where refusals are counted (a request that passes reports nothing). */
  telemetry: Pick<Telemetry, 'rejected'>;
}

/** An RFC 6750 answer: its status, its code, and the challenge naming that code (none for a missing token). */
function bearerError(realm: string, status: 401 | 400, code: 'invalid_token' | 'invalid_request', message: string, named: boolean, cause?: unknown): AuthError {
  const challenge = named ? `Bearer realm="${realm}", error="${code}"` : `Bearer realm="${realm}"`;
  return new AuthError(code, status, message, { headers: { 'WWW-Authenticate': challenge }, cause });
}

/**
 * Builds the 401 for a missing token (no error code) or a bad one (`invalid_token`, with the
 * {@link InvalidAccessTokenError} saying why as its `cause`), per RFC 6750.
 */
export function bearerChallenge(realm: string, refusal?: InvalidAccessTokenError): AuthError {
  return refusal === undefined
    ? bearerError(realm, 401, 'invalid_token', 'An access token is required', false)
    : bearerError(realm, 401, 'invalid_token', 'The access token is invalid, expired or revoked', true, refusal);
}

/** Why a token whose session or user was revoked is refused: the feed's refusal, and POST /reauth's for a session that ended. */
export const revokedToken = (): InvalidAccessTokenError =>
  new InvalidAccessTokenError(
    "token revoked (its session or user was revoked, the user's claims changed since it was issued, or the store lost its data since the login)",
    ErrorCodes.ERR_ACCESS_TOKEN_REVOKED,
  );

/** The 400 for a request that is not a well-formed bearer request (RFC 6750 §3.1 `invalid_request`). */
export function invalidBearerRequest(realm: string, message: string): AuthError {
  return bearerError(realm, 400, 'invalid_request', message, true);
}

/**
 * Whether the request carries an `access_token` in its query string or form body as well (RFC 6750
 * §2: a client must not use more than one method). Only requests whose URL could hold the
 * parameter (literally or percent-encoded) pay for a look at the parsed query, which Express 5
 * re-parses on every read of `req.query`; the body is looked at only when a parser has already run.
 * `headers` are the request's, as the caller already read them.
 */
function tokenElsewhere(req: Request, headers: Request['headers']): boolean {
  const url: string = req.url ?? ''; // a bare object handed to the middleware may have no url
  const search = url.indexOf('?');
  if (search !== -1 && (url.includes(TOKEN_PARAMETER, search) || url.includes('%', search))) {
    let query: unknown;
    try {
      query = req.query;
    } catch {
      return true; // an unreadable query string is no well-formed bearer request either
    }
    if (query !== null && typeof query === 'object' && Object.hasOwn(query, TOKEN_PARAMETER)) return true;
  }
  // A form body needs a Content-Type; without one (every GET, in practice) `req.body`, which is then
  // looked up along the whole prototype chain of the request, is not read at all.
  if (headers['content-type'] === undefined) return false;
  const body: unknown = req.body;
  return body !== null && typeof body === 'object' && Object.hasOwn(body, TOKEN_PARAMETER) && typeof req.is('application/x-www-form-urlencoded') === 'string';
}

/**
 * Creates the middleware. It verifies the bearer token's signature, algorithm, type and claims,
 * asks the in-process revocation feed (no store round trip) whether its session or user was
 * revoked, sets `req.auth` and calls `next()`; every failure goes to `next(err)` as an
 * {@link AuthError}. A feed that cannot vouch for its contents (not loaded in time, or stale)
 * means 503, never "not revoked".
 */
export function createRequireAuth(deps: RequireAuthDeps, options: RequireAuthOptions = {}) {
  const stepUp = checkRequireAuthOptions(options);
  const optional = options.optional === true;
  const { codec, verified, feed, events, realm, telemetry, fetchKey } = deps;

  /**
   * Counts a refusal and passes it on, after making sure the app answers it as JSON should none of its
   * error handlers take it (see ensureFallbackErrorHandler): only refusals need either, so a request
   * that passes does not pay for them.
   */
  const refuse = (req: Request, next: NextFunction, reason: AccessTokenRejectionReason, error: AuthError): void => {
    telemetry.rejected(reason);
    ensureFallbackErrorHandler(req.app);
    next(error);
  };

  /** Answers a request once the feed has given its verdict on the token. */
  const conclude = (req: Request, token: VerifiedToken, verdict: RevocationVerdict, next: NextFunction): void => {
    if (verdict === 'valid') {
      const { payload } = token;
      if (stepUp !== undefined) {
        const unmet = unmetStepUp(stepUp, payload, Date.now());
        if (unmet !== undefined) return refuse(req, next, 'step_up_required', insufficientAuthentication(realm, stepUp, unmet));
      }
      req.auth = { userId: payload.sub, sessionId: payload.sid, claims: token.claims, payload };
      return next();
    }
    if (verdict === 'revoked') return refuse(req, next, 'revoked', bearerChallenge(realm, revokedToken()));
    refuse(
      req,
      next,
      verdict === 'stale' ? 'feed_stale' : 'feed_loading',
      toAuthError(
        verdict === 'stale'
          ? revocationFeedStale(feed.lastFailure?.())
          : new StoreUnavailableError('the revocation feed is not loaded', { code: ErrorCodes.ERR_REVOCATION_FEED_NOT_LOADED }),
        'requireAuth',
        events,
      ),
    );
  };

  /** The first requests after start-up wait (bounded) for the feed to load. */
  const afterLoad = (req: Request, token: VerifiedToken, next: NextFunction): void => {
    feed.ready().then(
      () => conclude(req, token, feed.verdict(token.payload.sid, token.payload.sub, token.authTime, token.claimsTime), next),
      (error: unknown) => refuse(req, next, 'feed_loading', toAuthError(error, 'requireAuth', events)),
    );
  };

  return function requireAuthMiddleware(req: Request, _res: Response, next: NextFunction): void {
    const headers = req.headers;
    const header = headers.authorization;
    if (header === undefined) return optional ? next() : refuse(req, next, 'missing', bearerChallenge(realm));
    if (header.length > MAX_AUTHORIZATION_LENGTH) return refuse(req, next, 'malformed', invalidBearerRequest(realm, 'The Authorization header is too large'));
    // The common case first: `Bearer <a token verified before>` is well-formed by construction, so
    // the header is parsed only when it does not carry a remembered token as it is.
    const now = Date.now();
    let jwt = header.startsWith('Bearer ') ? header.slice(7) : '';
    let token = verified.get(jwt, now);
    if (token === undefined) {
      const match = BEARER.exec(header);
      if (!match) {
        // Another scheme is "no token"; a Bearer header that is not `Bearer <b64token>` is malformed (RFC 6750 §2.1, §3.1).
        if (BEARER_SCHEME.test(header)) return refuse(req, next, 'malformed', invalidBearerRequest(realm, 'The Authorization header must be `Bearer <token>`'));
        return optional ? next() : refuse(req, next, 'missing', bearerChallenge(realm));
      }
      // Looked up again only if the header was not the plain `Bearer <token>` already looked up.
      if (match[1] !== jwt) {
        jwt = match[1] as string;
        token = verified.get(jwt, now);
      }
    }
    if (tokenElsewhere(req, headers))
      return refuse(req, next, 'malformed', invalidBearerRequest(realm, 'Send the access token in the Authorization header only'));
    if (token === undefined) {
      try {
        token = verified.add(jwt, codec.verify(jwt));
      } catch (error) {
        // A verifier that fetches its keys may not hold a new one yet: it fetches them (bounded), then verifies again.
        if (fetchKey !== undefined && error instanceof UnknownKeyError) return afterKeyFetch(req, jwt, error, next);
        return refuseToken(req, next, error);
      }
    }
    judge(req, token, next);
  };

  /** Asks the feed about a verified token, and answers. */
  function judge(req: Request, token: VerifiedToken, next: NextFunction): void {
    const verdict = feed.verdict(token.payload.sid, token.payload.sub, token.authTime, token.claimsTime);
    if (verdict === 'loading') return afterLoad(req, token, next);
    conclude(req, token, verdict, next);
  }

  /** Refuses a token that did not verify (401 `invalid_token`, its reason as the cause). */
  function refuseToken(req: Request, next: NextFunction, error: unknown): void {
    const refusal = error instanceof InvalidAccessTokenError ? error : new InvalidAccessTokenError('invalid token');
    refuse(req, next, refusal.code === ErrorCodes.ERR_ACCESS_TOKEN_EXPIRED ? 'expired' : 'invalid', bearerChallenge(realm, refusal));
  }

  /** Verifies a token again once the verifier has fetched its keys for the `kid` it names (refused when still unknown). */
  function afterKeyFetch(req: Request, jwt: string, unknown: UnknownKeyError, next: NextFunction): void {
    (fetchKey as NonNullable<typeof fetchKey>)(unknown.kid, unknown.alg).then(
      (known) => {
        if (!known) return refuseToken(req, next, unknown);
        let token: VerifiedToken;
        try {
          token = verified.add(jwt, codec.verify(jwt));
        } catch (error) {
          return refuseToken(req, next, error);
        }
        judge(req, token, next);
      },
      () => refuseToken(req, next, unknown),
    );
  }
}
