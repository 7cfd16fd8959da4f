// express-refresh-tokens/verifier across processes: an auth service and a resource service, each in a node process of its own, on a private redis-server: revocations reach the resource within 100 ms, no Redis command per request, keys rotated through the JWKS.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import Redis from 'ioredis';
import request from 'supertest';
import { login, REFRESH_SECRET, refresh, uniquePrefix } from './support/harness';
import { closePrivateInstances, type PrivateServer, privateServer } from './support/private-instances';
import { freePort } from './support/redis-process';
import { type ServiceProcess, startService, stopServices } from './support/service-process';
import { sidOf } from './support/tokens';
import { waitUntil } from './support/wait-until';

jest.setTimeout(60_000);

afterAll(async () => {
  await stopServices();
  await closePrivateInstances();
});

/** An ES256 key pair as the auth process takes it: PEM. */
type PemPair = { privateKey: string; publicKey: string };
function pemPair(): PemPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey: (privateKey as KeyObject).export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKey: (publicKey as KeyObject).export({ type: 'spki', format: 'pem' }) as string,
  };
}

const OLD = pemPair();
const NEW = pemPair();
const NEWER = pemPair();

/** The auth service in its own process on `server` (`port` when given: the same one across restarts), signing with the first of `keys`. */
function authProcess(
  server: PrivateServer,
  prefix: string,
  keys: Array<{ kid: string; privateKey?: string; publicKey?: string }>,
  port = 0,
): Promise<ServiceProcess> {
  return startService('auth-process.ts', {
    ERT_TEST_REDIS_URL: `redis://127.0.0.1:${server.port}`,
    ERT_TEST_PREFIX: prefix,
    ERT_TEST_REFRESH_SECRET: REFRESH_SECRET,
    ERT_TEST_KEYS: JSON.stringify(keys),
    ERT_TEST_PORT: String(port),
  });
}

/** The resource service in its own process, its verifier's keys fetched from `auth`'s JWKS, its feed on the same Redis and prefix. */
async function resourceProcess(server: PrivateServer, prefix: string, auth: ServiceProcess): Promise<ServiceProcess> {
  return startService('resource-process.ts', {
    ERT_TEST_REDIS_URL: `redis://127.0.0.1:${server.port}`,
    ERT_TEST_PREFIX: prefix,
    ERT_TEST_FEED_KEY: await auth.call<string>('feedKey'),
    ERT_TEST_JWKS_URI: `${auth.url}/auth/.well-known/jwks.json`,
    ERT_TEST_MAX_STALENESS: '1s',
    ERT_TEST_KEY_REFETCH_COOLDOWN: '0s',
  });
}

const orders = (resource: ServiceProcess, accessToken: string) => request(resource.url).get('/orders').set('Authorization', `Bearer ${accessToken}`);

/**
 * Runs `revoke` while polling the resource with `accessToken` back to back, until the first 401
 * (`invalid_token`); anything but 200 before it fails. Resolves with the ms from the moment the auth
 * process had made the revocation (its answer: a revocation is logged and published before it answers)
 * to that 401, 0 when the resource refused already, and with the ms from just before `revoke` started.
 */
async function refusalAfter(
  resource: ServiceProcess,
  accessToken: string,
  revoke: () => Promise<unknown>,
): Promise<{ afterRevoked: number; afterStart: number }> {
  const started = performance.now();
  let revokedAt: number | undefined;
  const revoking = revoke().then(() => (revokedAt = performance.now()));
  for (;;) {
    const res = await orders(resource, accessToken);
    const now = performance.now();
    if (res.status === 401) {
      expect(res.body).toEqual({ error: 'invalid_token' });
      await revoking;
      return { afterRevoked: Math.max(0, now - (revokedAt as number)), afterStart: now - started };
    }
    expect(res.status).toBe(200);
    if (now - started > 2000) throw new Error('the resource still accepts the token 2 s after the revocation');
  }
}

/** {@link refusalAfter}, held to the target: refused within 100 ms of the revocation, and within 1 s of asking for it. */
async function expectRefusedWithin100ms(resource: ServiceProcess, accessToken: string, revoke: () => Promise<unknown>): Promise<void> {
  const { afterRevoked, afterStart } = await refusalAfter(resource, accessToken, revoke);
  expect(afterRevoked).toBeLessThan(100);
  expect(afterStart).toBeLessThan(1000);
}

