// CSRF guard for the cookie-authenticated routes: custom header, Origin and Sec-Fetch-Site checks.
import type { NextFunction, Request, Response } from 'express';
import { quoteReceived } from './describe-value';
import { AuthError } from './errors';
import type { Configuration } from './options';

/**
 * Middleware that refuses a request unless it carries the configured header (which a cross-site
 * form or simple request cannot set), its `Origin` (when present) is the app's own or allowed, and
 * the browser did not mark it `Sec-Fetch-Site: cross-site`. Answers 403 `csrf_rejected`, whose
 * message says which check failed and how a legitimate caller passes it.
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
    next(rejected ? csrfRejected(req, csrf) : undefined);
  };
}

/**
 * The 403 for a request the guard refused. Its message (sent to the client: it is about how the
 * call was made) names the first check that failed, in the order the guard applies them, and the
 * fix: the header to send (a hand-made call's usual miss), a cross-site page, an https `Origin` on a
 * request the app saw as http (a TLS proxy without `trust proxy`), or an origin to allow.
 */
function csrfRejected(req: Request, csrf: Configuration['csrf']): AuthError {
  const marker = req.headers[csrf.headerName];
  const origin = req.headers.origin ?? '';
  let message: string;
  if (typeof marker !== 'string' || marker.trim() === '') {
    message =
      `Send the ${csrf.headerLabel} header with any non-empty value (e.g. curl -H '${csrf.headerLabel}: fetch'): ` +
      'a cross-site form cannot send it, which is what it guards against. An Origin header, when present (browsers send one), ' +
      "must also be this app's own origin or one of csrf.allowedOrigins.";
  } else if (req.headers['sec-fetch-site'] === 'cross-site') {
    message =
      'The browser marked this request Sec-Fetch-Site: cross-site; these routes take calls only from pages of the same site ' +
      '(csrf.allowedOrigins can add origins of this site, such as another subdomain or port, never another site).';
  } else if (req.protocol === 'http' && origin === `https://${req.headers.host ?? ''}`) {
    message =
      `The browser sent Origin ${quoteReceived(origin)}, but the request arrived over http. Behind a proxy that ends TLS, ` +
      "set Express' trust proxy (e.g. app.set('trust proxy', 1)) so the app sees https.";
  } else {
    message = `Origin ${quoteReceived(origin)} is neither this app's own origin nor one of csrf.allowedOrigins: add it there if pages on it should call these routes.`;
  }
  return new AuthError('csrf_rejected', 403, message);
}
