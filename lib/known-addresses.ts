// The addresses each username has lately signed in from, as keyed marks with a TTL: login throttling lets them past the per-username budget.
import type { SendCommandFn } from 'rate-limit-redis';

/**
 * Marks "this username signed in from this address", each for a time. The keys are the caller's
 * HMACs of the pair, so neither the address nor the username is kept.
 */
export interface KnownAddresses {
  /** Whether the mark is there and has not expired. */
  has(key: string): Promise<boolean>;
  /** Sets the mark, or renews it for the whole TTL. */
  add(key: string): Promise<void>;
}

/** In Redis, one key per mark (`<keyPrefix><key>`, value `1`) with the TTL: shared by every instance. */
export function redisKnownAddresses(send: SendCommandFn, keyPrefix: string, ttlMs: number): KnownAddresses {
  return {
    has: async (key) => (await send('EXISTS', `${keyPrefix}${key}`)) === 1,
    add: async (key) => {
      await send('SET', `${keyPrefix}${key}`, '1', 'PX', String(ttlMs));
    },
  };
}

/** The most marks one process keeps in memory: about 10 MB of keys at most. */
const MAX_MEMORY_MARKS = 100_000;

/**
 * In the process (a MemoryStore app): at most {@link MAX_MEMORY_MARKS} marks, the oldest set or
 * renewed going first when full, each forgotten once expired.
 */
export function memoryKnownAddresses(ttlMs: number): KnownAddresses {
  const expiries = new Map<string, number>();
  return {
    has: async (key) => {
      const until = expiries.get(key);
      if (until === undefined) return false;
      if (until > Date.now()) return true;
      expiries.delete(key);
      return false;
    },
    add: async (key) => {
      expiries.delete(key); // renewed marks move to the end: the oldest stays first
      expiries.set(key, Date.now() + ttlMs);
      if (expiries.size > MAX_MEMORY_MARKS) expiries.delete(expiries.keys().next().value as string);
    },
  };
}
