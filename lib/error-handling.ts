// Turning failures into AuthErrors, and answering them as JSON when the app has no handler for them.
import type { Application, NextFunction, Request, Response } from 'express';
import { AuthError, StoreUnavailableError, temporarilyUnavailable } from './errors';
import type { AuthEvents } from './events';

/** The HTTP status an error carries as `status` or `statusCode` (http-errors' convention), if any. */
export function httpStatusOf(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * The AuthError for an HTTP client error raised by Express or body-parser (a `status` from 400 to
 * 499 on the error: bad JSON, corrupt Content-Encoding, oversized body, malformed URL escapes).
 */
function clientError(error: unknown): AuthError | undefined {
  const code = httpStatusOf(error);
  if (code === undefined || code < 400 || code > 499) return undefined;
  if (code === 413) return new AuthError('payload_too_large', 413, 'Request body too large', { cause: error });
  if (code === 415) return new AuthError('unsupported_media_type', 415, 'Unsupported body encoding or charset', { cause: error });
  return new AuthError('invalid_request', 400, 'Malformed request', { cause: error });
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
