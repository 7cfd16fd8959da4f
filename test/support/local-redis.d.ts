// Types of local-redis.js for the TypeScript tests.
import type { ChildProcess } from 'node:child_process';

/** A TCP port nobody listens on right now, never 6379, below the ephemeral range (no `listen(0)` or outgoing connection takes it meanwhile). */
export function freePort(lowest?: number): Promise<number>;
/** True when nothing listens on `port`. */
export function isPortFree(port: number): Promise<boolean>;
/** The first port of the kernel's ephemeral range (32768 where it cannot be read). */
export function ephemeralRangeStart(): number;
/** Resolves once a redis-server on `port` answers PING; rejects after `timeoutMs` or once `child` has exited. */
export function waitForRedis(port: number, options?: { timeoutMs?: number; child?: ChildProcess }): Promise<void>;
