// One auth instance in a process of its own, so that its clock can be shifted (shifted-clock.js): the harness' test app on RedisStore.
//
// Run as `node --require test/support/run-typescript.js [--require test/support/shifted-clock.js] test/support/instance-process.ts`
// with ERT_TEST_REDIS_URL, ERT_TEST_PREFIX and the test process's ERT_TEST_ACCESS_SECRET and
// ERT_TEST_REFRESH_SECRET (so each side accepts the other's tokens). Prints `listening <port>` once
// its revocation feed is loaded; answers its health at /health/ready; stops on SIGTERM. Process warnings go to stderr, as Node prints them.
import { buildApp } from './harness';
import { authFromEnvironment, setting } from './process-settings';

const SCRIPT = 'instance-process';

async function main(): Promise<void> {
  const { auth, stop } = await authFromEnvironment(SCRIPT, {
    accessToken: { algorithm: 'HS256', secret: setting(SCRIPT, 'ERT_TEST_ACCESS_SECRET'), ttl: '10m' },
  });
  const app = buildApp(auth);
  app.get('/health/ready', auth.healthHandler());
  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
  });
  process.once('SIGTERM', () => {
    server.close();
    void stop();
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`instance-process: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
