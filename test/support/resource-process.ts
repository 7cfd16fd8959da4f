// A resource service in a process of its own, for the verifier's cross-process suite: GET /orders behind verifier.requireAuth(), GET /health behind its healthHandler().
//
// Run through test/support/service-process.ts with ERT_TEST_REDIS_URL, ERT_TEST_PREFIX, ERT_TEST_FEED_KEY
// (the auth service's auth.revocationFeedKey()) and ERT_TEST_JWKS_URI; ERT_TEST_MAX_STALENESS defaults to 1s,
// ERT_TEST_KEY_REFETCH_COOLDOWN to the verifier's own 30s. Its Redis connections are named `resource-process`
// (CLIENT LIST tells them apart). Prints `listening <port>` once the verifier is ready.
import express from 'express';
import Redis from 'ioredis';
import { createVerifier } from '../../lib/verifier';
import { setting } from './process-settings';

const SCRIPT = 'resource-process';

async function main(): Promise<void> {
  const client = new Redis(setting(SCRIPT, 'ERT_TEST_REDIS_URL'), { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'resource-process' });
  await client.connect();
  const verifier = createVerifier({
    jwksUri: setting(SCRIPT, 'ERT_TEST_JWKS_URI'),
    algorithms: ['ES256'],
    issuer: 'https://auth.test',
    redis: { client, prefix: setting(SCRIPT, 'ERT_TEST_PREFIX') },
    revocation: { feedKey: setting(SCRIPT, 'ERT_TEST_FEED_KEY'), maxStaleness: process.env.ERT_TEST_MAX_STALENESS ?? '1s' },
    keyRefetchCooldown: process.env.ERT_TEST_KEY_REFETCH_COOLDOWN ?? '30s',
    logger: false,
  });
  await verifier.ready();
  const app = express();
  app.get('/orders', verifier.requireAuth(), (req, res) => res.json({ for: req.auth?.userId, session: req.auth?.sessionId }));
  app.get('/health', verifier.healthHandler());
  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
  });
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void verifier.close().finally(() => {
      client.disconnect();
      process.exit(0);
    });
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`resource-process: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
