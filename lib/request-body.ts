// JSON request bodies for POST /login: size-limited, JSON-only, objects only, no prototype keys.
import express, { type NextFunction, type Request, type Response } from 'express';
import { AuthError } from './errors';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Whether a parsed JSON value contains a `__proto__`, `constructor` or `prototype` key at any depth. */
export function hasForbiddenKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  return Object.keys(value).some((key) => FORBIDDEN_KEYS.has(key) || hasForbiddenKey((value as Record<string, unknown>)[key]));
}

/** Translates body-parser's errors (which carry `type` and `status`) into AuthErrors. */
export function bodyParserError(error: unknown): AuthError | undefined {
  if (error === null || typeof error !== 'object' || typeof (error as { type?: unknown }).type !== 'string') return undefined;
  const status = (error as { status?: unknown }).status;
  if (status === 413) return new AuthError('payload_too_large', 413, 'Request body too large');
  if (status === 415) return new AuthError('unsupported_media_type', 415, 'Unsupported body encoding');
  return new AuthError('invalid_request', 400, 'Request body is not valid JSON');
}

/**
 * Middleware chain that accepts only `Content-Type: application/json` (415 otherwise), at most
 * `limit` bytes (413), a JSON object (400) without prototype-polluting keys (400).
 */
export function jsonObjectBody(limit: number) {
  const parse = express.json({ limit, type: 'application/json' });
  return [
    function requireJsonContentType(req: Request, _res: Response, next: NextFunction): void {
      next(req.is('application/json') ? undefined : new AuthError('unsupported_media_type', 415, 'Send a JSON body with Content-Type: application/json'));
    },
    function parseJsonBody(req: Request, res: Response, next: NextFunction): void {
      parse(req, res, (error?: unknown) => next(error === undefined ? undefined : bodyParserError(error) ?? error));
    },
    function requireSafeObject(req: Request, _res: Response, next: NextFunction): void {
      const body: unknown = req.body;
      const valid = body !== null && typeof body === 'object' && !Array.isArray(body) && !hasForbiddenKey(body);
      next(valid ? undefined : new AuthError('invalid_request', 400, 'The body must be a JSON object without __proto__ or constructor keys'));
    },
  ];
}
