// The library's errors and their codes: AuthError with its wire code (AuthErrorCode, the `error` of an answer), and the `ERR_*` diagnostic codes (ErrorCodes).

/**
 * Every code an {@link AuthError} can carry; each is also the `error` field of the JSON answer.
 * Not the `ERR_*` codes of {@link ErrorCodes}, which say why in more detail and are never sent.
 *
 * @example
 * ```ts
 * import type { NextFunction, Request, Response } from 'express';
 * import { AuthError } from 'express-refresh-tokens';
 *
 * app.use((err: unknown, req: Request, _res: Response, next: NextFunction) => {
 *   if (err instanceof AuthError) {
 *     switch (err.code) {
 *       case 'temporarily_unavailable': // 503: the store did not answer
 *       case 'server_error': // 500: e.g. `authenticate` threw
 *         log.error({ code: err.code, cause: err.cause }, err.message);
 *         break;
 *       case 'too_many_requests': // 429
 *         log.warn({ ip: req.ip }, 'throttled');
 *         break;
 *     }
 *   }
 *   next(err); // with no handler of yours answering, the library answers `{ error: code }` itself
 * });
 * ```
 */
export type AuthErrorCode =
  | 'invalid_token'
  | 'invalid_credentials'
  | 'insufficient_user_authentication'
  | 'reauth_not_configured'
  | 'invalid_refresh_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'csrf_rejected'
  | 'invalid_request'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'session_not_found'
  | 'too_many_requests'
  | 'method_not_allowed'
  | 'temporarily_unavailable'
  | 'server_error';

/**
 * The codes whose JSON answer also carries the error's `message`: mistakes in how a call was made
 * (a header, the content type, the body, the method), which whoever wrote the call fixes. Answers
 * about credentials, tokens, throttling and the server stay `{ error }` alone: their words would
 * help nobody but someone probing.
 */
const DESCRIBED_CODES: ReadonlySet<AuthErrorCode> = new Set<AuthErrorCode>([
  'invalid_request',
  'csrf_rejected',
  'method_not_allowed',
  'payload_too_large',
  'unsupported_media_type',
  'reauth_not_configured',
]);

/** Options for constructing an {@link AuthError}. */
export interface AuthErrorInit {
  /** HTTP headers the answer must carry (`WWW-Authenticate`, `Retry-After`). */
  headers?: Record<string, string>;
  /** The underlying error, kept for logging; never sent to the client. */
  cause?: unknown;
}

/**
 * The error passed to `next(err)` by `requireAuth()` and the router. `status` is the HTTP status,
 * `code` a stable machine-readable code (also the JSON `error` field), `expose` whether `message`
 * is safe to show a client, and `headers` what the answer must carry. The reason behind it, when
 * there is one, is its `cause` (an {@link InvalidAccessTokenError}, a {@link StoreUnavailableError}, …).
 *
 * @example
 * ```ts
 * import type { NextFunction, Request, Response } from 'express';
 * import { AuthError } from 'express-refresh-tokens';
 *
 * app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
 *   if (err instanceof AuthError) res.status(err.status).set(err.headers).json({ error: err.code });
 *   else next(err);
 * });
 * ```
 */
export class AuthError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;
  /** Same as `status`; some Express error handlers read this name. */
  readonly statusCode: number;
  /** A stable code; switch on it. */
  readonly code: AuthErrorCode;
  /** Whether `message` may be shown to the client (false for 5xx). */
  readonly expose: boolean;
  /** Headers the answer must carry. */
  readonly headers: Record<string, string>;

  /**
   * The library creates these; an app rarely needs to.
   *
   * @param code - The stable code, also the JSON `error` field.
   * @param status - The HTTP status; `expose` is true below 500.
   * @param message - Words for logs (shown to clients only when `expose`).
   * @param init - `headers` the answer must carry, and the `cause`.
   *
   * @example
   * ```ts
   * const error = new AuthError('invalid_token', 401, 'An access token is required', {
   *   headers: { 'WWW-Authenticate': 'Bearer realm="api"' },
   * });
   * ```
   */
  constructor(code: AuthErrorCode, status: number, message: string, init: AuthErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'AuthError';
    this.code = code;
    this.status = status;
    this.statusCode = status;
    this.expose = status < 500;
    this.headers = init.headers ?? {};
  }

  /**
   * The JSON body the library answers with: `{ error: code }`, plus the
   * `message` when the code is about how the call was made (`csrf_rejected`, `unsupported_media_type`,
   * `invalid_request`, `payload_too_large`, `method_not_allowed`), or when the answer is a logout's 503,
   * whose words tell the client the browser is signed out. Never the cause, never any other 5xx's words.
   *
   * @example
   * ```ts
   * if (err instanceof AuthError) res.status(err.status).set(err.headers).json(err); // {"error":"invalid_token"}
   * ```
   */
  toJSON(): { error: AuthErrorCode; message?: string } {
    return DESCRIBED_CODES.has(this.code) ? { error: this.code, message: this.message } : { error: this.code };
  }
}

