// The refresh cookie: reading it strictly (one occurrence only) and writing or clearing it.
import type { Request, Response } from 'express';
import type { Configuration } from './options';

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

function serialize(req: Request, cookie: Configuration['cookie'], value: string, maxAgeSeconds: number): string {
  const attributes = [`${cookie.name}=${value}`, `Path=${cookiePath(req, cookie)}`, `Max-Age=${maxAgeSeconds}`, 'HttpOnly', `SameSite=${cookie.sameSite}`];
  if (maxAgeSeconds === 0) attributes.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (cookie.secure) attributes.push('Secure');
  return attributes.join('; ');
}

/** Sets the refresh cookie to live exactly as long as its family. */
export function setRefreshCookie(req: Request, res: Response, cookie: Configuration['cookie'], token: string, lifetimeMs: number): void {
  res.append('Set-Cookie', serialize(req, cookie, token, Math.max(1, Math.floor(lifetimeMs / 1000))));
}

/** Tells the browser to drop the refresh cookie. */
export function clearRefreshCookie(req: Request, res: Response, cookie: Configuration['cookie']): void {
  res.append('Set-Cookie', serialize(req, cookie, '', 0));
}
