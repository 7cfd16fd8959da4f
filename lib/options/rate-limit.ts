// The `rateLimit` option of createAuth: its public types, defaults and validation (the throttling itself is in rate-limit.ts).
import type { Request } from 'express';
import { describeValue } from '../describe-value';
import { type Duration, describeMs, parseDuration } from '../duration';
import { ErrorCodes } from '../errors';
import { checkKnownKeys, fail, type KnownOptions } from '../option-checks';

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

const RULE = { max: true, window: true } satisfies KnownOptions<RateLimitRule>;
const KNOWN_KEYS = {
  rateLimit: { login: true, refresh: true } satisfies KnownOptions<Exclude<RateLimitOptions, false>>,
  'rateLimit.login': {
    max: true,
    window: true,
    username: true,
    perAddress: true,
    perUsername: true,
    successes: true,
    knownAddressTtl: true,
  } satisfies KnownOptions<LoginRateLimitOptions>,
  'rateLimit.login.perAddress': RULE,
  'rateLimit.login.perUsername': RULE,
  'rateLimit.login.successes': RULE,
  'rateLimit.refresh': { max: true, window: true } satisfies KnownOptions<RefreshRateLimitOptions>,
};

const MAX_REQUESTS = 1_000_000;
const MIN_WINDOW_MS = 1000;
const MAX_WINDOW_MS = 86_400_000;
const MIN_KNOWN_ADDRESS_TTL_MS = 60_000;
const MAX_KNOWN_ADDRESS_TTL_MS = 400 * 86_400_000;

function section(name: keyof typeof KNOWN_KEYS, value: unknown, fix: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('type', name, `must be an object or false; received ${describeValue(value)}`, fix);
  }
  checkKnownKeys<object>(name, value, KNOWN_KEYS[name]);
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
export function defaultUsername(req: Request): unknown {
  const body = req.body as Record<string, unknown> | undefined;
  if (body === null || typeof body !== 'object') return undefined;
  return Object.hasOwn(body, 'username') ? body.username : Object.hasOwn(body, 'email') ? body.email : undefined;
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
