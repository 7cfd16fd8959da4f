// Where a request's refresh token travels: the HttpOnly cookie, or, for a client without cookies whose family is bound to a device key, the JSON body.
import type { Request } from 'express';
import { readCookie } from './cookies';

/**
 * How a refresh token travels: `cookie` (browsers: HttpOnly, never seen by scripts) or `body` (a
 * native app, a CLI: JSON `{ "refreshToken": "…" }` in, the `refreshToken` field of the token
 * response out). Only a family bound to a device key travels in the body: a bearer refresh token
 * outside an HttpOnly cookie is what binding exists to avoid.
 */
export type TokenTransport = 'cookie' | 'body';

/**
 * How a refresh or logout request sends its token: in the body when its content is JSON and it holds
 * no refresh cookie, else in the cookie. A browser's refresh has no body: one header lookup decides.
 */
export function transportOf(req: Request, cookieName: string): TokenTransport {
  if (req.headers['content-type'] === undefined) return 'cookie';
  return req.is('application/json') === 'application/json' && readCookie(req, cookieName).status === 'absent' ? 'body' : 'cookie';
}

/** The refresh token a request presents, and how it travelled. */
export interface PresentedToken {
  transport: TokenTransport;
  /** The cookie's value (undefined when absent or duplicated: cookie tossing), or the body's `refreshToken` when it is a string. */
  token: string | undefined;
}

/**
 * The refresh token a `/refresh` or `/logout` request presents ({@link transportOf} decides where
 * from; a body is read once the route has parsed it). The one reading of it, for the route and for
 * refresh throttling alike.
 */
export function presentedToken(req: Request, cookieName: string): PresentedToken {
  if (transportOf(req, cookieName) === 'body') {
    const token: unknown = (req.body as Record<string, unknown> | undefined)?.refreshToken;
    return { transport: 'body', token: typeof token === 'string' ? token : undefined };
  }
  const held = readCookie(req, cookieName);
  return { transport: 'cookie', token: held.status === 'present' ? held.value : undefined };
}
