// The refresh cookie: reading it strictly (one occurrence only), writing or clearing it, and warning when a browser will drop it.
// Reading: the `cookie` package, on the raw header (an app's cookie-parser is left alone), plus our
// check that the name occurs once (no parser reports a duplicated name). Writing: `Set-Cookie` lines
// in the form Express' `res.cookie` writes, built from parts known to be cookie-safe.
import { parse } from 'cookie';
import type { Request, Response } from 'express';
import { quoteReceived } from '../describe-value';
import type { Configuration } from '../options';
import { PRESENCE_COOKIE_SUFFIX } from '../shared/protocol';
import { hasWarned, warnOnce } from '../warn-once';

/** What the request carries under the refresh cookie's name. */
export type CookieReading = { status: 'absent' } | { status: 'duplicate' } | { status: 'present'; value: string };

/**
 * Where `name` occurs in the raw header (Node joins repeated `Cookie` headers with `; `): `-1` when
 * it does not, `-2` when it does more than once, else the index of its `name=value` pair. A pair is
 * what lies between semicolons; its name, what comes before its first `=`, trimmed. One pass, no
 * allocation beyond the candidate names (`eq` is reused until passed, so runs of `;` cost nothing).
 */
function pairIndex(header: string, name: string): number {
  let found = -1;
  let eq = -1;
  for (let start = 0; start < header.length; ) {
    const semicolon = header.indexOf(';', start);
    const end = semicolon === -1 ? header.length : semicolon;
    if (eq < start) eq = header.indexOf('=', start);
    if (eq === -1) break;
    if (eq < end && header.slice(start, eq).trim() === name) {
      if (found !== -1) return -2;
      found = start;
    }
    start = end + 1;
  }
  return found;
}

/**
 * Reads a cookie of ours (the refresh cookie, its presence cookie). A name that appears twice in the raw `Cookie` header(s) (cookie tossing
 * from a sibling subdomain or a narrower path) is reported as `duplicate`, never guessed. Otherwise
 * the value is the `cookie` package's reading of that one raw pair. `req.cookies` is not consulted,
 * even when cookie-parser filled it: its `j:` (JSON) and `s:` (signed) decodings would give one
 * token several spellings depending on the app's middleware; the raw value means one thing always.
 */
export function readCookie(req: Request, name: string): CookieReading {
  const header = req.headers.cookie;
  if (!header) return { status: 'absent' };
  const at = pairIndex(header, name);
  if (at === -1) return { status: 'absent' };
  if (at === -2) return { status: 'duplicate' };
  const semicolon = header.indexOf(';', at);
  const value = parse(header.slice(at, semicolon === -1 ? header.length : semicolon))[name];
  return value === undefined ? { status: 'absent' } : { status: 'present', value };
}

/** Mount paths that can go into a cookie attribute as they are. */
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~/]*$/;

/**
 * The cookie path: `/` for `__Host-` cookies (the prefix demands it), otherwise the path the router
 * is mounted at, so the cookie only travels to the auth routes. A mount path holding anything but
 * plain characters (it comes from the request URL when the mount has parameters) falls back to `/`,
 * so a URL can never add attributes to the cookie.
 */
function cookiePath(req: Request, cookie: Configuration['cookie']): string {
  return !cookie.hostPrefixed && PLAIN_PATH.test(req.baseUrl) ? req.baseUrl : '/';
}

/** How a browser is told to drop a cookie at once: an `Expires` in 1970 (as Express' `res.clearCookie` writes it). */
const EXPIRED = new Date(1).toUTCString();

/**
 * Adds one `Set-Cookie` line for a cookie of ours, in the form and attribute order Express'
 * `res.cookie` writes (`name=value; Max-Age=…; Path=…; Expires=…; HttpOnly; Secure; SameSite=…`), to
 * those already on the response. The refresh cookie is HttpOnly on {@link cookiePath}; its presence
 * cookie (`<name>-present`, holding nothing secret) is readable by scripts on `Path=/`, so every page
 * sees it. No `Domain`, ever. The same attributes set and clear a cookie, so a clearing always matches
 * the cookie it clears. Written here rather than by `res.cookie`, whose option copy, value encoding
 * and per-attribute checks are work for nothing on the busiest route: every part is cookie-safe
 * already (the name is checked at start-up, a value is a token of ours, base64url and dots, or a
 * base-36 day, a path is plain or `/`). `lifetimeS` (whole seconds) sets `Max-Age` and the matching
 * `Expires`; without it, the line is a clearing (empty value, `Expires` in 1970).
 */
function addCookie(res: Response, cookie: Configuration['cookie'], name: string, value: string, httpOnly: boolean, path: string, lifetimeS?: number): void {
  const expiry =
    lifetimeS === undefined
      ? `; Path=${path}; Expires=${EXPIRED}`
      : `; Max-Age=${lifetimeS}; Path=${path}; Expires=${new Date(Date.now() + lifetimeS * 1000).toUTCString()}`;
  const line = `${name}=${value}${expiry}${httpOnly ? '; HttpOnly' : ''}${cookie.secure ? '; Secure' : ''}; SameSite=${cookie.sameSite}`;
  const prior = res.getHeader('Set-Cookie');
  res.setHeader('Set-Cookie', prior === undefined ? line : Array.isArray(prior) ? [...prior, line] : [String(prior), line]);
}

/** A lifetime as a cookie's `Max-Age`: whole seconds, at least 1. */
function maxAgeOf(lifetimeMs: number): number {
  return Math.max(1, Math.floor(lifetimeMs / 1000));
}

