// CSRF guard for the cookie-authenticated routes: custom header, Origin and Sec-Fetch-Site checks.
import type { NextFunction, Request, Response } from 'express';
import { AuthError } from './errors';
import type { Configuration } from './options';

/**
 * Middleware that refuses a request unless it carries the configured header (which a cross-site
 * form or simple request cannot set), its `Origin` (when present) is the app's own or allowed, and
 * the browser did not mark it `Sec-Fetch-Site: cross-site`. Answers 403 `csrf_rejected`.
 */
export function csrfGuard(csrf: Configuration['csrf']) {
  return function csrfGuardMiddleware(req: Request, _res: Response, next: NextFunction): void {
    const marker = req.headers[csrf.headerName];
    const origin = req.headers.origin;
    const rejected =
      typeof marker !== 'string' ||
      marker.trim() === '' ||
      req.headers['sec-fetch-site'] === 'cross-site' ||
      (origin !== undefined && origin !== `${req.protocol}://${req.headers.host ?? ''}` && !csrf.allowedOrigins.has(origin));
    next(rejected ? new AuthError('csrf_rejected', 403, 'Cross-site request refused') : undefined);
  };
}
