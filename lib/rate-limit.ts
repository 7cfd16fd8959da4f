// Login throttling: failed logins per IP + username, and a loose per-IP limit on /refresh and /logout.
import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, type Logger, type RateLimitInfo, MemoryStore as RateLimitMemoryStore, rateLimit, type Store } from 'express-rate-limit';
import { RedisStore as RateLimitRedisStore, type SendCommandFn } from 'rate-limit-redis';
import { describeValue } from './describe-value';
import { type Duration, describeMs, parseDuration } from './duration';
import { AuthError, type AuthErrorCode, describeStoreCause, ErrorCodes, StoreUnavailableError } from './errors';
import { sha256Base64url } from './hashing';
import { checkKnownKeys, configurationError, fail } from './option-checks';
import type { ConnectionWatch } from './store/redis-connection-watch';

/**
 * One limit: at most `max` counted requests per `window`.
 *
 * @example
 * ```ts
 * import { createAuth, type RateLimitRule } from 'express-refresh-tokens';
 *
 * const strict: RateLimitRule = { max: 5, window: '30m' };
 * const auth = createAuth({ ...options, rateLimit: { login: strict } });
 * ```
 */
export interface RateLimitRule {
  /** How many counted requests a client may make per window: 1 to 1000000. */
  max?: number;
  /** The window, 1 s to 1 day: seconds, or a string like `'15m'`. Counting starts at a client's first counted request. */
  window?: Duration;
}

/**
 * The limit on failed logins, per client IP address and username.
 *
 * @example
 * ```ts
 * import type { LoginRateLimitOptions } from 'express-refresh-tokens';
 *
 * // For an `authenticate` that reads `req.body.email`.
 * const login: LoginRateLimitOptions = { max: 10, window: '15m', username: (req) => req.body.email };
 * ```
 */
export interface LoginRateLimitOptions extends RateLimitRule {
  /** Failed logins allowed per IP address and username in a window. Defaults to `10`. */
  max?: number;
  /** Defaults to `'15m'`. */
  window?: Duration;
  /**
   * Where a login request names its account; the value is trimmed, lower-cased and capped in length
   * (only a hash of it is stored). Called with the parsed JSON body in `req.body`. Defaults to
   * `req.body.username`, or `req.body.email` when there is no `username` (and with the default, a
   * body holding both is refused with 400).
   *
   * @example
   * ```ts
   * const login: LoginRateLimitOptions = { username: (req) => req.body.login };
   * ```
   */
  username?: (req: Request) => unknown;
}

/**
 * The limit on `POST /refresh` and `POST /logout` together, per client IP address, counted per instance.
 *
 * @example
 * ```ts
 * import type { RefreshRateLimitOptions } from 'express-refresh-tokens';
 *
 * const refresh: RefreshRateLimitOptions = { max: 1000, window: '1m' }; // many users behind one NAT
 * ```
 */
export interface RefreshRateLimitOptions extends RateLimitRule {
  /** Requests allowed per IP address in a window: loose, for an office behind one address. Defaults to `300`. */
  max?: number;
  /** Defaults to `'1m'`. */
  window?: Duration;
}

/**
 * The `rateLimit` option of `createAuth`. On by default:
 * - `login`: 10 failed logins (401) per 15 minutes per client IP and username; a successful login
 *   does not count. Another user behind the same IP, or the same user from another IP, is not locked out.
 * - `refresh`: 300 requests per minute per client IP to `POST /refresh` and `POST /logout` together.
 *
 * Past a limit the router answers 429 `{ error: 'too_many_requests' }` with `Retry-After`. With a
 * `RedisStore` the counts live in Redis (keys `<prefix>rl:...`), so they hold across instances;
 * otherwise in the process. `false` turns all throttling off, `login: false` or `refresh: false` one
 * limit. Client addresses are `req.ip`: set Express' `trust proxy` to match your proxies.
 *
 * @example
 * ```ts
 * import type { RateLimitOptions } from 'express-refresh-tokens';
 *
 * const rateLimit: RateLimitOptions = { login: { max: 5, window: '30m' }, refresh: { max: 600 } };
 * const inTests: RateLimitOptions = false; // no throttling at all
 * ```
 */
