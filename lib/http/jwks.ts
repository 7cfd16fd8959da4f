// The JSON Web Key Set (RFC 7517 §5) of the access-token verifying keys, and the handler that publishes it.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Configuration } from '../options';
import { sha256Base64url } from '../tokens/hashing';
import { keyRetired, nextKeyRetirement, type PublicJwk, publicJwkMembers } from '../tokens/signing-keys';

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
const JWKS_MAX_AGE_SECONDS = 300;

/** What the key set is built from: the algorithm, the verifying keys and when those given a `notAfter` retire. */
export type JwksSource = Pick<Configuration['accessToken'], 'algorithm' | 'verifyingKeys' | 'keyNotAfter'>;

/**
 * Builds the key set at `now`: every verifying key not past its `notAfter`, the signing one first.
 * Empty for `HS*`: a shared secret is never published. Only public members are copied (an
 * allow-list, not a filter), so no private (`d`, `p`, `q`, `dp`, `dq`, `qi`) or symmetric (`k`)
 * member can ever appear.
 */
export function buildJwks(config: JwksSource, now: number = Date.now()): Jwks {
  if (config.algorithm.startsWith('HS')) return Object.freeze({ keys: Object.freeze([]) });
  const keys: PublicJwk[] = [];
  for (const [kid, key] of config.verifyingKeys) {
    if (key.type !== 'public') continue; // never anything but a public key
    if (keyRetired(config.keyNotAfter, kid, now)) continue;
    const jwk: PublicJwk = { ...publicJwkMembers(key), kid, alg: config.algorithm, use: 'sig' };
    keys.push(Object.freeze(jwk));
  }
  return Object.freeze({ keys: Object.freeze(keys) });
}

/** The key set as served at one moment: its JSON and ETag, and how long a cache may keep it. */
export interface PublishedJwks {
  jwks: Jwks;
  body: string;
  etag: string;
  /** {@link JWKS_MAX_AGE_SECONDS}, or less when a key retires sooner: no cache keeps a key past its `notAfter`. */
  maxAgeSeconds: number;
}

/**
 * The published key set over time: built at start-up, and again only when a key's `notAfter` has
 * passed (it then leaves the set). `auth.jwks` and the JWKS route read it.
 */
export class PublishedKeys {
  private published: Omit<PublishedJwks, 'maxAgeSeconds'>;
  /** When the set next changes (epoch ms): the next `notAfter` still ahead, or `Infinity`. */
  private changesAt: number;

  constructor(private readonly source: JwksSource) {
    const now = Date.now();
    this.published = PublishedKeys.publish(source, now);
    this.changesAt = nextKeyRetirement(source.keyNotAfter, now);
  }

  private static publish(source: JwksSource, now: number): Omit<PublishedJwks, 'maxAgeSeconds'> {
    const jwks = buildJwks(source, now);
    const body = JSON.stringify({ keys: jwks.keys });
    return { jwks, body, etag: `"${sha256Base64url(body).slice(0, 27)}"` };
  }

  /** The key set at `now` (epoch ms), rebuilt first if a key has retired since it was built. */
  at(now: number): PublishedJwks {
    if (now >= this.changesAt) {
      this.published = PublishedKeys.publish(this.source, now);
      this.changesAt = nextKeyRetirement(this.source.keyNotAfter, now);
    }
    const maxAgeSeconds = Math.min(JWKS_MAX_AGE_SECONDS, Math.ceil((this.changesAt - now) / 1000));
    return { ...this.published, maxAgeSeconds };
  }
}

/**
 * The Express handler serving the {@link PublishedKeys}: `application/json`, `Cache-Control:
 * public, max-age=300` (less when a key retires sooner) and an ETag (a matching `If-None-Match` gets
 * 304). GET and HEAD only; other methods pass to `next()`. The body is serialised once per key set.
 */
export function jwksHandler(keys: PublishedKeys): RequestHandler {
  return function serveJwks(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const { body, etag, maxAgeSeconds } = keys.at(Date.now());
    res.set({
      'Cache-Control': `public, max-age=${maxAgeSeconds}`,
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
