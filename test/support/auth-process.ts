// The auth service in a process of its own, for the verifier's cross-process suite: the harness' users on RedisStore, access tokens signed with the keys it is given, its JWKS fetches counted.
//
// Run through test/support/service-process.ts with ERT_TEST_REDIS_URL, ERT_TEST_PREFIX, ERT_TEST_REFRESH_SECRET
// (the same across restarts, so the feed key and the refresh tokens stay valid), ERT_TEST_KEYS (JSON
// `[{ kid, privateKey?, publicKey? }]`, PEM; the first signs) and ERT_TEST_PORT (0 or unset: any). Prints
// `listening <port>` once its revocation feed is loaded. IPC: feedKey, revokeSession, revokeUser, jwksHits.
import express from 'express';
import Redis from 'ioredis';
import { createAuth, RedisStore } from '../../lib';
import { authOptions } from './harness';
import { answerRequests } from './service-process';

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`auth-process: ${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const client = new Redis(setting('ERT_TEST_REDIS_URL'), { lazyConnect: true, maxRetriesPerRequest: 1 });
  const options = authOptions(new RedisStore({ client, prefix: setting('ERT_TEST_PREFIX') }));
  const auth = createAuth({
    ...options,
    accessToken: { algorithm: 'ES256', keys: JSON.parse(setting('ERT_TEST_KEYS')), issuer: 'https://auth.test', ttl: '10m' },
    refreshToken: { ...options.refreshToken, secret: setting('ERT_TEST_REFRESH_SECRET') },
    revocation: { maxStaleness: '1s' },
  });
  await auth.ready();
  let jwksHits = 0;
  const app = express();
  app.use((req, _res, next) => {
    if (req.path === '/auth/.well-known/jwks.json') jwksHits++;
    next();
  });
  app.use('/auth', auth.router);
  answerRequests({
    feedKey: () => auth.revocationFeedKey(),
    revokeSession: (message) => auth.revokeSession(message.sessionId as string),
    revokeUser: (message) => auth.revokeUser(message.userId as string),
    jwksHits: () => jwksHits,
  });
  const server = app.listen(Number(process.env.ERT_TEST_PORT ?? 0), '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
  });
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections(); // the verifier's keep-alive JWKS connection must not hold the port
    void auth.close().finally(() => {
      client.disconnect();
      process.exit(0);
    });
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`auth-process: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
