// The addresses each username has lately signed in from, kept in the process for a store without its own (RedisStore keeps them in Redis).
import type { KnownAddresses } from './session-store';

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
