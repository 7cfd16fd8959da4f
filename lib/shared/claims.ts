// A token payload's own claims, copied whatever their names (`__proto__` included): one copy for the server and the browser client.
import { REGISTERED_CLAIM_NAMES } from './protocol';

/** Claim names the library sets itself; `authenticate` may not return claims with these names. */
export const REGISTERED_CLAIMS: ReadonlySet<string> = new Set(REGISTERED_CLAIM_NAMES);

/**
 * Sets one claim as an own, enumerable property: `__proto__` (a name JSON.parse makes) is defined,
 * not assigned, so it stays a claim instead of becoming `target`'s prototype.
 */
export function setClaim(target: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

/**
 * The app's own claims of a payload: every claim not in {@link REGISTERED_CLAIMS}, each set by
 * {@link setClaim}, so the server's `req.auth.claims` and the client's `user.claims` hold the same names.
 */
export function appClaims(payload: Record<string, unknown>): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(payload)) if (!REGISTERED_CLAIMS.has(name)) setClaim(claims, name, value);
  return claims;
}
