// Building HTTP answers from failures: the 503s of an outage, toAuthError, and the JSON answer when the app has no handler of its own.
import type { Application, NextFunction, Request, Response } from 'express';
import { quoteReceived } from '../describe-value';
import { AuthError, DescribedAuthError, StoreUnavailableError } from '../errors';
import type { AuthEvents } from '../events';

/** Seconds a client should wait before retrying after a store outage. */
export const RETRY_AFTER_SECONDS = 5;

/** The 503 answer for a store outage: `Retry-After` set, cookie untouched. */
function temporarilyUnavailable(cause: unknown): AuthError {
  return new AuthError('temporarily_unavailable', 503, 'The session store is temporarily unavailable', {
    headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    cause,
  });
}

/**
 * The 503 answer for a logout the store could not carry out: `Retry-After` as for any outage, but
 * the router has cleared the cookies all the same, so the body says what became of the logout:
 * `{ error: 'temporarily_unavailable', message }`, the browser signed out, the end of the session on
 * the server pending and retried in the background.
 */
export function logoutPending(cause: unknown): AuthError {
  return new DescribedAuthError(
    'temporarily_unavailable',
    503,
    'You are signed out in this browser. The session store did not answer, so ending the session on the server is pending: it will be retried in the background.',
    { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) }, cause },
  );
}

/** The HTTP status an error carries as `status` or `statusCode` (http-errors' convention), if any. */
export function httpStatusOf(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** What body-parser (and raw-body under it) put on the errors it raises, besides the status. */
interface BodyParserErrorDetails {
  type?: unknown;
  limit?: unknown;
  charset?: unknown;
  encoding?: unknown;
  /** A zlib error's (`Z_DATA_ERROR`, brotli's `ERR__ERROR_FORMAT_…`), for a body that does not decompress. */
  code?: unknown;
}

/** zlib's and brotli's error codes, on a body whose Content-Encoding does not match its bytes. */
const DECOMPRESSION_ERROR = /^(?:Z_|ERR__ERROR_)/;

/** The 400's words: what was wrong with the body, never body-parser's own words (which may quote it). */
function malformedRequestMessage({ type, code }: BodyParserErrorDetails): string {
  if (type === 'entity.parse.failed') return 'The body is not valid JSON';
  if (typeof code === 'string' && DECOMPRESSION_ERROR.test(code))
    return 'The body could not be decompressed: send it uncompressed, or compressed as its Content-Encoding says';
  return 'Malformed request';
}

/** The 415's words for a body body-parser could not decode: a charset other than UTF, or an unknown Content-Encoding. */
function undecodableBodyMessage({ type, charset, encoding }: BodyParserErrorDetails): string {
  if (type === 'charset.unsupported') {
    return `Send the JSON body in UTF-8 (Content-Type: application/json; charset=utf-8); received charset ${quoteReceived(String(charset)).toUpperCase()}`;
  }
  if (type === 'encoding.unsupported') {
    return `Content-Encoding ${quoteReceived(String(encoding))} cannot be decoded here: send the body uncompressed, or gzip- or deflate-compressed`;
  }
  return 'Send a UTF-8 JSON body, uncompressed or gzip- or deflate-compressed';
}

/**
 * What of a client error may become the AuthError's `cause`, which an app's logger prints with its
 * properties: nothing of the body, which holds the password. body-parser puts the body on its errors
 * (`body`), and a JSON parse failure's message and stack quote its start (V8: `Unexpected token 'p',
 * "password=…" is not valid JSON`), so a parse failure gets no cause at all and others lose `body`.
 */
function causeWithoutBody(error: unknown): unknown {
  if (error === null || typeof error !== 'object') return error;
  if ((error as BodyParserErrorDetails).type === 'entity.parse.failed') return undefined;
  if (Object.hasOwn(error, 'body')) delete (error as { body?: unknown }).body;
  return error;
}

/**
 * The AuthError for an HTTP client error raised by Express or body-parser (a `status` from 400 to
 * 499 on the error: bad JSON, corrupt Content-Encoding, oversized body, malformed URL escapes). Its
 * message says how to make the call right, from body-parser's details (never its own words, which
 * may quote the body); its cause, the error without the body ({@link causeWithoutBody}).
 */
function clientError(error: unknown): AuthError | undefined {
  const code = httpStatusOf(error);
  if (code === undefined || code < 400 || code > 499) return undefined;
  const details = error as BodyParserErrorDetails;
  const cause = causeWithoutBody(error);
  if (code === 413) {
    const limit = typeof details.limit === 'number' ? ` (${details.limit} bytes)` : '';
    return new AuthError('payload_too_large', 413, `The body is larger than bodyLimit${limit}`, { cause });
  }
  if (code === 415) return new AuthError('unsupported_media_type', 415, undecodableBodyMessage(details), { cause });
  return new AuthError('invalid_request', 400, malformedRequestMessage(details), { cause });
}

/**
 * Converts anything thrown while serving a request into an AuthError: client errors become 4xx,
 * store outages 503 `temporarily_unavailable` (and a `store_error` event), anything unexpected a
 * 500 `server_error` whose message and stack never reach the client.
 */
export function toAuthError(error: unknown, operation: string, events: AuthEvents): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof StoreUnavailableError) {
    events.emit('store_error', { operation, error });
    return temporarilyUnavailable(error);
  }
  return clientError(error) ?? new AuthError('server_error', 500, 'Internal error in express-refresh-tokens', { cause: error });
}

/**
 * The last-resort error middleware: answers an AuthError that no error handler of the app took
 * care of, as JSON, instead of Express' HTML page with a stack trace.
 */
function expressRefreshTokensErrorHandler(error: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (!(error instanceof AuthError) || res.headersSent) return next(error);
  res.status(error.status).set(error.headers).set('Cache-Control', 'no-store').json(error.toJSON());
}

const appsWithFallback = new WeakSet<Application>();

/**
 * Appends {@link expressRefreshTokensErrorHandler} to the end of the top-level app's middleware
 * stack the first time the library serves a request in it. Registered then (after the app's
 * routes and error handlers exist), it only sees AuthErrors that the app's own handlers passed on.
 * Inside a mounted sub-app it goes on the outermost app, so the parent's handlers still come first.
 */
export function ensureFallbackErrorHandler(requestApp: Application | undefined): void {
  if (!requestApp || appsWithFallback.has(requestApp)) return;
  appsWithFallback.add(requestApp);
  let app = requestApp;
  while ((app as { parent?: Application }).parent) app = (app as { parent?: Application }).parent as Application;
  if (app !== requestApp && appsWithFallback.has(app)) return;
  appsWithFallback.add(app);
  app.use(expressRefreshTokensErrorHandler);
}
