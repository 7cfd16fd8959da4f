// Jest global teardown: stops the private redis-server started by global-setup.
import type { ChildProcess } from 'node:child_process';

export default async function globalTeardown(): Promise<void> {
  const child = (globalThis as { __REDIS_PROCESS__?: ChildProcess }).__REDIS_PROCESS__;
  if (!child || child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