/**
 * The stable `code` of every error the library throws, besides its message (as Node's
 * `err.code = 'ERR_INVALID_ARG_TYPE'`, jose's `JOSEError.code`, express-rate-limit's `ERR_ERL_*`):
 * compare with these rather than with string literals or messages, which may be reworded.
 * Not to be confused with {@link AuthErrorCode}, the HTTP-facing code of an {@link AuthError}
 * (`invalid_token`, `temporarily_unavailable`, …) that is sent to the client.
 *
 * - Configuration errors (from `createAuth`, `new RedisStore`, `new MemoryStore`, `auth.requireAuth()`)
 *   are `TypeError`s or `RangeError`s carrying one of the `ERR_*_OPTION`, `ERR_INVALID_DURATION`,
 *   `ERR_INVALID_KEY` and `ERR_INCOMPATIBLE_OPTIONS` codes; `ERR_INVALID_ARGUMENT` marks a bad
 *   argument to `auth.revokeSession`, `auth.revokeUser` or `auth.listSessions`, and
 *   `ERR_INVALID_AUTHENTICATE_RESULT` a result of the app's `authenticate` that cannot make a session,
 *   or of its `reauthenticate` that is not a proof of identity (the `cause` of the 500).
 * - Store errors are {@link StoreUnavailableError}s (`ERR_STORE_*`, `ERR_REVOCATION_FEED_*`, and
 *   `ERR_SHUTTING_DOWN` for work refused once `auth.close()` has begun). The
 *   503 `AuthError` a request gets for one carries it as its `cause`; the `store_error` event as `error`.
 * - Why `requireAuth` refused a token is the `cause` of its 401: an `InvalidAccessTokenError`
 *   carrying one of the `ERR_ACCESS_TOKEN_*` codes.
 *
 * @example
 * ```ts
 * import { createAuth, ErrorCodes, type Auth, type AuthOptions } from 'express-refresh-tokens';
 *
 * function startAuth(options: AuthOptions): Auth {
 *   try {
 *     return createAuth(options);
 *   } catch (error) {
 *     if ((error as { code?: unknown }).code === ErrorCodes.ERR_INVALID_KEY) console.error('Check ACCESS_TOKEN_SECRET / the key files');
 *     throw error;
 *   }
 * }
 *
 * startAuth(options).events.on('store_error', ({ error }) => {
 *   if (error.code === ErrorCodes.ERR_REVOCATION_FEED_STALE) metrics.increment('auth.feed_stale');
 * });
 * ```
 */
