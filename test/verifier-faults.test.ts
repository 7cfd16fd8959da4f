// express-refresh-tokens/verifier when the auth service's Redis fails: stalled (SIGSTOP), killed and restarted empty, cut off by a TCP proxy; it fails closed (503) once stale, never accepts a revoked token, and recovers by itself.
import type { Express } from 'express';
import express from 'express';
import type Redis from 'ioredis';
import request from 'supertest';
import { createVerifier, type Verifier } from '../lib/verifier';
import { ACCESS_SECRET, login, statusWithin, uniquePrefix } from './support/harness';
import { closePrivateInstances, privateServer, proxyTo, rawClient, readyInstanceOn, splitClient } from './support/private-instances';
import { sidOf } from './support/tokens';
import { waitUntil } from './support/wait-until';

const MAX_STALENESS_MS = 1000;
const stopped: number[] = [];
const verifiers: Verifier[] = [];

afterAll(async () => {
  for (const pid of stopped.splice(0)) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  await Promise.all(verifiers.splice(0).map((verifier) => verifier.close()));
  await closePrivateInstances();
});

/** The auth service (in this process, on its own connection) and a resource service whose verifier reads the feed through `client`. */
async function services(port: number, client: Redis): Promise<{ authApp: Express; revokeSession(sessionId: string): Promise<boolean>; app: Express }> {
  const prefix = uniquePrefix();
  const { app: authApp, auth } = await readyInstanceOn(port, prefix, { revocation: { maxStaleness: '1s' } });
  const verifier = createVerifier({
    secret: ACCESS_SECRET,
    algorithms: ['HS256'],
    redis: { client, prefix, commandTimeoutMs: 300 },
    revocation: { feedKey: auth.revocationFeedKey(), maxStaleness: `${MAX_STALENESS_MS}ms` },
    logger: false,
  });
  verifiers.push(verifier);
  await verifier.ready();
  const app = express();
  app.get('/orders', verifier.requireAuth(), (req, res) => res.json({ for: req.auth?.userId }));
  app.get('/health', verifier.healthHandler());
  return { authApp, revokeSession: (sessionId) => auth.revokeSession(sessionId), app };
}

const orders = (app: Express, accessToken: string) => request(app).get('/orders').set('Authorization', `Bearer ${accessToken}`);
const health = (app: Express) => request(app).get('/health');
/** The status `orders` answers for `accessToken` once `wanted(status)` holds, polling for up to `ms` (the last status after that). */
const ordersWithin = (app: Express, accessToken: string, wanted: (status: number) => boolean, ms: number) =>
  statusWithin(() => orders(app, accessToken), wanted, ms);

/**
 * Polls every 20 ms until `kept` is answered 503 (`temporarily_unavailable`, health failing too), requiring
 * meanwhile 200 or 503 for `kept` and, when given, 401 or 503 for `revoked`, never 200; resolves with the ms it took.
 */
