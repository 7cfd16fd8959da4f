// CSRF guard for the cookie-authenticated routes: custom header, Origin and Sec-Fetch-Site checks.
import type { NextFunction, Request, Response } from 'express';
import { quoteReceived } from '../describe-value';
import { AuthError } from '../errors';
import type { Configuration } from '../options';

/**
 * Middleware that refuses a request unless it carries the configured header (which a cross-site
 * form or simple request cannot set), its `Origin` (when present) is the app's own or allowed, and
 * the browser did not mark it `Sec-Fetch-Site: cross-site`. Answers 403 `csrf_rejected`, whose
 * message says which check failed and how a legitimate caller passes it.
 */
export function csrfGuard(csrf: Configuration['csrf']) {
  return function csrfGuardMiddleware(req: Request, _res: Response, next: NextFunction): void {
    const refusal = csrfRefusal(req, csrf);
    next(refusal === undefined ? undefined : new AuthError('csrf_rejected', 403, refusal));
  };
}

/**
 * Why the guard refuses a request, or `undefined` when it passes. The reason (sent to the client in
 * the 403: it is about how the call was made) names the first check that failed, in this order, and
 * the fix: the header to send (a hand-made call's usual miss), a cross-site page, an https `Origin`
 * on a request the app saw as http (a TLS proxy without `trust proxy`), or an origin to allow.
 */
function csrfRefusal(req: Request, csrf: Configuration['csrf']): string | undefined {
  const marker = req.headers[csrf.headerName];
  if (typeof marker !== 'string' || marker.trim() === '') {
    return (
      `Send the ${csrf.headerLabel} header with any non-empty value (e.g. curl -H '${csrf.headerLabel}: fetch'): ` +
      'a cross-site form cannot send it, which is what it guards against. An Origin header, when present (browsers send one), ' +
      "must also be this app's own origin or one of csrf.allowedOrigins."
    );
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') {
    return (
      'The browser marked this request Sec-Fetch-Site: cross-site; these routes take calls only from pages of the same site ' +
      '(csrf.allowedOrigins can add origins of this site, such as another subdomain or port, never another site).'
    );
  }
  const origin = req.headers.origin;
  if (origin === undefined || origin === `${req.protocol}://${req.headers.host ?? ''}` || csrf.allowedOrigins.has(origin)) return undefined;
  if (req.protocol === 'http' && origin === `https://${req.headers.host ?? ''}`) {
    return (
      `The browser sent Origin ${quoteReceived(origin)}, but the request arrived over http. Behind a proxy that ends TLS, ` +
      "set Express' trust proxy (e.g. app.set('trust proxy', 1)) so the app sees https."
    );
  }
  return `Origin ${quoteReceived(origin)} is neither this app's own origin nor one of csrf.allowedOrigins: add it there if pages on it should call these routes.`;
}
