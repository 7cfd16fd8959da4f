// Login throttling's counters and known-address marks in Redis: scripts run by RedisStore, under its command gate.
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import { ErrorCodes, StoreUnavailableError } from '../errors';
import { type Script, script } from '../redis/script';
import { COUNT_REQUEST, GIVE_BACK_REQUEST, HAS_MARK, READ_COUNT, RESET_COUNT, SET_MARK } from './redis-scripts';
import type { KnownAddresses } from './session-store';

/** Runs a script on keys of one slot within the store's budget and circuit (RedisStore's runner). */
export type ScriptRunner = (s: Script, keys: string[], args: Array<string | number>) => Promise<unknown>;

const SCRIPTS = {
  countRequest: script(COUNT_REQUEST),
  readCount: script(READ_COUNT),
  giveBackRequest: script(GIVE_BACK_REQUEST),
  resetCount: script(RESET_COUNT),
  hasMark: script(HAS_MARK),
  setMark: script(SET_MARK),
};

/**
 * The runner, with its failures named as the throttling's (`Rate limiter: …`, same code and cause),
 * so a log line says which part of a login found Redis unavailable.
 */
function throttlingRunner(run: ScriptRunner): ScriptRunner {
  return (s, keys, args) =>
    run(s, keys, args).catch((error: unknown) => {
      if (!(error instanceof StoreUnavailableError)) throw error;
      throw new StoreUnavailableError(`Rate limiter: ${error.message}`, { code: error.code, cause: error.cause });
    });
}

/** Reads a `{hits, ms left}` reply strictly, as rate-limit-redis does. */
function rateLimitInfo(reply: unknown): ClientRateLimitInfo {
  if (!Array.isArray(reply) || reply.length !== 2) {
    throw new StoreUnavailableError(`Rate limiter: expected 2 replies, got ${Array.isArray(reply) ? reply.length : typeof reply}`, {
      code: ErrorCodes.ERR_STORE_BAD_REPLY,
    });
  }
  const totalHits = reply[0] === null || reply[0] === false ? 0 : Number.parseInt(String(reply[0]), 10);
  return { totalHits, resetTime: new Date(Date.now() + Number(reply[1])) };
}

/**
 * An express-rate-limit `Store` whose counters are the keys `<keyPrefix><key>`, each with the
 * window as its TTL: shared by every instance on the same Redis. Nothing is sent until a request
 * is counted, so a limiter built during an outage works once Redis answers.
 */
export function redisRateLimitStore(run: ScriptRunner, keyPrefix: string): Store {
  const send = throttlingRunner(run);
  let windowMs = 60_000;
  return {
    prefix: keyPrefix,
    localKeys: false,
    init(options: Options) {
      windowMs = options.windowMs;
    },
    get: async (key) => rateLimitInfo(await send(SCRIPTS.readCount, [`${keyPrefix}${key}`], [])),
    increment: async (key) => rateLimitInfo(await send(SCRIPTS.countRequest, [`${keyPrefix}${key}`], [windowMs])),
    decrement: async (key) => {
      await send(SCRIPTS.giveBackRequest, [`${keyPrefix}${key}`], []);
    },
    resetKey: async (key) => {
      await send(SCRIPTS.resetCount, [`${keyPrefix}${key}`], []);
    },
  };
}

/** Known-address marks in Redis, one key per mark (`<keyPrefix><key>`, value `1`) with the TTL: shared by every instance. */
export function redisKnownAddresses(run: ScriptRunner, keyPrefix: string, ttlMs: number): KnownAddresses {
  const send = throttlingRunner(run);
  return {
    has: async (key) => Number(await send(SCRIPTS.hasMark, [`${keyPrefix}${key}`], [])) === 1,
    add: async (key) => {
      await send(SCRIPTS.setMark, [`${keyPrefix}${key}`], [ttlMs]);
    },
  };
}
