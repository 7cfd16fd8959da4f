// A resource service in a process of its own, for the verifier's cross-process suite: GET /orders behind verifier.requireAuth(), GET /health behind its healthHandler().
//
// Run through test/support/service-process.ts with ERT_TEST_REDIS_URL, ERT_TEST_PREFIX, ERT_TEST_FEED_KEY
// (the auth service's auth.revocationFeedKey()) and ERT_TEST_JWKS_URI; ERT_TEST_MAX_STALENESS defaults to 1s.
// Its Redis connections are named `resource-process` (CLIENT LIST tells them apart). Prints `listening <port>`
// once the verifier is ready. IPC: advanceClock { ms } moves its wall clock (`Date`) forward, as if that
// much time had passed; nothing else in the process is changed by it (timers and `performance.now()` keep running).
import express from 'express';
import Redis from 'ioredis';
import { createVerifier } from '../../lib/verifier';
import { answerRequests } from './service-process';

let clockShiftMs = 0;
const RealDate = Date;
/** `Date` whose "now" is `clockShiftMs` ahead: `Date.now()`, `new Date()` and `Date()`; every other use is the real Date's. */
function ShiftedDate(this: unknown, ...args: unknown[]): unknown {
  if (new.target === undefined) return new RealDate(RealDate.now() + clockShiftMs).toString();
  return args.length === 0 ? new RealDate(RealDate.now() + clockShiftMs) : new (RealDate as unknown as new (...a: unknown[]) => Date)(...args);
}
ShiftedDate.prototype = RealDate.prototype;
ShiftedDate.now = () => RealDate.now() + clockShiftMs;
ShiftedDate.parse = RealDate.parse;
ShiftedDate.UTC = RealDate.UTC;
globalThis.Date = ShiftedDate as unknown as DateConstructor;

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`resource-process: ${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const client = new Redis(setting('ERT_TEST_REDIS_URL'), { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'resource-process' });
  await client.connect();
  const verifier = createVerifier({
    jwksUri: setting('ERT_TEST_JWKS_URI'),
    algorithms: ['ES256'],
    issuer: 'https://auth.test',
    redis: { client, prefix: setting('ERT_TEST_PREFIX') },
    revocation: { feedKey: setting('ERT_TEST_FEED_KEY'), maxStaleness: process.env.ERT_TEST_MAX_STALENESS ?? '1s' },
    logger: false,
  });
  await verifier.ready();
  const app = express();
  app.get('/orders', verifier.requireAuth(), (req, res) => res.json({ for: req.auth?.userId, session: req.auth?.sessionId }));
  app.get('/health', verifier.healthHandler());
  answerRequests({
    advanceClock: (message) => {
      clockShiftMs += message.ms as number;
      return clockShiftMs;
    },
  });
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
