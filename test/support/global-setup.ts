// Jest global setup: starts a private redis-server on a free port (or uses REDIS_URL) for the run.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForRedis } from './redis-process';

export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) {
    process.env.TEST_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ert-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  child.on('error', (error) => {
    throw new Error(`Could not start redis-server (is it installed? apt-get install redis-server): ${error.message}`);
  });
  (globalThis as { __REDIS_PROCESS__?: typeof child }).__REDIS_PROCESS__ = child;
  await waitForRedis(port);
  process.env.TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
}
