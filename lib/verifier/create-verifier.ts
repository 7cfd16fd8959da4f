// createVerifier(): requireAuth for services other than the auth service, with the same verification, cache and revocation feed, read from the auth service's Redis.
import type { KeyObject } from 'node:crypto';
import type { RequestHandler } from 'express';
import { InvalidAccessTokenError } from '../errors';
import { type AuthEvents, createAuthEvents } from '../events';
import { createRequireAuth, type RequireAuthOptions } from '../http/require-auth';
import { createHealthHandler, type HealthReport, healthReport } from '../observability/health';
import { watchState } from '../observability/state-watch';
import { createTelemetry } from '../observability/telemetry';
import { redisKeys } from '../redis/keys';
import { ScriptClient } from '../redis/script-client';
import { RedisRevocationLog } from '../revocation/redis-revocation-source';
import type { StoreStatus } from '../store/session-store';
import { tokenVerifier, UnknownKeyError } from '../tokens/access-token-verification';
import type { AccessTokenAlgorithm } from '../tokens/signing-keys';
import { VERIFIED_TOKEN_CACHE_SIZE, VerifiedTokenCache } from '../tokens/verified-token-cache';
import { JwksClient } from './jwks-client';
import { fits, resolveVerifierOptions, type VerifierOptions, type VerifierSettings } from './verifier-options';

/**
 * How long the verifier keeps the revocation log's epoch and version alive when it heartbeats (it
 * only ever lengthens their lives, never shortens what the auth service set): longer than any
 * session lives, since the verifier is not told how long that is.
 */
const RETAIN_MS = 400 * 24 * 60 * 60 * 1000;

/**
 * What `createVerifier` returns: `requireAuth()` with `createAuth`'s semantics, the health check, and
 * `close()`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import type { Verifier } from 'express-refresh-tokens/verifier';
 *
 * export function protect(app: express.Express, verifier: Verifier): void {
 *   app.get('/health/ready', verifier.healthHandler());
 *   app.get('/orders', verifier.requireAuth(), (req, res) => res.json({ for: req.auth?.userId }));
 * }
 * ```
 */
export interface Verifier {
  /**
   * Middleware for protected routes, as `auth.requireAuth()`: sets `req.auth` or passes a 401 (RFC
   * 6750), a 400 for a malformed request, a 503 when the revocation feed cannot vouch for itself;
   * `{ optional, maxAge, amr, acr }` as there. No Redis command per request.
   */
  requireAuth(options?: RequireAuthOptions): RequestHandler;
  /** The health report (`fail` exactly when `requireAuth` answers 503), as `auth.health()`. */
  health(): HealthReport;
  /** Answers the health report as `application/health+json` (503 on `fail`), as `auth.healthHandler()`. */
  healthHandler(): RequestHandler;
  /** Resolves once the revocation feed has loaded (and, with `jwksUri`, the keys were fetched once). */
  ready(): Promise<void>;
  /** State changes (`feed_untrusted`, `feed_trusted`, `store_circuit_open`, …) and `store_error`, as on `auth.events`. */
  readonly events: AuthEvents;
  /** Stops the feed, its subscriber connection and timers. Never closes the Redis client it was given. */
  close(): Promise<void>;
}

/**
 * The key a token's header picks, for each kind of key source: a `kid` from the configured keys or the
 * fetched set (an unknown one an {@link UnknownKeyError}, which a fetched set answers by fetching
 * again), the one configured key for a token without a `kid`, or the `HS*` secret.
 */
function keyPicker(settings: VerifierSettings, jwks: JwksClient | undefined): (header: Record<string, unknown>, alg: AccessTokenAlgorithm) => KeyObject {
  const { keys } = settings;
  return (header, alg) => {
    if (keys.kind === 'secret') return keys.key;
    const kid = header.kid;
    if (kid === undefined && keys.kind === 'keys' && keys.byKid.size === 1) {
      const only = keys.byKid.values().next().value as KeyObject;
      if (fits(only, alg)) return only;
    }
    if (typeof kid !== 'string' || kid === '' || kid.length > 64) throw new InvalidAccessTokenError('missing or invalid kid');
    const key = jwks === undefined ? (keys.kind === 'keys' ? keys.byKid.get(kid) : undefined) : jwks.key(kid, alg);
    if (key === undefined) throw jwks === undefined ? new InvalidAccessTokenError('unknown kid') : new UnknownKeyError(kid, alg);
    if (jwks === undefined && !fits(key, alg)) throw new InvalidAccessTokenError('the key of this kid does not fit the algorithm');
    return key;
  };
}

