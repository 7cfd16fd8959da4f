// Throttling: failed logins per address + username, per address and per username, successful logins per username, failed step-ups per user, and /refresh per session or address.
import type { KeyObject } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  type Logger,
  type Options as RateLimitConfig,
  type RateLimitInfo,
  MemoryStore as RateLimitMemoryStore,
  rateLimit,
  type Store,
} from 'express-rate-limit';
import { addressPrefix } from '../client-address';
import { AuthError, type AuthErrorCode } from '../errors';
import { defaultUsername, type ResolvedLoginRateLimit, type ResolvedRateLimit, type ResolvedRule } from '../options/rate-limit';
import { memoryKnownAddresses } from '../store/memory-known-addresses';
import type { KnownAddresses, SessionStore } from '../store/session-store';
import { deriveKey, hmacBase64url } from '../tokens/hashing';
import { inSequence } from './in-sequence';

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

/** What throttling asks of the session store: counters and known-address marks it shares with other instances, when it has them. */
export type ThrottlingStore = Pick<SessionStore, 'rateLimitStore' | 'knownAddresses'>;

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
}

/** The throttling middlewares the router puts in front of its handlers. */
export interface RateLimiters {
  /** For `POST /login`, after the JSON body parser: every login limit of {@link LoginRateLimitOptions}, in turn. */
  login: RequestHandler;
  /** For `POST /refresh`: per session for an authentic cookie, failures per address otherwise. */
  refresh: RequestHandler;
  /** For `POST /reauth`, behind requireAuth: failed step-ups per user, under the login limit's budget. */
  reauth: RequestHandler;
  /** Stops the in-process counters' timers. Leaves the session store alone. */
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
 * Builds the throttling middlewares with express-rate-limit: login counters in the session store
 * (RedisStore: keys `<prefix>rl:<kind>:<HMAC>`, under its command budget and circuit) when it offers
 * them, in the process otherwise; the /refresh counters always in the process. A limit that is off
 * (or `resolved === false`) gives {@link RATE_LIMIT_OFF}.
 *
 * Past a limit the middleware passes a 429 `too_many_requests` AuthError with `Retry-After` to
 * `next(err)`. When the store fails or is late it passes its `StoreUnavailableError` (503): the
 * limiter fails closed, so a Redis outage never lifts the limit on password guessing.
 */
export function createRateLimiters(resolved: ResolvedRateLimit | false, store: ThrottlingStore | undefined, options: RateLimiterOptions): RateLimiters {
  const { refreshFamily } = options;
  const stores: Store[] = [];
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

  /** Counts shared by every instance (the session store's) when the store offers them, else this process's. */
  const sharedStore = (kind: string): Store => {
    const counters = store?.rateLimitStore?.(kind) ?? new RateLimitMemoryStore();
    stores.push(counters);
    return counters;
  };

  const limiter = (
    limit: ResolvedRule,
    counters: Store,
    keyGenerator: (req: Request) => string,
    counting: Counting,
    skip?: (req: Request) => Promise<boolean>,
  ): RequestHandler =>
    rateLimit({
      windowMs: limit.windowMs,
      limit: limit.max,
      keyGenerator,
      store: counters,
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
    reauth: login ? reauthLimiter(login) : RATE_LIMIT_OFF,
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
      const marks = store?.knownAddresses?.(limits.knownAddressTtlMs) ?? memoryKnownAddresses(limits.knownAddressTtlMs);
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
   * Failed step-ups (`POST /reauth` answered 401: the password or passkey was wrong), counted per user
   * (the one of the access token: whoever guesses holds that token, from any address) under the login
   * limit's `max` and `window`, shared like the login counters.
   */
  function reauthLimiter(limit: ResolvedRule): RequestHandler {
    const userOf = (req: Request): string => keyOf(`reauth\n${req.auth?.userId ?? ''}`);
    return limiter(limit, sharedStore('reauth'), userOf, countingFailures(FAILED_LOGIN));
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
    const counters = new RateLimitMemoryStore();
    stores.push(counters);
    return limiter(
      limit,
      counters,
      keyGenerator,
      countingFailures((req, res) => perSession.has(req) || res.statusCode === 401),
    );
  }
}
