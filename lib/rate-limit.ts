// Throttling: failed logins per address + username, per address and per username, successful logins per username, and /refresh per session or address.
import { createHash, type KeyObject } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  type Logger,
  type Options as RateLimitConfig,
  type RateLimitInfo,
  MemoryStore as RateLimitMemoryStore,
  rateLimit,
  type Store,
} from 'express-rate-limit';
import { RedisStore as RateLimitRedisStore, type SendCommandFn } from 'rate-limit-redis';
import { addressPrefix } from './client-address';
import { describeValue } from './describe-value';
import { type Duration, describeMs, parseDuration } from './duration';
import { AuthError, type AuthErrorCode, describeStoreCause, ErrorCodes, StoreUnavailableError } from './errors';
import { deriveKey, hmacBase64url } from './hashing';
import { type KnownAddresses, memoryKnownAddresses, redisKnownAddresses } from './known-addresses';
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
 * The limits on `POST /login`: failed logins per client address and username (`max`, `window`), per
 * address across usernames (`perAddress`), per username across addresses (`perUsername`), and
 * successful logins per username (`successes`). IPv6 addresses count by their /56 network.
 *
 * @example
 * ```ts
 * import type { LoginRateLimitOptions } from 'express-refresh-tokens';
 *
 * // For an `authenticate` that reads `req.body.email`.
 * const login: LoginRateLimitOptions = { max: 10, window: '15m', username: (req) => req.body.email };
 * // A campus behind one address, and a stricter budget per account.
 * const campus: LoginRateLimitOptions = { perAddress: { max: 500 }, perUsername: { max: 10, window: '1h' } };
 * ```
 */
export interface LoginRateLimitOptions extends RateLimitRule {
  /** Failed logins allowed per address and username in a window; a successful login starts the count again. Defaults to `10`. */
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
  /**
   * Failed logins allowed per client address across all usernames (password spraying). Once spent,
   * every login from the address is refused until the window ends. Sized for an office or a campus
   * behind one address, whose typos stay far below it; someone sharing the address can still spend
   * it for everyone there. `false` turns it off. Defaults to `{ max: 100, window: '15m' }`.
   */
  perAddress?: RateLimitRule | false;
  /**
   * Failed logins allowed per username across all addresses (guessing spread over many addresses),
   * counted and enforced only for addresses the user has not signed in from (see `knownAddressTtl`):
   * once spent, a login from a new address is refused until the window ends, while one from an
   * address the user signed in from is still checked, so guessers cannot lock the user out of the
   * usual places. `false` turns it off. Defaults to `{ max: 20, window: '15m' }`.
   */
  perUsername?: RateLimitRule | false;
  /**
   * Successful logins allowed per username, from any address: each one starts a session (and past
   * `maxSessionsPerUser` ends one), so a script holding a password cannot churn them. Only someone
   * with the password can spend it. `false` turns it off. Defaults to `{ max: 30, window: '1m' }`.
   */
  successes?: RateLimitRule | false;
  /**
   * How long an address stays known for a username after a successful login from it (each success
   * renews it): from 1 minute to 400 days. Stored as a keyed hash of both. Defaults to `'30d'`.
   */
  knownAddressTtl?: Duration;
}

/**
 * The limit on `POST /refresh`, counted per instance: a request whose refresh cookie is authentic
 * (its MAC holds) is counted against its session, every one of them; any other (no cookie, a forged
 * one) against its client address, and only when it fails. So forged cookies from one client spend
 * its address's budget but never refuse another user's valid refresh from the same address.
 *
 * @example
 * ```ts
 * import type { RefreshRateLimitOptions } from 'express-refresh-tokens';
 *
 * const refresh: RefreshRateLimitOptions = { max: 1000, window: '1m' };
 * ```
 */
export interface RefreshRateLimitOptions extends RateLimitRule {
  /** Refreshes allowed per session, and failed ones per address without an authentic cookie, in a window. Defaults to `300`. */
  max?: number;
  /** Defaults to `'1m'`. */
  window?: Duration;
}

