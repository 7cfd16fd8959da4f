// The warning for X-Forwarded-For reaching the router while Express trusts no proxy: every client then has the proxy's address.
import type { Request } from 'express';
import { hasWarned, warnOnce } from '../warn-once';

/** The process warning's code. */
const TRUST_PROXY_NOT_SET = 'ERT_TRUST_PROXY_NOT_SET';

/**
 * Warns, once per process (code `ERT_TRUST_PROXY_NOT_SET`), when a request carries `X-Forwarded-For`
 * while Express' `trust proxy` is off (`false`, its default, or `0`): behind a proxy, `req.ip` is
 * then the proxy's address for every client, so one client's failed logins throttle everyone behind
 * it and the refresh grace window cannot tell clients apart. The same condition as express-rate-limit's
 * `ERR_ERL_UNEXPECTED_X_FORWARDED_FOR`, which its own key generator checks and the library's (which
 * replaces it) did not. The header's value is never repeated: a client chooses it.
 */
export function warnIfProxyUntrusted(req: Request): void {
  if (hasWarned(TRUST_PROXY_NOT_SET) || req.headers['x-forwarded-for'] === undefined) return;
  const setting: unknown = req.app?.get('trust proxy');
  if (setting !== false && setting !== 0) return;
  warnOnce(
    TRUST_PROXY_NOT_SET,
    "A request reached the auth router with an X-Forwarded-For header while Express' `trust proxy` setting is off (the default), " +
      "so behind a proxy every client has the proxy's address: one client's failed logins throttle everyone behind it, and the " +
      "refresh grace window cannot tell clients apart. Set it to match your proxies, e.g. app.set('trust proxy', 1) for one proxy " +
      "in front, or 'loopback' for one on the same host (never true, which lets any client choose its address). Without a proxy, " +
      'a client sent the header itself and there is nothing to do. (Said once per process.)',
  );
}