export type RateLimitOptions =
  | {
      /** The failed-login limit; `false` turns it off. Defaults to `{ max: 10, window: '15m' }`. */
      login?: LoginRateLimitOptions | false;
      /** The `/refresh` and `/logout` limit; `false` turns it off. Defaults to `{ max: 300, window: '1m' }`. */
      refresh?: RefreshRateLimitOptions | false;
    }
  | false;

/** One limit, validated. */
export interface ResolvedRule {
  max: number;
  windowMs: number;
}

/** The validated form of {@link RateLimitOptions} (when not `false`). */
export interface ResolvedRateLimit {
  login: (ResolvedRule & { username: (req: Request) => unknown }) | false;
  refresh: ResolvedRule | false;
}

/** The defaults of {@link RateLimitOptions}. */
export const RATE_LIMIT_DEFAULTS = {
  login: { max: 10, window: '15m' },
  refresh: { max: 300, window: '1m' },
} as const;

const KNOWN_KEYS = {
  rateLimit: ['login', 'refresh'],
  'rateLimit.login': ['max', 'window', 'username'],
  'rateLimit.refresh': ['max', 'window'],
} as const;

const MAX_REQUESTS = 1_000_000;
const MIN_WINDOW_MS = 1000;
const MAX_WINDOW_MS = 86_400_000;

function section(name: keyof typeof KNOWN_KEYS, value: unknown, fix: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('type', name, `must be an object or false; received ${describeValue(value)}`, fix);
  }
  checkKnownKeys(name, value, KNOWN_KEYS[name]);
  return value as Record<string, unknown>;
}

function rule(name: 'rateLimit.login' | 'rateLimit.refresh', value: Record<string, unknown>, defaults: { max: number; window: Duration }): ResolvedRule {
  const max = value.max ?? defaults.max;
  if (typeof max !== 'number') {
    fail('type', `${name}.max`, `must be a whole number from 1 to ${MAX_REQUESTS}; received ${describeValue(max)}`, `Leave it out for ${defaults.max}.`);
  }
  if (!Number.isInteger(max) || max < 1 || max > MAX_REQUESTS) {
    fail(
      'range',
      `${name}.max`,
      `must be a whole number from 1 to ${MAX_REQUESTS}; received ${describeValue(max)}`,
      `Leave it out for ${defaults.max}, or use \`rateLimit: false\` to turn throttling off.`,
    );
  }
  const windowMs = parseDuration(value.window ?? defaults.window);
  if (windowMs === undefined) {
    fail(
      'type',
      `${name}.window`,
      `must be a duration; received ${describeValue(value.window)}`,
      `Pass seconds as a number, or a string like '${defaults.window}'.`,
      ErrorCodes.ERR_INVALID_DURATION,
    );
  }
  if (windowMs < MIN_WINDOW_MS || windowMs > MAX_WINDOW_MS) {
    fail(
      'range',
      `${name}.window`,
      `must be from 1s to 1d; received ${describeMs(windowMs)}`,
      `Leave it out for '${defaults.window}'.`,
      ErrorCodes.ERR_INVALID_DURATION,
    );
  }
  return { max, windowMs };
}

/** The default {@link LoginRateLimitOptions.username}: `req.body.username`, else `req.body.email`. */
function defaultUsername(req: Request): unknown {
  const body = req.body as Record<string, unknown> | undefined;
  if (body === null || typeof body !== 'object') return undefined;
  return Object.hasOwn(body, 'username') ? body.username : Object.hasOwn(body, 'email') ? body.email : undefined;
}

/**
 * With the default username, a body holding both `username` and `email` is refused (400): the
 * limiter cannot know which one `authenticate` reads, and counting the other would let a guesser
 * vary it to get a fresh count for every guess. Apps whose form sends both set `username`.
 */
function ambiguousIdentifier(req: Request): boolean {
  const body = req.body as Record<string, unknown> | undefined;
  return body !== null && typeof body === 'object' && Object.hasOwn(body, 'username') && Object.hasOwn(body, 'email');
}

/**
 * Validates the `rateLimit` option and resolves its defaults; `false` when throttling is off.
 * Throws a `TypeError` or `RangeError` naming the option, what it must be, what it was and how to fix it,
 * coded `ERR_INVALID_OPTION`, `ERR_UNKNOWN_OPTION` or `ERR_INVALID_DURATION`.
 */