/**
 * The `rateLimit` option of `createAuth`. On by default:
 * - `login`: 10 failed logins (401) per 15 minutes per client address and username, a success
 *   starting the count again; 100 failed logins per 15 minutes per address, whatever the usernames;
 *   20 per 15 minutes per username from addresses the user has not signed in from in 30 days; and
 *   30 successful logins per minute per username.
 * - `refresh`: 300 refreshes per minute per session, and 300 failed ones per minute per address for
 *   requests without an authentic refresh cookie. Logouts are never throttled.
 *
 * Past a limit the router answers 429 `{ error: 'too_many_requests' }` with `Retry-After`. With a
 * `RedisStore` the login counts live in Redis (keys `<prefix>rl:<kind>:<HMAC>`, no address or
 * username in them), so they hold across instances; otherwise in the process. `false` turns all
 * throttling off, `login: false` or `refresh: false` one limit. Client addresses are `req.ip` (IPv6
 * by /56): set Express' `trust proxy` to match your proxies.
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
      /** The login limits; `false` turns them all off. Defaults to those listed above. */
      login?: LoginRateLimitOptions | false;
      /** The `/refresh` limit; `false` turns it off. Defaults to `{ max: 300, window: '1m' }`. */
      refresh?: RefreshRateLimitOptions | false;
    }
  | false;

/** One limit, validated. */
export interface ResolvedRule {
  max: number;
  windowMs: number;
}

/** The validated form of {@link LoginRateLimitOptions}: the limit per address + username, and the others. */
export interface ResolvedLoginRateLimit extends ResolvedRule {
  username: (req: Request) => unknown;
  perAddress: ResolvedRule | false;
  perUsername: ResolvedRule | false;
  successes: ResolvedRule | false;
  knownAddressTtlMs: number;
}

/** The validated form of {@link RateLimitOptions} (when not `false`). */
export interface ResolvedRateLimit {
  login: ResolvedLoginRateLimit | false;
  refresh: ResolvedRule | false;
}

/** The defaults of {@link RateLimitOptions}. */
export const RATE_LIMIT_DEFAULTS = {
  login: {
    max: 10,
    window: '15m',
    perAddress: { max: 100, window: '15m' },
    perUsername: { max: 20, window: '15m' },
    successes: { max: 30, window: '1m' },
    knownAddressTtl: '30d',
  },
  refresh: { max: 300, window: '1m' },
} as const;

/** The login limits besides the one per address + username, each a {@link RateLimitRule} or `false`. */
const LOGIN_BUDGETS = ['perAddress', 'perUsername', 'successes'] as const;

const KNOWN_KEYS = {
  rateLimit: ['login', 'refresh'],
  'rateLimit.login': ['max', 'window', 'username', ...LOGIN_BUDGETS, 'knownAddressTtl'],
  'rateLimit.login.perAddress': ['max', 'window'],
  'rateLimit.login.perUsername': ['max', 'window'],
  'rateLimit.login.successes': ['max', 'window'],
  'rateLimit.refresh': ['max', 'window'],
} as const;

const MAX_REQUESTS = 1_000_000;
const MIN_WINDOW_MS = 1000;
const MAX_WINDOW_MS = 86_400_000;
const MIN_KNOWN_ADDRESS_TTL_MS = 60_000;
const MAX_KNOWN_ADDRESS_TTL_MS = 400 * 86_400_000;

function section(name: keyof typeof KNOWN_KEYS, value: unknown, fix: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('type', name, `must be an object or false; received ${describeValue(value)}`, fix);
  }
  checkKnownKeys(name, value, KNOWN_KEYS[name]);
  return value as Record<string, unknown>;
}

