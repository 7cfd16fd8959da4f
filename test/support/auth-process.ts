// The auth service in a process of its own, for the verifier's cross-process suite: the harness' users on RedisStore, access tokens signed with the keys it is given, its JWKS fetches counted.
//
// Run through test/support/service-process.ts with ERT_TEST_REDIS_URL, ERT_TEST_PREFIX, ERT_TEST_REFRESH_SECRET
// (the same across restarts, so the feed key and the refresh tokens stay valid), ERT_TEST_KEYS (JSON
// `[{ kid, privateKey?, publicKey? }]`, PEM; the first signs) and ERT_TEST_PORT (0 or unset: any). Prints
// `listening <port>` once its revocation feed is loaded. IPC: feedKey, revokeSession, revokeUser, jwksHits.
import express from 'express';
import { authFromEnvironment, setting } from './process-settings';
import { answerRequests } from './service-process';

const SCRIPT = 'auth-process';

async function main(): Promise<void> {
  const { auth, stop } = await authFromEnvironment(SCRIPT, {
    accessToken: { algorithm: 'ES256', keys: JSON.parse(setting(SCRIPT, 'ERT_TEST_KEYS')), issuer: 'https://auth.test', ttl: '10m' },
    revocation: { maxStaleness: '1s' },
  });
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
    void stop().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`auth-process: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
