// AuthError: the one error type for bad requests and tokens, with a stable code, status and headers.

/** Every code an {@link AuthError} can carry; each is also the `error` field of the JSON answer. */
export type AuthErrorCode =
  | 'invalid_token'
  | 'invalid_credentials'
  | 'invalid_refresh_token'
  | 'csrf_rejected'
  | 'invalid_request'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'session_not_found'
  | 'too_many_requests'
  | 'method_not_allowed'
  | 'temporarily_unavailable'
  | 'server_error';

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
 * is safe to show a client, and `headers` what the answer must carry.
 *
 * @example
 * app.use((err, req, res, next) => {
 *   if (err instanceof AuthError) return res.status(err.status).set(err.headers).json({ error: err.code });
 *   next(err);
 * });
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

  constructor(code: AuthErrorCode, status: number, message: string, init: AuthErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'AuthError';
    this.code = code;
    this.status = status;
    this.statusCode = status;
    this.expose = status < 500;
    this.headers = init.headers ?? {};
  }

  /** The JSON body the library answers with: `{ error: code }`. */
  toJSON(): { error: AuthErrorCode } {
    return { error: this.code };
  }
}

/**
 * Thrown by stores when the backing service is unreachable, too slow or answering errors.
 * The router turns it into a 503 `temporarily_unavailable` that leaves the client's cookie alone.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Seconds a client should wait before retrying after a store outage. */
export const RETRY_AFTER_SECONDS = 5;

/** The 503 answer for a store outage: `Retry-After` set, cookie untouched. */
export function temporarilyUnavailable(cause: unknown): AuthError {
  return new AuthError('temporarily_unavailable', 503, 'The session store is temporarily unavailable', {
    headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    cause,
  });
}