/**
 * Sets the refresh cookie to live exactly as long as its family: `Max-Age`, and the matching
 * `Expires`.
 * A `Secure` cookie set on a request that will not keep it is reported ({@link warnIfBrowserDropsCookie}).
 */
export function setRefreshCookie(req: Request, res: Response, cookie: Configuration['cookie'], token: string, lifetimeMs: number): void {
  if (cookie.secure && !hasWarned(SECURE_COOKIE_OVER_HTTP)) warnIfBrowserDropsCookie(req);
  addCookie(res, cookie, cookie.name, token, true, cookiePath(req, cookie), maxAgeOf(lifetimeMs));
}

/** The process warning's code for a `Secure` cookie a browser will drop. */
const SECURE_COOKIE_OVER_HTTP = 'ERT_SECURE_COOKIE_OVER_HTTP';
/** An address in 127.0.0.0/8. */
const IPV4_LOOPBACK = /^127(?:\.\d{1,3}){3}$/;

/**
 * Whether browsers treat `hostname` (Express' `req.hostname`: no port, IPv6 in brackets) as a secure
 * context where a `Secure` cookie set over plain http is kept: `localhost` and `*.localhost`, the
 * IPv4 loopback network 127.0.0.0/8, and `[::1]`. Chromium and Firefox keep them there (checked
 * against Chromium in test/insecure-cookie-warning.test.ts); Safari keeps none over http, not even
 * on localhost, which the docs say next to `cookie.secure`.
 */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || IPV4_LOOPBACK.test(host);
}

/**
 * Warns, once per process (code `ERT_SECURE_COOKIE_OVER_HTTP`), when a `Secure` cookie goes out on a
 * request that did not arrive over https (`req.secure`, which follows Express' `trust proxy`) to a
 * host that is not a loopback one: the browser drops such a cookie without a word, so the user is
 * signed out on the next page load. The usual causes: plain http on a LAN name, an IP address or a
 * docker-compose service name, or a TLS proxy in front without `trust proxy`.
 */
function warnIfBrowserDropsCookie(req: Request): void {
  if (req.secure) return;
  const hostname: string | undefined = req.hostname;
  if (!hostname || isLoopbackHost(hostname)) return;
  warnOnce(
    SECURE_COOKIE_OVER_HTTP,
    `The refresh cookie is Secure, but it was just set on a plain http request to ${quoteReceived(hostname)}: browsers drop a Secure cookie set over http ` +
      '(except on localhost), so the user is signed out on the next page load. Serve the app over https; behind a proxy that ends TLS, ' +
      "set Express' trust proxy (e.g. app.set('trust proxy', 1)) so the request counts as https; for plain-http development, " +
      'pass `cookie: { secure: false }` to createAuth. (Said once per process.)',
  );
}

/** The longest a browser keeps a cookie: Chrome caps `Max-Age` and `Expires` at 400 days (RFC 6265bis). */
const MAX_BROWSER_COOKIE_LIFETIME_MS = 400 * 24 * 3600 * 1000;
const PRESENCE_VALUE = /^[0-9a-z]{1,9}$/;

/**
 * When the presence cookie the request carries expires (epoch ms), as its value says (to the day
 * since it is written as one; to the second before). `0` when the request carries none, or one this
 * scheme did not write (versions before it wrote `1`).
 */
export function presenceCookieExpiry(req: Request, cookie: Configuration['cookie']): number {
  const held = readCookie(req, `${cookie.name}${PRESENCE_COOKIE_SUFFIX}`);
  return held.status === 'present' && PRESENCE_VALUE.test(held.value) ? parseInt(held.value, 36) * 1000 : 0;
}

/** A day in milliseconds: the presence cookie's value is a whole (UTC) day. */
const DAY_MS = 86_400_000;

/**
 * Sets the presence cookie to live until `until` (the family's absolute deadline, which no refresh
 * cookie of the family outlives) or for 400 days, whichever ends first. Its value says when it
 * expires, to the day (epoch seconds of a UTC midnight, base 36: nothing secret), so a refresh can
 * tell whether the cookie the browser holds still outlives the refresh cookie, and leave it alone
 * when it does (one Set-Cookie less on the busiest route). Only to the day, because every script of
 * the page reads it: to the second, it would date the login to the second. The day is rounded up
 * from the family's deadline (no refresh cookie outlives it), and down from the 400-day cap (the
 * cookie reaches no later day). After an idle expiry it lingers: the client's next silent refresh
 * gets a 401, whose clearing removes it.
 */
export function setPresenceCookie(res: Response, cookie: Configuration['cookie'], until: number, now: number): void {
  const capped = until > now + MAX_BROWSER_COOKIE_LIFETIME_MS;
  const maxAge = maxAgeOf((capped ? now + MAX_BROWSER_COOKIE_LIFETIME_MS : until) - now);
  const day = capped ? Math.floor((now + maxAge * 1000) / DAY_MS) : Math.ceil(until / DAY_MS);
  addCookie(res, cookie, `${cookie.name}${PRESENCE_COOKIE_SUFFIX}`, ((day * DAY_MS) / 1000).toString(36), false, '/', maxAge);
}

/**
 * Tells the browser to drop the refresh cookie and its presence cookie: an empty value and `Expires`
 * in 1970, with the attributes they were set with (as Express' `res.clearCookie` writes it).
 */
export function clearRefreshCookie(req: Request, res: Response, cookie: Configuration['cookie']): void {
  addCookie(res, cookie, cookie.name, '', true, cookiePath(req, cookie));
  addCookie(res, cookie, `${cookie.name}${PRESENCE_COOKIE_SUFFIX}`, '', false, '/');
}