export const ErrorCodes = Object.freeze({
  /** A required option is missing (`store`, `authenticate`, a secret, a key, a RedisStore's `client`). */
  ERR_MISSING_OPTION: 'ERR_MISSING_OPTION',
  /** An option name that does not exist (usually a typo; the message suggests the closest one). */
  ERR_UNKNOWN_OPTION: 'ERR_UNKNOWN_OPTION',
  /** An option has the wrong type or a value outside what it accepts. */
  ERR_INVALID_OPTION: 'ERR_INVALID_OPTION',
  /** A duration option cannot be read (`'10 minutes'`), or is outside its range. */
  ERR_INVALID_DURATION: 'ERR_INVALID_DURATION',
  /** A secret or key cannot be used: too short, unreadable, the wrong type or curve for the algorithm, too weak, or not a pair. */
  ERR_INVALID_KEY: 'ERR_INVALID_KEY',
  /** Options that are fine alone but not together (`absoluteTtl < idleTtl`, `secret` with RS256, `sameSite: 'none'` without `secure`, …). */
  ERR_INCOMPATIBLE_OPTIONS: 'ERR_INCOMPATIBLE_OPTIONS',
  /** A bad argument to a method of the auth instance (`auth.revokeSession('')`). */
  ERR_INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  /**
   * What the app's `authenticate` returned cannot make a session: no string `userId`, claims that are not a plain
   * object, reserved or prototype claim names, or claims too large for an access token to fit an `Authorization` header;
   * or an `amr`/`acr` (of `authenticate` or `reauthenticate`) that cannot be kept.
   * The login (or `POST /reauth`) answers 500 `server_error`; the `TypeError` saying which is its `cause`.
   */
  ERR_INVALID_AUTHENTICATE_RESULT: 'ERR_INVALID_AUTHENTICATE_RESULT',
  /** A store command failed: the connection broke, or Redis answered an error (`cause` says which: OOM, READONLY, NOPERM, …). Also the default for a store's own errors. */
  ERR_STORE_UNAVAILABLE: 'ERR_STORE_UNAVAILABLE',
  /** Redis did not answer within `commandTimeoutMs` (waiting for the connection included); `cause` is the client's connection error when it was not connected. */
  ERR_STORE_TIMEOUT: 'ERR_STORE_TIMEOUT',
  /** After a timeout, operations fail at once, unsent, until Redis answers a probe again; `cause` is the connection error, or the timeout. */
  ERR_STORE_CIRCUIT_OPEN: 'ERR_STORE_CIRCUIT_OPEN',
  /** The Redis client given to the store was closed (`quit()`/`disconnect()`); the store never reopens it. */
  ERR_STORE_CLIENT_CLOSED: 'ERR_STORE_CLIENT_CLOSED',
  /** A script reached Redis after its caller's deadline and refused to run: it changed nothing. */
  ERR_STORE_DEADLINE_EXCEEDED: 'ERR_STORE_DEADLINE_EXCEEDED',
  /** Redis answered in a shape the store does not know: another program writes the keys, or versions are mixed. */
  ERR_STORE_BAD_REPLY: 'ERR_STORE_BAD_REPLY',
  /** The revocation feed has not confirmed it is in touch with the store within `revocation.maxStaleness`: fail closed. `cause` says why, when known. */
  ERR_REVOCATION_FEED_STALE: 'ERR_REVOCATION_FEED_STALE',
  /** The revocation feed could not load from the store in time (at start-up, or after a reconnect). `cause` says why, when known. */
  ERR_REVOCATION_FEED_NOT_LOADED: 'ERR_REVOCATION_FEED_NOT_LOADED',
  /**
   * `auth.close()` has begun: the instance starts no new login, refresh or logout (each answers 503
   * `temporarily_unavailable`, the refresh cookie left alone) while those already under way finish.
   * Not an outage of the store: a deployment's restart.
   */
  ERR_SHUTTING_DOWN: 'ERR_SHUTTING_DOWN',
  /** `requireAuth` refused an access token because it expired. */
  ERR_ACCESS_TOKEN_EXPIRED: 'ERR_ACCESS_TOKEN_EXPIRED',
  /** `requireAuth` refused an access token of a revoked session or user (or one from before the store lost its data). */
  ERR_ACCESS_TOKEN_REVOKED: 'ERR_ACCESS_TOKEN_REVOKED',
  /** `requireAuth` refused an access token for any other reason (signature, algorithm, `typ`, claims, `kid`, …). */
  ERR_ACCESS_TOKEN_INVALID: 'ERR_ACCESS_TOKEN_INVALID',
} as const);

/**
 * Any `ERR_*` code of {@link ErrorCodes}: a diagnostic for logs and `catch` blocks, never sent to a client.
 * Not an {@link AuthErrorCode}, which is the wire `error` string of an HTTP answer.
 *
 * @example
 * ```ts
 * import { ErrorCodes, type ErrorCode } from 'express-refresh-tokens';
 *
 * function isOutage(code: ErrorCode): boolean {
 *   return code === ErrorCodes.ERR_STORE_TIMEOUT || code === ErrorCodes.ERR_STORE_CIRCUIT_OPEN || code === ErrorCodes.ERR_STORE_UNAVAILABLE;
 * }
 * ```
 */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * The codes of configuration errors (`TypeError`/`RangeError` from constructors, options and API arguments,
 * and from what `authenticate` returned).
 *
 * @example
 * ```ts
 * import { RedisStore, type ConfigurationErrorCode } from 'express-refresh-tokens';
 *
 * try {
 *   new RedisStore({ client: redis, prefix: '{auth}:' });
 * } catch (error) {
 *   const code = (error as { code?: ConfigurationErrorCode }).code;
 *   if (code === 'ERR_INVALID_OPTION') console.error((error as Error).message); // names the option and the fix
 * }
 * ```
 */
export type ConfigurationErrorCode = Exclude<ErrorCode, StoreErrorCode | InvalidAccessTokenCode>;

