// The refresh cookie: reading it strictly (one occurrence only) and writing or clearing it.
import type { Request, Response } from 'express';
import type { Configuration } from './options';
import { PRESENCE_COOKIE_SUFFIX } from './shared/protocol';

/** What the request carries under the refresh cookie's name. */
export type CookieReading = { status: 'absent' } | { status: 'duplicate' } | { status: 'present'; value: string };

/**
 * Reads the refresh cookie from the raw `Cookie` header. A name that appears twice (cookie
 * tossing from a sibling subdomain or a narrower path) is reported as `duplicate`, never guessed.
 */
export function readRefreshCookie(req: Request, name: string): CookieReading {
  const header = req.headers.cookie;
  if (!header) return { status: 'absent' };
  let value: string | undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    if (value !== undefined) return { status: 'duplicate' };
    value = pair.slice(eq + 1).trim();
  }
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

interface CookieLine {
  name: string;
  value: string;
  path: string;
  httpOnly: boolean;
  maxAgeSeconds: number;
}

function serialize(cookie: Configuration['cookie'], line: CookieLine): string {
  const attributes = [`${line.name}=${line.value}`, `Path=${line.path}`, `Max-Age=${line.maxAgeSeconds}`];
  if (line.httpOnly) attributes.push('HttpOnly');
  attributes.push(`SameSite=${cookie.sameSite}`);
  if (line.maxAgeSeconds === 0) attributes.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (cookie.secure) attributes.push('Secure');
  return attributes.join('; ');
}

/**
 * Writes the refresh cookie and its presence cookie (`<name>-present=1`: readable by scripts, on
 * `Path=/` so every page sees it, holding nothing secret) with one lifetime; `0` clears both.
 */
function writeCookies(req: Request, res: Response, cookie: Configuration['cookie'], token: string, maxAgeSeconds: number): void {
  res.append('Set-Cookie', serialize(cookie, { name: cookie.name, value: token, path: cookiePath(req, cookie), httpOnly: true, maxAgeSeconds }));
  res.append('Set-Cookie', serialize(cookie, {
    name: `${cookie.name}${PRESENCE_COOKIE_SUFFIX}`,
    value: maxAgeSeconds === 0 ? '' : '1',
    path: '/',
    httpOnly: false,
    maxAgeSeconds,
  }));
}

/** Sets the refresh cookie (and its presence cookie) to live exactly as long as its family. */
export function setRefreshCookie(req: Request, res: Response, cookie: Configuration['cookie'], token: string, lifetimeMs: number): void {
  writeCookies(req, res, cookie, token, Math.max(1, Math.floor(lifetimeMs / 1000)));
}

/** Tells the browser to drop the refresh cookie and its presence cookie. */
export function clearRefreshCookie(req: Request, res: Response, cookie: Configuration['cookie']): void {
  writeCookies(req, res, cookie, '', 0);
}
