// The JSON Web Key Set (RFC 7517 §5) of the access-token verifying keys, and the handler that publishes it.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { sha256Base64url } from './hashing';
import type { AccessTokenAlgorithm, Configuration } from './options';
import { publicJwkMembers } from './signing-keys';

/**
 * One published key: its public members only, with `kid`, `alg` and `use: 'sig'`. Fits `createPublicKey({ key, format: 'jwk' })`.
 *
 * Declared here rather than taken from `node:crypto`, whose JWK type moves between @types/node majors
 * (`JsonWebKey` is gone from 25 on). A type alias, not an interface, so it fits both shapes Node's
 * `createPublicKey` has taken: the older one with an index signature and the newer one without.
 *
 * @example
 * ```ts
 * import { createPublicKey } from 'node:crypto';
 * import type { PublicJwk } from 'express-refresh-tokens';
 *
 * const byKid = new Map(auth.jwks.keys.map((jwk: PublicJwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]));
 * ```
 */
export type PublicJwk = {
  /** The key type: `RSA` for `RS*`/`PS*`, `EC` for `ES*`, `OKP` for `EdDSA`. */
  kty: 'RSA' | 'EC' | 'OKP';
  /** The key id tokens carry in their `kid` header. */
  kid: string;
  /** The one algorithm access tokens use. */
  alg: AccessTokenAlgorithm;
  /** Always `'sig'`: the key checks signatures. */
  use: 'sig';
  /** EC and OKP keys: the curve (`P-256`, `Ed25519`, ...). */
  crv?: string;
  /** RSA keys: the modulus. */
  n?: string;
  /** RSA keys: the public exponent. */
  e?: string;
  /** EC and OKP keys: the public point. */
  x?: string;
  /** EC keys: the public point's y coordinate. */
  y?: string;
};

/**
 * What `GET {mount}/.well-known/jwks.json` answers, and `auth.jwks` holds.
 *
 * @example
 * ```ts
 * import type { Jwks } from 'express-refresh-tokens';
 *
 * const response = await fetch('https://auth.example/auth/.well-known/jwks.json');
 * const jwks = (await response.json()) as Jwks;
 * console.log(jwks.keys.map((key) => `${key.kid} (${key.alg})`)); // the signing key first
 * ```
 */
export interface Jwks {
  /** The verifying keys, the signing one first; empty for `HS*`. */
  keys: readonly PublicJwk[];
}

/** How long clients and caches may keep the key set, in seconds. */
export const JWKS_MAX_AGE_SECONDS = 300;

/**
 * Builds the key set once, at start-up: every verifying key, the signing one first. Empty for `HS*`:
 * a shared secret is never published. Only public members are copied (an allow-list, not a filter),
 * so no private (`d`, `p`, `q`, `dp`, `dq`, `qi`) or symmetric (`k`) member can ever appear.
 */
export function buildJwks(config: Pick<Configuration['accessToken'], 'algorithm' | 'verifyingKeys'>): Jwks {
  if (config.algorithm.startsWith('HS')) return Object.freeze({ keys: Object.freeze([]) });
  const keys: PublicJwk[] = [];
  for (const [kid, key] of config.verifyingKeys) {
    if (key.type !== 'public') continue; // never anything but a public key
    const jwk: PublicJwk = { ...publicJwkMembers(key), kid, alg: config.algorithm, use: 'sig' };
    keys.push(Object.freeze(jwk));
  }
  return Object.freeze({ keys: Object.freeze(keys) });
}

/**
 * The Express handler serving a key set built by {@link buildJwks}: `application/json`,
 * `Cache-Control: public, max-age=300` and an ETag (a matching `If-None-Match` gets 304). GET and HEAD
 * only; other methods pass to `next()`. The body is serialised once.
 */
export function jwksHandler(jwks: Jwks): RequestHandler {
  const body = JSON.stringify({ keys: jwks.keys });
  const etag = `"${sha256Base64url(body).slice(0, 27)}"`;
  return function serveJwks(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    res.set({
      'Cache-Control': `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
      ETag: etag,
      'Content-Type': 'application/json; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    res.status(200).send(body);
  };
}
