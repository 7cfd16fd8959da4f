// RedisStore's options: the client it needs, their types, and their validation at construction.
import { describeValue as describe } from '../describe-value';
import { ErrorCodes } from '../errors';
import { checkKnownKeys, configurationError, type KnownOptions, missingOr } from '../option-checks';
import type { ConnectionLike } from '../redis/command-gate';
import type { SubscriberLike } from '../revocation/redis-revocation-feed';

/** An argument of a Redis command as {@link RedisClientLike} takes it. */
export type RedisArg = string | number;

/**
 * The part of an ioredis `Redis` or `Cluster` client that RedisStore uses. Any ioredis client fits;
 * the type is structural so this package does not force an ioredis version on you.
 *
 * @example
 * ```ts
 * import { Cluster } from 'ioredis';
 * import { RedisStore, type RedisClientLike } from 'express-refresh-tokens';
 *
 * const client: RedisClientLike = new Cluster([{ host: 'redis-1', port: 6379 }, { host: 'redis-2', port: 6379 }]);
 * const store = new RedisStore({ client, prefix: 'auth:' });
 * ```
 */
export interface RedisClientLike extends ConnectionLike {
  /** Runs a loaded script by its SHA-1 (ioredis' `evalsha`). */
  evalsha(sha: string, numKeys: number, ...args: RedisArg[]): Promise<unknown>;
  /** Loads and runs a script, after a `NOSCRIPT` answer (ioredis' `eval`). */
  eval(script: string, numKeys: number, ...args: RedisArg[]): Promise<unknown>;
  /** Reads a string key (ioredis' `get`). */
  get(key: string): Promise<string | null>;
  /** Reads a range of a sorted set (ioredis' `zrange`). */
  zrange(key: string, start: number, stop: number): Promise<string[]>;
  /** Removes members of a sorted set (ioredis' `zrem`). */
  zrem(key: string, ...members: string[]): Promise<number>;
  /** A new connection with the same options: the revocation feed's subscriber. */
  duplicate(): SubscriberLike;
}

/**
 * Options for {@link RedisStore}.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStore, type RedisStoreOptions } from 'express-refresh-tokens';
 *
 * const options: RedisStoreOptions = {
 *   client: new Redis(process.env.REDIS_URL ?? 'redis://localhost:6379', { lazyConnect: true }),
 *   prefix: 'myapp:auth:', // default 'ert:'
 *   commandTimeoutMs: 500, // answer 503 after half a second rather than wait (default 1000)
 * };
 * const store = new RedisStore(options);
 * ```
 */
export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster`, connected or not (`lazyConnect` works). The store never closes it. Required. */
  client: RedisClientLike;
  /** Prepended to every key, e.g. `'auth:'`; must not hold `{` or `}`. Defaults to `'ert:'`. */
  prefix?: string;
  /**
   * How long one store operation may take, waiting for the connection included, before it fails
   * with a 503, in milliseconds. After such a timeout, operations fail at once until Redis answers
   * a probe again. Defaults to `1000`.
   */
  commandTimeoutMs?: number;
}

/** The longest delay setTimeout honours; beyond it Node fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

const REDIS_STORE_OPTIONS = { client: true, prefix: true, commandTimeoutMs: true } satisfies KnownOptions<RedisStoreOptions>;

/**
 * Validates {@link RedisStoreOptions} and fills in the defaults; throws a TypeError or RangeError
 * (code `ERR_MISSING_OPTION`, `ERR_UNKNOWN_OPTION` or `ERR_INVALID_OPTION`) that says how to fix it.
 */
export function redisStoreSettings(options: RedisStoreOptions): Required<RedisStoreOptions> {
  if (options === null || typeof options !== 'object') {
    throw configurationError('type', missingOr(options), 'RedisStore: options must be an object like `{ client: new Redis(url), prefix: "auth:" }`.');
  }
  checkKnownKeys('', options, REDIS_STORE_OPTIONS, 'RedisStore');
  return redisConnectionSettings(options, 'RedisStore', '');
}

/**
 * Checks a client, a key prefix and a command timeout (RedisStore's, or the verifier's `redis`), and
 * fills in the defaults (`'ert:'`, 1000 ms). Messages begin `<caller>: \`<section><option>\``.
 */
export function redisConnectionSettings<Client extends { evalsha?: unknown; duplicate?: unknown }>(
  options: { client?: Client; prefix?: unknown; commandTimeoutMs?: unknown },
  caller: string,
  section: string,
): { client: Client; prefix: string; commandTimeoutMs: number } {
  const { client, prefix = 'ert:', commandTimeoutMs = 1000 } = options;
  const name = (option: string): string => `${caller}: \`${section}${option}\``;
  if (!client || typeof client !== 'object' || typeof client.evalsha !== 'function' || typeof client.duplicate !== 'function') {
    throw configurationError(
      'type',
      missingOr(client),
      `${name('client')} must be an ioredis Redis or Cluster instance; received ${describe(client)}. Pass \`{ client: new Redis(process.env.REDIS_URL) }\`.`,
    );
  }
  if (typeof prefix !== 'string') {
    throw configurationError('type', ErrorCodes.ERR_INVALID_OPTION, `${name('prefix')} must be a string such as 'auth:'; received ${describe(prefix)}.`);
  }
  if (/[{}]/.test(prefix)) {
    throw configurationError(
      'type',
      ErrorCodes.ERR_INVALID_OPTION,
      `${name('prefix')} must not contain '{' or '}'; received ${describe(prefix)}. ` +
        'The store adds its own hash tags so that the keys of one session share a Redis Cluster slot; remove the braces.',
    );
  }
  if (typeof commandTimeoutMs !== 'number' || !Number.isInteger(commandTimeoutMs) || commandTimeoutMs <= 0 || commandTimeoutMs > MAX_TIMER_MS) {
    throw configurationError(
      'range',
      ErrorCodes.ERR_INVALID_OPTION,
      `${name('commandTimeoutMs')} must be a positive whole number of milliseconds, at most ${MAX_TIMER_MS}; received ${describe(commandTimeoutMs)}.`,
    );
  }
  return { client, prefix, commandTimeoutMs };
}