/**
 * Creates a verifier: `requireAuth()` for a service other than the auth service, with exactly its
 * semantics, fed by the auth service's revocation feed (read from its Redis: zero commands per
 * request, fail closed when stale, a loss of Redis' data detected). Synchronous; validates every
 * option at once and throws a `TypeError`/`RangeError` saying how to fix it.
 *
 * @param options - See {@link VerifierOptions}: one key source, `algorithms`, `redis` and `revocation` are required.
 * @returns The verifier; call `close()` on shutdown.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { Redis } from 'ioredis';
 * import { createVerifier } from 'express-refresh-tokens/verifier';
 *
 * const verifier = createVerifier({
 *   jwksUri: 'https://auth.internal.example/auth/.well-known/jwks.json',
 *   algorithms: ['ES256'],
 *   redis: { client: new Redis(process.env.REDIS_URL ?? 'redis://localhost:6379'), prefix: 'auth:' },
 *   revocation: { feedKey: process.env.REVOCATION_FEED_KEY ?? '' },
 * });
 * const app = express();
 * app.get('/orders', verifier.requireAuth(), (req, res) => res.json({ for: req.auth?.userId }));
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const settings = resolveVerifierOptions(options);
  const algorithms = [...settings.algorithms];
  const jwks =
    settings.keys.kind === 'jwks' ? new JwksClient({ uri: settings.keys.uri, algorithms, unknownKidCooldownMs: settings.keys.cooldownMs }) : undefined;
  const verified = new VerifiedTokenCache(VERIFIED_TOKEN_CACHE_SIZE);
  // A key that left the set verifies nothing from then on, tokens it verified before included.
  jwks?.onChange(() => verified.clear());
  const codec = {
    verify: tokenVerifier({ algorithms: settings.algorithms, keyFor: keyPicker(settings, jwks), issuer: settings.issuer, audience: settings.audience }),
  };

  const scripts = new ScriptClient(settings.client, settings.commandTimeoutMs);
  const log = RedisRevocationLog.on(scripts, settings.client, redisKeys(settings.prefix), settings.commandTimeoutMs);
  const feed = log.open({ maxStalenessMs: settings.maxStalenessMs, retainMs: RETAIN_MS, channelKey: settings.feedKey });
  const store = {
    status: (): StoreStatus => ({
      circuit: scripts.gate.isCircuitOpen ? 'open' : 'closed',
      problem: scripts.gate.problem,
      clockOffsetMs: scripts.gate.clock.offset,
    }),
  };
  const events = createAuthEvents();
  const sources = { feed, store, maxStalenessMs: settings.maxStalenessMs };
  const stateWatch = watchState({ ...sources, events, logger: settings.logger });
  const telemetry = createTelemetry(settings.telemetry, { events, feed, store });
  const health = (): HealthReport => healthReport({ ...sources, accessToken: { algorithm: algorithms[0] as AccessTokenAlgorithm, kid: undefined } });
  const fetchKey = jwks === undefined ? undefined : async (kid: string, alg: AccessTokenAlgorithm) => (await jwks.keyAfterRefetch(kid, alg)) !== undefined;
  // Fetched at once, so the first requests find the keys there (a failure is retried on the first unknown kid).
  jwks?.ready().catch(() => undefined);
  let closing: Promise<void> | undefined;

  return {
    requireAuth: (requireOptions) => createRequireAuth({ codec, verified, feed, events, realm: settings.realm, telemetry, fetchKey }, requireOptions),
    health,
    healthHandler: () => createHealthHandler(health),
    ready: async () => {
      await Promise.all([feed.ready(), jwks?.ready()]);
    },
    events,
    close() {
      closing ??= (async () => {
        stateWatch.stop();
        jwks?.close();
        await log.close();
        scripts.close();
        telemetry.close();
      })();
      return closing;
    },
  };
}