/**
 * The codes of {@link StoreUnavailableError}: `ERR_STORE_*`, `ERR_REVOCATION_FEED_*`, and `ERR_SHUTTING_DOWN`
 * (the instance is closing, the store is fine).
 *
 * @example
 * ```ts
 * import type { StoreErrorCode } from 'express-refresh-tokens';
 *
 * function severity(code: StoreErrorCode): 'page' | 'ticket' {
 *   switch (code) {
 *     case 'ERR_STORE_BAD_REPLY': // another program writes the keys, or versions are mixed
 *     case 'ERR_STORE_CLIENT_CLOSED':
 *       return 'ticket';
 *     default:
 *       return 'page';
 *   }
 * }
 * auth.events.on('store_error', ({ error }) => metrics.increment('auth.store_error', { severity: severity(error.code) }));
 * ```
 */
export type StoreErrorCode = Extract<ErrorCode, `ERR_STORE_${string}` | `ERR_REVOCATION_FEED_${string}` | 'ERR_SHUTTING_DOWN'>;

/**
 * The codes of an `InvalidAccessTokenError`, the cause of requireAuth's 401: expired, revoked, or
 * invalid in any other way.
 *
 * @example
 * ```ts
 * import type { InvalidAccessTokenCode } from 'express-refresh-tokens';
 *
 * function logLevel(code: InvalidAccessTokenCode): 'debug' | 'info' | 'warn' {
 *   switch (code) {
 *     case 'ERR_ACCESS_TOKEN_EXPIRED':
 *       return 'debug'; // routine: the client refreshes and retries
 *     case 'ERR_ACCESS_TOKEN_REVOKED':
 *       return 'info';
 *     case 'ERR_ACCESS_TOKEN_INVALID':
 *       return 'warn'; // a bad signature, a wrong `typ`, an unknown `kid`, ...
 *   }
 * }
 * ```
 */
export type InvalidAccessTokenCode = Extract<ErrorCode, `ERR_ACCESS_TOKEN_${string}`>;

/**
 * A configuration error: the `TypeError` or `RangeError` it always was (its class and message are
 * unchanged), with a stable `code`.
 *
 * @example
 * ```ts
 * import { createAuth, type ConfigurationError } from 'express-refresh-tokens';
 *
 * try {
 *   createAuth(options);
 * } catch (error) {
 *   const { code, message } = error as ConfigurationError;
 *   console.error(`${code}: ${message}`); // e.g. ERR_MISSING_OPTION: createAuth: `refreshToken.secret` must be ...
 *   process.exit(1);
 * }
 * ```
 */
export type ConfigurationError = (TypeError | RangeError) & { readonly code: ConfigurationErrorCode };

/**
 * Thrown by stores when the backing service is unreachable, too slow or answering errors, and by an
 * instance whose `auth.close()` has begun for the logins, refreshes and logouts it no longer starts
 * (`ERR_SHUTTING_DOWN`).
 * The router turns it into a 503 `temporarily_unavailable` that leaves the client's cookie alone
 * (except on `/logout`, which clears it all the same and says so), with this error as the AuthError's
 * `cause`. `code` says what failed, for logs and alerting.
 * The `auth.*` methods reject with it, and the `store_error` event carries it.
 *
 * @example
 * ```ts
 * import { StoreUnavailableError } from 'express-refresh-tokens';
 *
 * try {
 *   await auth.revokeUser(userId);
 * } catch (error) {
 *   if (!(error instanceof StoreUnavailableError)) throw error;
 *   log.warn({ userId, code: error.code }, 'could not end the sessions; try again');
 * }
 * ```
 */
export class StoreUnavailableError extends Error {
  /** What failed: `ERR_STORE_TIMEOUT`, `ERR_REVOCATION_FEED_STALE`, …; `ERR_STORE_UNAVAILABLE` by default. */
  readonly code: StoreErrorCode;

  /**
   * For a custom {@link SessionStore}: reject with this when the backend cannot answer.
   *
   * @param message - What failed, for logs.
   * @param options - The underlying `cause`, and the `code` (`ERR_STORE_UNAVAILABLE` when omitted).
   *
   * @example
   * ```ts
   * const response = await fetch('http://sessions.internal/health').catch((error: unknown) => {
   *   throw new StoreUnavailableError('the session service did not answer', { code: 'ERR_STORE_UNAVAILABLE', cause: error });
   * });
   * ```
   */
  constructor(message: string, options?: { cause?: unknown; code?: StoreErrorCode }) {
    // No `cause` property at all when there is none (`{ cause: undefined }` would create one).
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StoreUnavailableError';
    this.code = options?.code ?? ErrorCodes.ERR_STORE_UNAVAILABLE;
  }
}

/** An AuthError whose JSON answer carries its `message` whatever its code: words meant for the client. */
export class DescribedAuthError extends AuthError {
  override toJSON(): { error: AuthErrorCode; message: string } {
    return { error: this.code, message: this.message };
  }
}