/** Validates `{ max, window }` at `name`; `off` says how to turn that limit off instead of a too-small max. */
function rule(
  name: keyof typeof KNOWN_KEYS,
  value: Record<string, unknown>,
  defaults: { max: number; window: Duration },
  off = 'use `rateLimit: false` to turn throttling off',
): ResolvedRule {
  const max = value.max ?? defaults.max;
  if (typeof max !== 'number') {
    fail('type', `${name}.max`, `must be a whole number from 1 to ${MAX_REQUESTS}; received ${describeValue(max)}`, `Leave it out for ${defaults.max}.`);
  }
  if (!Number.isInteger(max) || max < 1 || max > MAX_REQUESTS) {
    fail(
      'range',
      `${name}.max`,
      `must be a whole number from 1 to ${MAX_REQUESTS}; received ${describeValue(max)}`,
      `Leave it out for ${defaults.max}, or ${off}.`,
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
 * Whether a username (what `rateLimit.login.username` read) can be counted as the account it names:
 * text, a number, or nothing. An array, an object or a boolean is refused (400): `authenticate` may
 * read `['alice']` as `'alice'` (an object lookup, `==`, `String()`, some SQL drivers' placeholders)
 * while the limiter could only count it under one name shared by every such spelling, whose budget a
 * guesser's own account, signed in to the same way, would renew from each address.
 */
function countableUsername(value: unknown): boolean {
  return value === undefined || value === null || typeof value === 'string' || typeof value === 'number';
}

/** Validates one of {@link LOGIN_BUDGETS}: `false`, or a rule whose defaults fill what it leaves out. */
function loginBudget(budget: (typeof LOGIN_BUDGETS)[number], value: unknown): ResolvedRule | false {
  if (value === false) return false;
  const name = `rateLimit.login.${budget}` as const;
  const defaults = RATE_LIMIT_DEFAULTS.login[budget];
  const given = section(
    name,
    value === undefined ? {} : value,
    `Pass e.g. \`{ max: ${defaults.max}, window: '${defaults.window}' }\`, or \`false\` to turn it off.`,
  );
  return rule(name, given, defaults, `\`${budget}: false\` to turn this limit off`);
}

/** Validates `rateLimit.login.knownAddressTtl`. */
function knownAddressTtl(value: unknown): number {
  const fallback = RATE_LIMIT_DEFAULTS.login.knownAddressTtl;
  const ms = parseDuration(value ?? fallback);
  if (ms === undefined) {
    fail(
      'type',
      'rateLimit.login.knownAddressTtl',
      `must be a duration; received ${describeValue(value)}`,
      `Pass seconds as a number, or a string like '${fallback}'.`,
      ErrorCodes.ERR_INVALID_DURATION,
    );
  }
  if (ms < MIN_KNOWN_ADDRESS_TTL_MS || ms > MAX_KNOWN_ADDRESS_TTL_MS) {
    fail(
      'range',
      'rateLimit.login.knownAddressTtl',
      `must be from 1m to 400d; received ${describeMs(ms)}`,
      `Leave it out for '${fallback}'.`,
      ErrorCodes.ERR_INVALID_DURATION,
    );
  }
  return ms;
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
      "Pass e.g. `{ max: 10, window: '15m' }`, or `false` to stop throttling logins.",
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
    login = {
      ...rule('rateLimit.login', given, RATE_LIMIT_DEFAULTS.login),
      username: username as (req: Request) => unknown,
      perAddress: loginBudget('perAddress', given.perAddress),
      perUsername: loginBudget('perUsername', given.perUsername),
      successes: loginBudget('successes', given.successes),
      knownAddressTtlMs: knownAddressTtl(given.knownAddressTtl),
    };
  }
  const refresh =
    options.refresh === false
      ? false
      : rule(
          'rateLimit.refresh',
          section(
            'rateLimit.refresh',
            options.refresh === undefined ? {} : options.refresh,
            "Pass e.g. `{ max: 300, window: '1m' }`, or `false` to stop throttling /refresh.",
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
  /**
   * The key `refreshToken.secret` configures: the key the counters' names are HMACs under is derived
   * from it (labelled for this purpose alone), so Redis holds no address and no username, nor a hash
   * of either that could be checked against a guess without it.
   */
  secret: KeyObject;
  /**
   * The session an authentic refresh cookie on the request belongs to (its MAC checked), or
   * `undefined` when it carries none: such refreshes are counted per session, the others per address.
   */
  refreshFamily?: ((req: Request) => string | undefined) | undefined;
  /** How long one Redis counter operation may take before the request is answered 503. Defaults to `1000`. */
  commandTimeoutMs?: number | undefined;
  /** The watch on the Redis client's connection (the RedisStore's), so errors name why Redis does not answer. */
  connection?: ConnectionWatch | undefined;
}

/** The throttling middlewares the router puts in front of its handlers. */
export interface RateLimiters {
  /** For `POST /login`, after the JSON body parser: every login limit of {@link LoginRateLimitOptions}, in turn. */
  login: RequestHandler;
  /** For `POST /refresh`: per session for an authentic cookie, failures per address otherwise. */
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
/** What the key of the counters' names is derived under, from `refreshToken.secret`. */
const KEY_LABEL = 'express-refresh-tokens throttling keys';

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

/** Whether an answer is one a limit keeps counted. */
type Judge = (req: Request, res: Response) => boolean;

/** Which answers a limit keeps counted, in express-rate-limit's options. */
type Counting = Pick<RateLimitConfig, 'requestWasSuccessful'> & Partial<Pick<RateLimitConfig, 'skipSuccessfulRequests' | 'skipFailedRequests'>>;

/**
 * express-rate-limit options for a limit that counts only the answers `failed` picks: each request is
 * counted when it arrives (so parallel ones cannot overtake the limit) and given back once answered
 * otherwise (a DECR). A request whose client went away before the answer stays counted.
 */
function countingFailures(failed: Judge): Counting {
  return { skipSuccessfulRequests: true, requestWasSuccessful: (req: Request, res: Response) => !failed(req, res) };
}

/** express-rate-limit options for a limit that counts only successful answers (below 400); the rest, and abandoned requests, are given back. */
const COUNTING_SUCCESSES: Counting = { skipFailedRequests: true, requestWasSuccessful: (_req: Request, res: Response) => res.statusCode < 400 };

/**
 * A failed login is a 401: wrong credentials. Any other answer is given back, the limits' own 429s
 * included: such an attempt checked no password, and kept counted it would lock the account for the
 * whole window after two overlapping correct logins near the limit (two tabs, two instances).
 */
const FAILED_LOGIN: Judge = (_req, res) => res.statusCode === 401;

/** Runs middlewares one after the other, as the router would; the first error (a 429, a 503) ends the run. */
function inSequence(handlers: RequestHandler[]): RequestHandler {
  return function throttleInTurn(req, res, next) {
    let index = 0;
    const step = (error?: unknown): void => {
      const handler = handlers[index++];
      if (error !== undefined || handler === undefined) return next(error);
      handler(req, res, step);
    };
    step();
  };
}

/** The names a login is counted under: HMACs, so none holds an address or a username, nor an unkeyed hash of one. */
interface LoginKeys {
  /** Its client address and username. */
  pair: string;
  /** Its client address. */
  address: string;
  /** Its username. */
  username: string;
  /** The mark that this username signed in from this address. */
  knownAddress: string;
}

/**
 * Builds the throttling middlewares with express-rate-limit: login counters in Redis (rate-limit-redis,
 * keys `<prefix>rl:<kind>:<HMAC>`) when a client is given, in the process otherwise; the /refresh
 * counters always in the process. A limit that is off (or `resolved === false`) gives {@link RATE_LIMIT_OFF}.
 *
 * Past a limit the middleware passes a 429 `too_many_requests` AuthError with `Retry-After` to
 * `next(err)`. When Redis fails or is late it passes a {@link StoreUnavailableError} (503): the
 * limiter fails closed, so a Redis outage never lifts the limit on password guessing.
 */
export function createRateLimiters(
  resolved: ResolvedRateLimit | false,
  redisClient: RateLimitRedisClient | undefined,
  prefix: string,
  options: RateLimiterOptions,
): RateLimiters {
  const commandTimeoutMs = options.commandTimeoutMs ?? 1000;
  const { connection, refreshFamily } = options;
  if (redisClient !== undefined && typeof redisClient.call !== 'function') {
    throw configurationError(
      'type',
      ErrorCodes.ERR_INVALID_OPTION,
      `createAuth: \`rateLimit\` needs the Redis client's call() method (ioredis 5 or later); received ${describeValue(redisClient)}. Pass an ioredis client to RedisStore, or set \`rateLimit: false\`.`,
    );
  }
  const stores: Store[] = [];
  const send = redisClient === undefined ? undefined : redisSender(redisClient, commandTimeoutMs, connection);
  const keyOf = hmacBase64url('sha256', deriveKey(options.secret, KEY_LABEL));
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
    return ip === undefined || ip === '' ? 'unknown' : addressPrefix(ip, IPV6_SUBNET);
  };

  /** Counts shared by every instance (in Redis, `<prefix>rl:<kind>:`) when there is a Redis client, else this process's. */
  const sharedStore = (kind: string): Store => {
    const store = send === undefined ? new RateLimitMemoryStore() : new RateLimitRedisStore({ sendCommand: send, prefix: `${prefix}rl:${kind}:` });
    stores.push(store);
    return store;
  };

  const limiter = (
    limit: ResolvedRule,
    store: Store,
    keyGenerator: (req: Request) => string,
    counting: Counting,
    skip?: (req: Request) => Promise<boolean>,
  ): RequestHandler =>
    rateLimit({
      windowMs: limit.windowMs,
      limit: limit.max,
      keyGenerator,
      store,
      standardHeaders: false,
      legacyHeaders: false,
      requestPropertyName: REQUEST_PROPERTY,
      ...counting,
      ...(skip === undefined ? {} : { skip }),
      passOnStoreError: false,
      logger: warningLogger,
      handler(req: Request, _res: Response, next: NextFunction) {
        const info = (req as unknown as Record<string, RateLimitInfo | undefined>)[REQUEST_PROPERTY];
        const seconds = retryAfterSeconds(info, limit.windowMs);
        next(new AuthError(TOO_MANY_REQUESTS, 429, `Too many requests; retry in ${seconds}s`, { headers: { 'Retry-After': String(seconds) } }));
      },
    });

  const login = resolved === false ? false : resolved.login;
  const refresh = resolved === false ? false : resolved.refresh;
  return {
    login: login ? loginLimiter(login) : RATE_LIMIT_OFF,
    refresh: refresh ? refreshLimiter(refresh) : RATE_LIMIT_OFF,
    close() {
      for (const store of stores.splice(0)) void store.shutdown?.();
    },
  };

  /**
   * Every login limit in turn: failures per address + username, per address, per username (from
   * addresses the username has not signed in from), then successes per username. A success resets
   * the failures of its address + username and marks the address known for the username.
   */
  function loginLimiter(limits: ResolvedLoginRateLimit): RequestHandler {
    const computed = new WeakMap<Request, LoginKeys>();
    const keysOf = (req: Request): LoginKeys => {
      let keys = computed.get(req);
      if (keys === undefined) {
        // An address never holds a line break, so each message reads back one way only.
        const address = clientAddress(req);
        const username = normaliseUsername(limits.username(req));
        keys = {
          pair: keyOf(`pair\n${address}\n${username}`),
          address: keyOf(`address\n${address}`),
          username: keyOf(`username\n${username}`),
          knownAddress: keyOf(`known\n${address}\n${username}`),
        };
        computed.set(req, keys);
      }
      return keys;
    };
    const pairStore = sharedStore('login');
    const steps = [limiter(limits, pairStore, (req) => keysOf(req).pair, countingFailures(FAILED_LOGIN))];
    if (limits.perAddress) steps.push(limiter(limits.perAddress, sharedStore('login-address'), (req) => keysOf(req).address, countingFailures(FAILED_LOGIN)));
    let known: KnownAddresses | undefined;
    if (limits.perUsername) {
      const marks =
        send === undefined ? memoryKnownAddresses(limits.knownAddressTtlMs) : redisKnownAddresses(send, `${prefix}rl:known-address:`, limits.knownAddressTtlMs);
      known = marks;
      const fromKnownAddress = (req: Request): Promise<boolean> => marks.has(keysOf(req).knownAddress);
      steps.push(limiter(limits.perUsername, sharedStore('login-username'), (req) => keysOf(req).username, countingFailures(FAILED_LOGIN), fromKnownAddress));
    }
    if (limits.successes) steps.push(limiter(limits.successes, sharedStore('login-success'), (req) => keysOf(req).username, COUNTING_SUCCESSES));
    const limited = inSequence(steps);

    const afterSuccess = async (keys: LoginKeys): Promise<void> => {
      await Promise.all([pairStore.resetKey(keys.pair), known?.add(keys.knownAddress)]);
    };
    const usesDefaultUsername = limits.username === defaultUsername;
    return function loginRateLimit(req, res, next) {
      if (usesDefaultUsername && ambiguousIdentifier(req)) {
        return next(new AuthError('invalid_request', 400, 'Send `username` or `email`, not both (rateLimit.login.username decides which is counted)'));
      }
      if (!countableUsername(limits.username(req))) {
        return next(
          new AuthError('invalid_request', 400, 'The username must be text (rateLimit.login.username reads it), not an array, an object or a boolean'),
        );
      }
      res.once('finish', () => {
        const keys = computed.get(req);
        if (keys === undefined || res.statusCode < 200 || res.statusCode >= 300) return;
        afterSuccess(keys).catch((error: unknown) => warn(error, 'Login throttling: recording a successful login failed.'));
      });
      limited(req, res, next);
    };
  }

  /**
   * Refreshes, counted in this process: one with an authentic cookie against its session, every
   * answer (a rotation loop is bounded, and a dead family's token replayed is refused past it); any
   * other against its address, only when it fails (401), so one client's forged cookies never
   * refuse another's valid refresh from the same address.
   */
  function refreshLimiter(limit: ResolvedRule): RequestHandler {
    const perSession = new WeakSet<Request>();
    const keyGenerator = (req: Request): string => {
      const family = refreshFamily?.(req);
      if (family === undefined) return `address:${clientAddress(req)}`;
      perSession.add(req);
      return `session:${family}`;
    };
    const store = new RateLimitMemoryStore();
    stores.push(store);
    return limiter(
      limit,
      store,
      keyGenerator,
      countingFailures((req, res) => perSession.has(req) || res.statusCode === 401),
    );
  }
}
