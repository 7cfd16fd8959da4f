// Starting and reaching throwaway redis-server processes for tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort, waitForRedis } from './local-redis';

export { ephemeralRangeStart, freePort, isPortFree, waitForRedis } from './local-redis';

/**
 * Starts an extra private redis-server (for outage tests that stop or kill it), without persistence:
 * started again on the same `port` after a kill, it comes back empty, as after a data loss.
 */
export async function startRedisServer(port?: number): Promise<{ port: number; process: ChildProcess; stop(): Promise<void> }> {
  port ??= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitForRedis(port);
  return {
    port,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