/**
 * A store command refused before it was sent (the circuit is open, or the connection was not ready in
 * time): it can never take effect, late or not. Internal; to an app it is a {@link StoreUnavailableError}.
 */
export class CommandNotSentError extends StoreUnavailableError {
  /**
   * @param message - What happened, in words.
   * @param code - The store code (`ERR_STORE_CIRCUIT_OPEN`, `ERR_STORE_TIMEOUT`, …).
   * @param cause - What made the gate refuse, when known.
   */
  constructor(message: string, code: StoreErrorCode, cause?: unknown) {
    super(message, { code, cause });
    this.name = 'StoreUnavailableError';
  }
}

/**
 * Why `requireAuth()` refused a token: the `cause` of its 401 {@link AuthError}, for an app's logs;
 * never sent to the client. `message` is the reason in words (`'jwt expired'`, `'invalid signature'`,
 * `'unknown kid'`, …), `code` what an app can switch on.
 *
 * @example
 * ```ts
 * import type { NextFunction, Request, Response } from 'express';
 * import { AuthError, InvalidAccessTokenError } from 'express-refresh-tokens';
 *
 * app.use((err: unknown, _req: Request, _res: Response, next: NextFunction) => {
 *   if (err instanceof AuthError && err.cause instanceof InvalidAccessTokenError) log.info({ reason: err.cause.code }, err.cause.message);
 *   next(err);
 * });
 * ```
 */
export class InvalidAccessTokenError extends Error {
  /** A stable code for the reason. */
  readonly code: InvalidAccessTokenCode;

  /**
   * `requireAuth` creates these; an app only reads them.
   *
   * @param reason - The reason in words, the error's `message`.
   * @param code - The stable code; `ERR_ACCESS_TOKEN_INVALID` when omitted.
   */
  constructor(reason: string, code: InvalidAccessTokenCode = ErrorCodes.ERR_ACCESS_TOKEN_INVALID) {
    super(reason);
    this.name = 'InvalidAccessTokenError';
    this.code = code;
  }
}

/**
 * The 503 cause for a revocation feed out of touch with the store for longer than
 * `revocation.maxStaleness`: requireAuth and `/refresh` both fail closed with it. `cause`, when the
 * feed knows one, is what kept it from hearing (a refused connection, a timeout), named in the message too.
 */
export function revocationFeedStale(cause?: unknown): StoreUnavailableError {
  const why = cause === undefined ? '' : `: ${describeStoreCause(cause)}`;
  return new StoreUnavailableError(`the revocation feed has not heard from the store within revocation.maxStaleness${why}`, {
    code: ErrorCodes.ERR_REVOCATION_FEED_STALE,
    cause,
  });
}

/**
 * Plain words for the connection errors a first set-up meets: by Node's error `code`, or by the
 * Redis error a reply starts with (`NOAUTH`, `WRONGPASS`; ioredis may prefix "Ready check failed: ").
 */
const CAUSE_WORDS: ReadonlyArray<{ code?: string; reply?: RegExp; words: string }> = [
  { code: 'ECONNREFUSED', words: 'connection refused' },
  { code: 'ENOTFOUND', words: 'host name not found' },
  { code: 'EAI_AGAIN', words: 'host name not found' },
  { code: 'ETIMEDOUT', words: 'connection timed out' },
  { code: 'ECONNRESET', words: 'connection reset' },
  { reply: /\bNOAUTH\b/, words: "Redis wants a password the client does not send: put it in the Redis URL or the client's `password` option" },
  { reply: /\bWRONGPASS\b/, words: 'Redis refused the username or password the client sends' },
];

/**
 * A store failure's cause in words, for messages and warnings: the error's own message, after plain
 * words for the connection errors a first set-up meets ({@link CAUSE_WORDS}), e.g. `connection
 * refused (connect ECONNREFUSED 127.0.0.1:6379)`. For logs only: it may name the host and port.
 */
export function describeStoreCause(cause: unknown): string {
  // Read by shape, not `instanceof Error`: socket errors may come from another realm (a vm context, jest's sandbox).
  const { message: own, code, lastNodeError } = (cause ?? {}) as { message?: unknown; code?: unknown; lastNodeError?: unknown };
  const message = typeof own === 'string' ? own : String(cause);
  // ioredis' Cluster reports "Failed to refresh slots cache." and keeps the reason on the side.
  if (lastNodeError !== undefined && lastNodeError !== null) return `${message} ${describeStoreCause(lastNodeError)}`;
  const known = CAUSE_WORDS.find((entry) => (entry.code !== undefined ? entry.code === code : entry.reply?.test(message)));
  return known === undefined ? message : `${known.words} (${message})`;
}
