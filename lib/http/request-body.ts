// JSON request bodies for POST /login: size-limited, JSON-only, objects only, no prototype keys.
import express, { type NextFunction, type Request, type Response } from 'express';
import { quoteReceived } from '../describe-value';
import { AuthError } from '../errors';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Deeper bodies are refused: a login form is flat, and the check below must stay cheap. */
const MAX_BODY_DEPTH = 32;

/**
 * Whether a parsed JSON value is acceptable: no `__proto__`, `constructor` or `prototype` key at
 * any depth, and no deeper than {@link MAX_BODY_DEPTH}. Iterative, so no body can exhaust the stack.
 */
export function isSafeJsonValue(root: unknown): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value: root, depth: 0 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value, depth } = item;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_BODY_DEPTH) return false;
    for (const [key, child] of Object.entries(value)) {
      if (FORBIDDEN_KEYS.has(key)) return false;
      pending.push({ value: child, depth: depth + 1 });
    }
  }
  return true;
}

/** The 415 for a body that is not JSON, naming what was sent and what to send instead. */
function unsupportedContentType(req: Request): AuthError {
  const sent = req.headers['content-type'];
  const received = sent === undefined ? 'no Content-Type' : quoteReceived(sent);
  return new AuthError('unsupported_media_type', 415, `Send a JSON body with Content-Type: application/json (received ${received})`);
}

/**
 * body-parser's `verify` hook, called with the charset it is about to decode the body with: only
 * UTF-8 passes (RFC 8259 §8.1), as a 415 the router's error handler words like body-parser's own.
 * body-parser refuses only charsets not starting `utf-` (RFC 7159 also allowed UTF-16 and UTF-32),
 * which lets UTF-7 through too, where `+ACI-` spells a quote no filter in front sees as one. Judged
 * here rather than read from the header, so it is the very charset body-parser decodes with.
 */
function requireUtf8(_req: Request, _res: Response, _body: Buffer, charset: string): void {
  if (charset !== 'utf-8') throw Object.assign(new Error('unsupported charset'), { status: 415, type: 'charset.unsupported', charset });
}

/**
 * Middleware chain that accepts only `Content-Type: application/json` (415 otherwise) in UTF-8 (415),
 * at most `limit` bytes (413), a JSON object (400) without prototype-polluting keys or deep nesting (400).
 * body-parser's own errors go on to the router's error handler, which maps them by status.
 */
export function jsonObjectBody(limit: number) {
  const parse = express.json({ limit, type: 'application/json', verify: requireUtf8 });
  return [
    function requireJsonContentType(req: Request, _res: Response, next: NextFunction): void {
      next(req.is('application/json') ? undefined : unsupportedContentType(req));
    },
    parse,
    function requireSafeObject(req: Request, _res: Response, next: NextFunction): void {
      const body: unknown = req.body;
      const valid = body !== null && typeof body === 'object' && !Array.isArray(body) && isSafeJsonValue(body);
      next(
        valid
          ? undefined
          : new AuthError('invalid_request', 400, 'The body must be a JSON object (not an array or a value), without __proto__, constructor or prototype keys'),
      );
    },
  ];
}
