// One auth instance in a process of its own, so that its clock can be shifted (shifted-clock.js): the harness' test app on RedisStore.
//
// Run as `node --require test/support/run-typescript.js [--require test/support/shifted-clock.js] test/support/instance-process.ts`
// with ERT_TEST_REDIS_URL, ERT_TEST_PREFIX and the test process's ERT_TEST_ACCESS_SECRET and
// ERT_TEST_REFRESH_SECRET (so each side accepts the other's tokens). Prints `listening <port>` once
// its revocation feed is loaded; answers its health at /health/ready; stops on SIGTERM. Process warnings go to stderr, as Node prints them.
import Redis from 'ioredis';
import { createAuth, RedisStore } from '../../lib';
import { authOptions, buildApp } from './harness';

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`instance-process: ${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const client = new Redis(setting('ERT_TEST_REDIS_URL'), { lazyConnect: true, maxRetriesPerRequest: 1 });
  const options = authOptions(new RedisStore({ client, prefix: setting('ERT_TEST_PREFIX') }));
  const auth = createAuth({
    ...options,
    accessToken: { algorithm: 'HS256', secret: setting('ERT_TEST_ACCESS_SECRET'), ttl: '10m' },
    refreshToken: { ...options.refreshToken, secret: setting('ERT_TEST_REFRESH_SECRET') },
  });
  await auth.ready();
  const app = buildApp(auth);
  app.get('/health/ready', auth.healthHandler());
  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
  });
  process.once('SIGTERM', () => {
    server.close();
    void auth.close().then(() => client.disconnect());
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`instance-process: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