export function resolveRateLimit(value: unknown): ResolvedRateLimit | false {
  if (value === false) return false;
  const options = section(
    'rateLimit',
    value === undefined ? {} : value,
    'Leave it out for the defaults, pass `{ login: { max, window }, refresh: { max, window } }`, or `false` to turn throttling off.',
  );
  let login: ResolvedRateLimit['login'] = false;
  if (options.login !== false) {
    const given = section(
      'rateLimit.login',
      options.login === undefined ? {} : options.login,
      "Pass e.g. `{ max: 10, window: '15m' }`, or `false` to stop throttling failed logins.",
    );
    const username = given.username ?? defaultUsername;
    if (typeof username !== 'function') {
      fail(
        'type',
        'rateLimit.login.username',
        `must be a function (req) => string; received ${describeValue(username)}`,
        'Pass e.g. `(req) => req.body.email`, or leave it out for `req.body.username`.',
      );
    }
    login = { ...rule('rateLimit.login', given, RATE_LIMIT_DEFAULTS.login), username: username as (req: Request) => unknown };
  }
  const refresh =
    options.refresh === false
      ? false
      : rule(
          'rateLimit.refresh',
          section(
            'rateLimit.refresh',
            options.refresh === undefined ? {} : options.refresh,
            "Pass e.g. `{ max: 300, window: '1m' }`, or `false` to stop throttling /refresh and /logout.",
          ),
          RATE_LIMIT_DEFAULTS.refresh,
        );
  if (!login && !refresh) return false;
  return { login, refresh };
}

/** The part of an ioredis `Redis` or `Cluster` the Redis counters use: its generic command method. */
export interface RateLimitRedisClient {
  call(command: string, ...args: Array<string | number>): Promise<unknown>;
}

/** Options for {@link createRateLimiters}. */
export interface RateLimiterOptions {
  /** How long one Redis counter operation may take before the request is answered 503. Defaults to `1000`. */
  commandTimeoutMs?: number | undefined;
  /** The watch on the Redis client's connection (the RedisStore's), so errors name why Redis does not answer. */
  connection?: ConnectionWatch | undefined;
}

/** The throttling middlewares the router puts in front of its handlers. */
export interface RateLimiters {
  /** For `POST /login`, after the JSON body parser: counts 401 answers per IP + username. */
  login: RequestHandler;
  /** For `POST /refresh` and `POST /logout` (one shared count per IP). */
  refresh: RequestHandler;
  /** Stops the in-process counters' timers. Leaves the Redis client alone. */
  close(): void;
}

const TOO_MANY_REQUESTS: AuthErrorCode = 'too_many_requests';
/** Usernames are capped before normalising and after: a login form's name is short. */
const MAX_USERNAME_LENGTH = 256;
/** The subnet one IPv6 client is counted by (express-rate-limit's default): one customer's allocation. */
const IPV6_SUBNET = 56;
const WARNING_CODE = 'ERT_RATE_LIMIT';

/** A decrement that never leaves a key without a TTL (a bare DECR on an expired key would). */
const SAFE_DECREMENT = "if redis.call('PTTL', KEYS[1]) > 0 then return redis.call('DECR', KEYS[1]) end return 0";
const SAFE_DECREMENT_SHA = sha1(SAFE_DECREMENT);

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && /^NOSCRIPT\b/.test(error.message);
}

/**
 * rate-limit-redis' `sendCommand` over ioredis, with changes that keep the limiter working through
 * outages and on Redis Cluster:
 * - `SCRIPT LOAD` is answered here (the SHA-1 of the source), so building the limiter sends nothing
 *   (rate-limit-redis would otherwise keep a failed start-up load forever), and `EVALSHA` of such a
 *   script falls back to `EVAL` on `NOSCRIPT` (no reload on a random Cluster node);
 * - `DECR` becomes a script that only decrements a key that still has a TTL;
 * - each operation gets `timeoutMs`, and every failure becomes a {@link StoreUnavailableError}
 *   (which the router answers 503 `temporarily_unavailable`), coded `ERR_STORE_TIMEOUT` when Redis
 *   did not answer in time, `ERR_STORE_UNAVAILABLE` otherwise. While the client is not connected,
 *   its connection error (from `connection`) is the `cause` and is named in the message.
 */