async function failsClosed(app: Express, kept: string, revoked?: string, timeoutMs = 3000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const [forKept, forRevoked] = await Promise.all([orders(app, kept), revoked === undefined ? undefined : orders(app, revoked)]);
    if (forRevoked !== undefined) expect([401, 503]).toContain(forRevoked.status);
    if (forKept.status === 503) {
      expect(forKept.body).toEqual({ error: 'temporarily_unavailable' });
      expect((await health(app)).status).toBe(503);
      return performance.now() - started;
    }
    expect(forKept.status).toBe(200);
    if (performance.now() - started > timeoutMs) throw new Error(`still serving ${timeoutMs} ms after the fault`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Holds for `ms` that `revoked` is never accepted (polled every 20 ms). */
async function neverAccepted(app: Express, revoked: string, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    expect((await orders(app, revoked)).status).not.toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a verifier whose Redis stalls (SIGSTOP)', () => {
  test('answers 503 once maxStaleness has passed, never 200 for a token revoked just before the stall, and serves again after SIGCONT', async () => {
    const server = await privateServer();
    const pid = server.process.pid as number;
    const { authApp, revokeSession, app } = await services(server.port, rawClient(server.port));
    const kept = await login(authApp);
    const revoked = await login(authApp, 'bob');
    expect((await orders(app, revoked.accessToken)).status).toBe(200);

    expect(await revokeSession(sidOf(revoked.accessToken))).toBe(true);
    process.kill(pid, 'SIGSTOP');
    stopped.push(pid);
    try {
      const tookMs = await failsClosed(app, kept.accessToken, revoked.accessToken);
      // Served while the feed could still vouch for itself (confirmed by a heartbeat at most 250 ms before the stall).
      expect(tookMs).toBeGreaterThan(MAX_STALENESS_MS / 2);
      await neverAccepted(app, revoked.accessToken, 500);
    } finally {
      process.kill(pid, 'SIGCONT');
      stopped.splice(stopped.indexOf(pid), 1);
    }
    expect(await ordersWithin(app, kept.accessToken, (status) => status === 200, 5000)).toBe(200);
    expect((await orders(app, revoked.accessToken)).status).toBe(401);
    expect((await health(app)).status).toBe(200);
  });
});

describe('a verifier whose Redis is killed and restarted empty on the same port', () => {
  test('fails its health meanwhile; then refuses every token issued before the loss, for good, and accepts new ones', async () => {
    const server = await privateServer();
    const { authApp, revokeSession, app } = await services(server.port, rawClient(server.port));
    const alice = await login(authApp);
    const bob = await login(authApp, 'bob');
    const revoked = await login(authApp, 'alice', 'alice-phone');
    expect(await revokeSession(sidOf(revoked.accessToken))).toBe(true);
    expect(await ordersWithin(app, revoked.accessToken, (status) => status === 401, 1000)).toBe(401);
    expect((await orders(app, alice.accessToken)).status).toBe(200);

    await server.stop();
    await failsClosed(app, alice.accessToken, revoked.accessToken);
    await privateServer(server.port); // no persistence: nothing of the log, the epoch or the sessions

    // The data loss is detected: what was issued before it can no longer be vouched for.
    expect(await ordersWithin(app, alice.accessToken, (status) => status !== 503, 5000)).toBe(401);
    await waitUntil(async () => (await health(app)).status === 200, 5000, 'the verifier is healthy again');
    for (const token of [alice, bob, revoked]) expect((await orders(app, token.accessToken)).body).toEqual({ error: 'invalid_token' });
    await neverAccepted(app, bob.accessToken, 1200); // past a few heartbeats on the new data

    let again: Awaited<ReturnType<typeof login>> | undefined;
    await waitUntil(async () => (again = await login(authApp).catch(() => undefined)) !== undefined, 5000, 'a login on the new Redis');
    expect((await orders(app, (again as { accessToken: string }).accessToken)).status).toBe(200);
  });
});

describe.each([
  ['its subscriber connection alone', true],
  ['both its connections', false],
])('a verifier cut off from Redis by a TCP proxy (%s)', (_label, subscriberOnly) => {
  test('answers 503 once stale, never accepts what was revoked meanwhile, and recovers by itself when the proxy comes back', async () => {
    const server = await privateServer();
    const proxy = await proxyTo(server.port);
    const client = subscriberOnly ? splitClient(server.port, proxy.port) : rawClient(proxy.port);
    const { authApp, revokeSession, app } = await services(server.port, client);
    const kept = await login(authApp);
    const revoked = await login(authApp, 'bob');
    expect((await orders(app, revoked.accessToken)).status).toBe(200);

    proxy.cut();
    await failsClosed(app, kept.accessToken);
    // Meanwhile the auth service (on its own connection) revokes: the cut verifier cannot hear of it.
    expect(await revokeSession(sidOf(revoked.accessToken))).toBe(true);
    await neverAccepted(app, revoked.accessToken, 300);

    await proxy.restore();
    expect(await ordersWithin(app, kept.accessToken, (status) => status === 200, 5000)).toBe(200);
    expect((await orders(app, revoked.accessToken)).body).toEqual({ error: 'invalid_token' });
    expect((await health(app)).status).toBe(200);
  });
});
