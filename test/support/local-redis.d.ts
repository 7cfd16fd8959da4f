// Types of local-redis.js for the TypeScript tests.
import type { ChildProcess } from 'node:child_process';

/** A TCP port nobody listens on right now, and never 6379. */
export function freePort(): Promise<number>;
/** Resolves once a redis-server on `port` answers PING; rejects after `timeoutMs` or once `child` has exited. */
export function waitForRedis(port: number, options?: { timeoutMs?: number; child?: ChildProcess }): Promise<void>;