export function redisSender(client: RateLimitRedisClient, timeoutMs: number, connection?: ConnectionWatch): SendCommandFn {
  const scripts = new Map<string, string>([[SAFE_DECREMENT_SHA, SAFE_DECREMENT]]);

  const evalScript = async (sha: string, rest: string[]): Promise<unknown> => {
    try {
      return await client.call('EVALSHA', sha, ...rest);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return client.call('EVAL', scripts.get(sha) as string, ...rest);
    }
  };

  const send = async (command: string, args: string[]): Promise<unknown> => {
    const name = command.toUpperCase();
    if (name === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1] !== undefined) {
      const sha = sha1(args[1]);
      scripts.set(sha, args[1]);
      return sha;
    }
    if (name === 'EVALSHA' && args[0] !== undefined && scripts.has(args[0])) return evalScript(args[0], args.slice(1));
    if (name === 'DECR' && args.length === 1) return evalScript(SAFE_DECREMENT_SHA, ['1', args[0] as string]);
    return client.call(command, ...args);
  };

  return (command: string, ...args: string[]) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const cause = connection?.lastError;
        const why = connection === undefined ? 'no reply came' : connection.reason();
        const message = `Rate limiter: Redis did not answer ${command} within ${timeoutMs}ms: ${why}`;
        reject(new StoreUnavailableError(message, { code: ErrorCodes.ERR_STORE_TIMEOUT, cause }));
      }, timeoutMs);
      send(command, args).then(
        (reply) => {
          clearTimeout(timer);
          resolve(reply as Awaited<ReturnType<SendCommandFn>>);
        },
        (error: unknown) => {
          clearTimeout(timer);
          // Not connected: the connection error is the cause (ioredis' "max retries per request" only follows from it).
          const cause = connection?.lastError ?? error;
          reject(new StoreUnavailableError(`Rate limiter: Redis ${command} failed: ${describeStoreCause(cause)}`, { cause }));
        },
      );
    });
}

/** express-rate-limit's messages (misconfigurations it detects, failed decrements) as process warnings. */
const warningLogger: Logger = {
  warn: (error: unknown, message?: string) => warn(error, message),
  error: (error: unknown, message?: string) => warn(error, message),
};

function warn(error: unknown, message?: string): void {
  const reason = error instanceof Error ? error.message : String(error);
  process.emitWarning(message ? `${message} ${reason}` : reason, { code: WARNING_CODE });
}

/** The normalised username a login is counted under: NFKC, trimmed, lower-cased, capped. */
export function normaliseUsername(value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
  return text
    .slice(0, 4 * MAX_USERNAME_LENGTH)
    .normalize('NFKC')
    .trim()
    .toLowerCase()
    .slice(0, MAX_USERNAME_LENGTH);
}