describe('an auth service and a resource service, each in its own process', () => {
  let server: PrivateServer;
  let prefix: string;
  let auth: ServiceProcess;
  let resource: ServiceProcess;

  beforeAll(async () => {
    server = await privateServer();
    prefix = uniquePrefix();
    auth = await authProcess(server, prefix, [{ kid: 'k1', privateKey: OLD.privateKey }]);
    resource = await resourceProcess(server, prefix, auth);
  });

  test('revokeSession, a detected reuse and revokeUser in the auth process are refused by the resource process within 100 ms; other users are not', async () => {
    const bystander = await login(auth.url, 'bob');
    const first = await login(auth.url);
    expect((await orders(resource, first.accessToken)).body).toMatchObject({ for: 'user-alice', session: sidOf(first.accessToken) });
    await expectRefusedWithin100ms(resource, first.accessToken, () => auth.call('revokeSession', { sessionId: sidOf(first.accessToken) }));
    expect((await orders(resource, bystander.accessToken)).status).toBe(200);

    // Reuse: the previous refresh token replayed from another User-Agent after a rotation ends the family.
    const second = await login(auth.url);
    expect((await refresh(auth.url, second.refreshToken)).status).toBe(200);
    const replay = () => refresh(auth.url, second.refreshToken).set('User-Agent', 'thief');
    await expectRefusedWithin100ms(resource, second.accessToken, async () => {
      const res = await replay();
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_refresh_token' });
    });
    expect((await orders(resource, bystander.accessToken)).status).toBe(200);

    const third = await login(auth.url);
    const fourth = await login(auth.url, 'alice', 'alice-phone');
    await expectRefusedWithin100ms(resource, third.accessToken, () => auth.call('revokeUser', { userId: 'user-alice' }));
    expect((await orders(resource, fourth.accessToken)).status).toBe(401);
    expect((await orders(resource, bystander.accessToken)).status).toBe(200);
  });

  test('sends no Redis command per request: during 500 protected requests its connections send only heartbeat EVALSHAs', async () => {
    const session = await login(auth.url);
    expect((await orders(resource, session.accessToken)).status).toBe(200);
    // The resource process names its connections (the feed's subscriber is a duplicate, named the same).
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    const monitor = await admin.monitor();
    try {
      const clients = String(await admin.call('CLIENT', 'LIST')).split('\n');
      const addresses = new Set(clients.filter((line) => / name=resource-process /.test(line)).map((line) => /\baddr=(\S+)/.exec(line)?.[1]));
      expect(addresses.size).toBe(2); // its commands' connection and its subscriber
      const seen: Array<{ source: string; command: string }> = [];
      monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ source, command: String(args[0]).toLowerCase() }));
      const started = performance.now();
      for (let batch = 0; batch < 50; batch++) {
        const answers = await Promise.all(Array.from({ length: 10 }, () => orders(resource, session.accessToken)));
        for (const res of answers) expect(res.status).toBe(200);
      }
      const elapsed = performance.now() - started;
      const fromResource = seen.filter((entry) => addresses.has(entry.source));
      // Heartbeats only (one script each, every maxStaleness / 4 = 250 ms), whatever the traffic.
      expect(fromResource.length).toBeGreaterThan(0);
      expect(fromResource.every((entry) => entry.command === 'evalsha')).toBe(true);
      expect(fromResource.length).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 2);
    } finally {
      monitor.disconnect();
      admin.disconnect();
    }
  });
});

describe('key rotation through the JWKS, the auth process restarted with new keys', () => {
  test('a token of a new key is accepted after one refetch (its unknown kid causes it); the refetch of the next rotation drops the retired key, and its tokens are refused', async () => {
    const server = await privateServer();
    const prefix = uniquePrefix();
    // The resource's jwksUri names this port: each new auth process listens on it.
    const port = await freePort();
    let auth = await authProcess(server, prefix, [{ kid: 'old', privateKey: OLD.privateKey }], port);
    const resource = await resourceProcess(server, prefix, auth);
    /** Stops the auth process and starts it again on the same port, signing with `signing` and still publishing `kept` (public only). */
    const redeploy = async (previous: typeof auth, kid: string, signing: PemPair, keptKid: string, kept: PemPair) => {
      await previous.stop();
      return authProcess(
        server,
        prefix,
        [
          { kid, privateKey: signing.privateKey },
          { kid: keptKid, publicKey: kept.publicKey },
        ],
        port,
      );
    };
    const healthy = () => waitUntil(async () => (await request(resource.url).get('/health')).status === 200, 3000, 'the resource is healthy');
    expect(await auth.call('jwksHits')).toBe(1); // fetched once at start-up
    const byOld = await login(auth.url);
    expect((await orders(resource, byOld.accessToken)).status).toBe(200);

    auth = await redeploy(auth, 'new', NEW, 'old', OLD);
    const byNew = await login(auth.url);
    // The new kid is unknown to the resource: one refetch (keyRefetchCooldown 0 here; within a cooldown an
    // unknown kid is refused without a fetch, as keys-and-jwks.test.ts shows), and the token passes.
    await healthy();
    expect((await orders(resource, byNew.accessToken)).status).toBe(200);
    expect(await auth.call('jwksHits')).toBe(1);
    expect((await orders(resource, byOld.accessToken)).status).toBe(200); // still published, public only
    for (let i = 0; i < 20; i++) expect((await orders(resource, byNew.accessToken)).status).toBe(200);
    expect(await auth.call('jwksHits')).toBe(1); // a known kid never fetches

    // The next rotation: 'old' leaves the set. The resource keeps its held set (max-age 300 s) until a
    // fetch: the unknown kid 'newer' causes one, which brings the set without 'old'.
    auth = await redeploy(auth, 'newer', NEWER, 'new', NEW);
    const byNewer = await login(auth.url);
    expect((await orders(resource, byOld.accessToken)).status).toBe(200); // not fetched again yet
    await healthy();
    expect((await orders(resource, byNewer.accessToken)).status).toBe(200);
    expect(await auth.call('jwksHits')).toBe(1);
    const refused = await orders(resource, byOld.accessToken);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'invalid_token' });
    expect((await orders(resource, byNew.accessToken)).status).toBe(200);
  });
});