/** Seconds until the client may try again, at least 1. */
function retryAfterSeconds(info: RateLimitInfo | undefined, windowMs: number): number {
  const resetAt = info?.resetTime?.getTime();
  const ms = resetAt === undefined ? windowMs : resetAt - Date.now();
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The middleware a limit that is off gives: it only calls `next()`, and the router leaves it out of its routes. */
export const RATE_LIMIT_OFF: RequestHandler = function rateLimitOff(_req, _res, next) {
  next();
};

/** The request property express-rate-limit writes its counts to (not `rateLimit`, which an app's own limiter may use). */
const REQUEST_PROPERTY = 'expressRefreshTokensRateLimit';

/**
 * Builds the throttling middlewares with express-rate-limit: counters in Redis (rate-limit-redis,
 * keys `<prefix>rl:login:` and `<prefix>rl:refresh:`) when a client is given, in the process otherwise.
 * A limit that is off (or `resolved === false`) gives {@link RATE_LIMIT_OFF}.
 *
 * Past a limit the middleware passes a 429 `too_many_requests` AuthError with `Retry-After` to
 * `next(err)`. When Redis fails or is late it passes a {@link StoreUnavailableError} (503): the
 * limiter fails closed, so a Redis outage never lifts the limit on password guessing.
 */
export function createRateLimiters(
  resolved: ResolvedRateLimit | false,
  redisClient: RateLimitRedisClient | undefined,
  prefix: string,
  options: RateLimiterOptions = {},
): RateLimiters {
  const commandTimeoutMs = options.commandTimeoutMs ?? 1000;
  const { connection } = options;
  if (redisClient !== undefined && typeof redisClient.call !== 'function') {
    throw configurationError(
      'type',
      ErrorCodes.ERR_INVALID_OPTION,
      `createAuth: \`rateLimit\` needs the Redis client's call() method (ioredis 5 or later); received ${describeValue(redisClient)}. Pass an ioredis client to RedisStore, or set \`rateLimit: false\`.`,
    );
  }
  const stores: Store[] = [];
  let warnedTrustProxy = false;

  /** The client's address for counting: `req.ip`, IPv6 by /56. Warns once when `trust proxy` is `true`. */
  const clientAddress = (req: Request): string => {
    if (!warnedTrustProxy && req.app?.get('trust proxy') === true) {
      warnedTrustProxy = true;
      process.emitWarning(
        "Express' `trust proxy` is true, so any client can choose its IP address with X-Forwarded-For and escape the login throttling. Set it to your proxies (e.g. app.set('trust proxy', 1) or 'loopback').",
        { code: WARNING_CODE },
      );
    }
    const ip = req.ip;
    return ip === undefined || ip === '' ? 'unknown' : ipKeyGenerator(ip, IPV6_SUBNET);
  };

  const limiter = (name: 'login' | 'refresh', limit: ResolvedRule, keyGenerator: (req: Request) => string, countOnlyFailures: boolean): RequestHandler => {
    // Failed logins are counted in Redis, so a guesser cannot spread over instances. The loose
    // per-IP limit of /refresh and /logout is counted per instance: a refresh stays one Redis round trip.
    const store: Store =
      redisClient === undefined || name === 'refresh'
        ? new RateLimitMemoryStore()
        : new RateLimitRedisStore({ sendCommand: redisSender(redisClient, commandTimeoutMs, connection), prefix: `${prefix}rl:${name}:` });
    stores.push(store);
    return rateLimit({
      windowMs: limit.windowMs,
      limit: limit.max,
      keyGenerator,
      store,
      standardHeaders: false,
      legacyHeaders: false,
      requestPropertyName: REQUEST_PROPERTY,
      // Counted before the handler runs (so parallel guesses cannot overtake the limit), given back
      // when the answer is not a 401: only wrong credentials count. This limiter's own 429s are given
      // back too: such an attempt checked no password, and kept counted it would lock the account
      // for the whole window after two overlapping correct logins near the limit (two tabs, two
      // instances). It costs a DECR per refused attempt.
      ...(countOnlyFailures ? { skipSuccessfulRequests: true, requestWasSuccessful: (_req: Request, res: Response) => res.statusCode !== 401 } : {}),
      passOnStoreError: false,
      logger: warningLogger,
      handler(req: Request, _res: Response, next: NextFunction) {
        const info = (req as unknown as Record<string, RateLimitInfo | undefined>)[REQUEST_PROPERTY];
        const seconds = retryAfterSeconds(info, limit.windowMs);
        next(new AuthError(TOO_MANY_REQUESTS, 429, `Too many requests; retry in ${seconds}s`, { headers: { 'Retry-After': String(seconds) } }));
      },
    });
  };

  const pass = RATE_LIMIT_OFF;
  const login = resolved === false ? false : resolved.login;
  const refresh = resolved === false ? false : resolved.refresh;
  const loginLimiter = login
    ? limiter(
        'login',
        login,
        (req) => {
          const username = normaliseUsername(login.username(req));
          return `${clientAddress(req)}|${sha256Base64url(username)}`;
        },
        true,
      )
    : pass;
  const usesDefaultUsername = login && login.username === defaultUsername;
  return {
    login: usesDefaultUsername
      ? function loginRateLimit(req, res, next) {
          if (ambiguousIdentifier(req)) {
            return next(new AuthError('invalid_request', 400, 'Send `username` or `email`, not both (rateLimit.login.username decides which is counted)'));
          }
          loginLimiter(req, res, next);
        }
      : loginLimiter,
    refresh: refresh ? limiter('refresh', refresh, clientAddress, false) : pass,
    close() {
      for (const store of stores.splice(0)) void store.shutdown?.();
    },
  };
}
