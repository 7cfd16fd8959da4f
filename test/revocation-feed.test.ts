// The revocation feed across instances: every way of revoking reaches the other instance, a cut feed fails closed and re-syncs, a Redis that lost its data forgets nothing, revokeUser ends logins in flight.
import type { Express } from 'express';
import request from 'supertest';
import { type Auth, createAuth, RedisStore } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import {
  authOptions,
  buildApp,
  COOKIE,
  expectRefreshRejected,
  login,
  me,
  REFRESH_SECRET,
  refresh,
  refreshCookieOf,
  statusWithin,
  testApp,
  USERS,
  uniquePrefix,
} from './support/harness';
import { closePrivateInstances, privateServer, proxyTo, rawClient, readyInstanceOn, splitClient } from './support/private-instances';
import { sidOf } from './support/tokens';

afterAll(closePrivateInstances);

/** An instance (auth + app) on its own client, sharing `prefix` with the others on that server; loaded. */
function instance(port: number, prefix: string, maxStaleness = '1s'): Promise<{ app: Express; auth: Auth }> {
  return readyInstanceOn(port, prefix, { revocation: { maxStaleness } });
}

const post = (app: Express, path: string, accessToken?: string): request.Test => {
  const req = request(app).post(`/auth/${path}`).set('X-Requested-With', 'fetch');
  return accessToken ? req.set('Authorization', `Bearer ${accessToken}`) : req;
};

describe('a revocation through one instance is enforced by another', () => {
  let a: { app: Express; auth: Auth };
  let b: { app: Express; auth: Auth };

  beforeAll(async () => {
    const server = await privateServer();
    const prefix = uniquePrefix();
    a = await instance(server.port, prefix);
    b = await instance(server.port, prefix);
  });

  /** Logs alice in on A, checks B accepts her token, revokes through `revoke`, then expects B to refuse it. */
  async function expectEnforcedOnB(revoke: (session: Awaited<ReturnType<typeof login>>) => Promise<unknown>): Promise<void> {
    const session = await login(a.app);
    expect((await me(b.app, session.accessToken)).status).toBe(200);
    await revoke(session);
    expect(
      await statusWithin(
        () => me(b.app, session.accessToken),
        (s) => s === 401,
        1000,
      ),
    ).toBe(401);
    await expectRefreshRejected(b.app, session.refreshToken);
  }

  test('logout', () => expectEnforcedOnB(async (s) => expect((await post(a.app, 'logout').set('Cookie', `${COOKIE}=${s.refreshToken}`)).status).toBe(204)));

  test('reuse detection', () =>
    expectEnforcedOnB(async (s) => {
      const rotated = await refresh(a.app, s.refreshToken);
      expect((await refresh(a.app, refreshCookieOf(rotated) as string)).status).toBe(200);
      expect((await refresh(a.app, s.refreshToken)).status).toBe(401); // two rotations back: reuse
    }));

  test('auth.revokeSession', () => expectEnforcedOnB(async (s) => expect(await a.auth.revokeSession(sidOf(s.accessToken))).toBe(true)));

  test('auth.revokeUser', () => expectEnforcedOnB(async (s) => expect(await a.auth.revokeUser('user-alice')).toContain(sidOf(s.accessToken))));

  test('DELETE /auth/sessions/:id', () =>
    expectEnforcedOnB(async (s) => {
      const other = await login(a.app);
      const res = await request(a.app)
        .delete(`/auth/sessions/${sidOf(s.accessToken)}`)
        .set('Authorization', `Bearer ${other.accessToken}`);
      expect(res.status).toBe(204);
    }));

  test('POST /auth/logout-all', () => expectEnforcedOnB(async (s) => expect((await post(a.app, 'logout-all', s.accessToken)).status).toBe(204)));
});

describe('a feed under a steady stream of revocations from another instance', () => {
  test('stays fresh without re-loading: a heartbeat heard before revocations numbered ahead of it confirms once they arrive', async () => {
    const server = await privateServer();
    const prefix = uniquePrefix();
    const { epoch, version } = redisKeys(prefix);
    const watched = await instance(server.port, prefix, '1s');
    const revoking = await instance(server.port, prefix, '1s');
    const session = await login(watched.app);
    // A load begins with the one script that names exactly the epoch and the version keys.
    const monitor = await rawClient(server.port).monitor();
    let loads = 0;
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (String(args[0]).toLowerCase() === 'evalsha' && args[2] === '2' && args[3] === epoch && args[4] === version) loads += 1;
    });
    const statuses = new Set<number>();
    const stopAt = Date.now() + 3000;
    // Four loops revoking sessions nobody holds: hundreds of numbered revocations a second.
    const revocations = Array.from({ length: 4 }, async () => {
      let count = 0;
      while (Date.now() < stopAt) {
        await revoking.auth.revokeSession(`no-such-session-${count++}`);
      }
      return count;
    });
    while (Date.now() < stopAt) {
      statuses.add((await me(watched.app, session.accessToken)).status);
      await new Promise((r) => setTimeout(r, 20));
    }
    const revoked = (await Promise.all(revocations)).reduce((sum, count) => sum + count, 0);
    monitor.disconnect();
    expect(revoked).toBeGreaterThan(100);
    expect([...statuses]).toEqual([200]);
    expect(loads).toBe(0);
  });
});

describe('a feed cut off from Redis (a TCP proxy closed, then restored)', () => {
  test('answers 503 once stale, never accepts again what was revoked meanwhile, and recovers by itself', async () => {
    const server = await privateServer();
    const prefix = uniquePrefix();
    const proxy = await proxyTo(server.port);
    const cut = await instance(proxy.port, prefix, '1s');
    const direct = await instance(server.port, prefix, '1s');
    const kept = await login(cut.app);
    const revoked = await login(cut.app);

    proxy.cut();
    expect(
      await statusWithin(
        () => me(cut.app, kept.accessToken),
        (s) => s === 503,
        3000,
      ),
    ).toBe(503);
    expect((await me(cut.app, revoked.accessToken)).body).toEqual({ error: 'temporarily_unavailable' });
    // Meanwhile, elsewhere: a revocation the cut instance cannot hear about.
    expect(await direct.auth.revokeSession(sidOf(revoked.accessToken))).toBe(true);

    await proxy.restore();
    expect(
      await statusWithin(
        () => me(cut.app, kept.accessToken),
        (s) => s === 200,
        5000,
      ),
    ).toBe(200);
    expect((await me(cut.app, revoked.accessToken)).status).toBe(401);
  });
});

describe('a feed whose subscription alone is cut (the main connection works)', () => {
  test('a refresh answers 503 without rotating, so the kept cookie still refreshes afterwards, with no reuse alarm', async () => {
    const server = await privateServer();
    const proxy = await proxyTo(server.port);
    // The feed's subscriber goes through the proxy; everything else straight to Redis.
    const split = splitClient(server.port, proxy.port);
    const { app, auth } = testApp(new RedisStore({ client: split, prefix: uniquePrefix(), commandTimeoutMs: 300 }), {
      revocation: { maxStaleness: '1s' },
      refreshToken: { secret: REFRESH_SECRET, reuseGrace: '1s' },
    });
    await auth.ready();
    const reuse: unknown[] = [];
    auth.events.on('reuse_detected', (event) => reuse.push(event));
    const session = await login(app);

    proxy.cut();
    expect(
      await statusWithin(
        () => me(app, session.accessToken),
        (s) => s === 503,
        3000,
      ),
    ).toBe(503); // the feed is stale now
    expect((await refresh(app, session.refreshToken)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 1200)); // past the grace window: a rotation now would make the kept cookie a reuse
    await proxy.restore();
    expect(
      await statusWithin(
        () => refresh(app, session.refreshToken),
        (s) => s !== 503,
        5000,
      ),
    ).toBe(200);
    expect(reuse).toEqual([]);
  });
});

describe('a Redis that comes back empty (restarted without persistence)', () => {
  test('no access token revoked before the loss is accepted again, by the old instance or a new one; new logins work', async () => {
    const server = await privateServer();
    const prefix = uniquePrefix();
    const old = await instance(server.port, prefix, '1s');
    const revoked = await login(old.app);
    const untouched = await login(old.app, 'bob');
    expect((await post(old.app, 'logout').set('Cookie', `${COOKIE}=${revoked.refreshToken}`)).status).toBe(204);
    expect((await me(old.app, revoked.accessToken)).status).toBe(401);

    await server.stop();
    await privateServer(server.port); // same port, no data

    // The old instance re-syncs against the new data generation: everything issued before it is suspect.
    expect(
      await statusWithin(
        () => me(old.app, untouched.accessToken),
        (s) => s === 401,
        5000,
      ),
    ).toBe(401);
    expect((await me(old.app, revoked.accessToken)).status).toBe(401);
    // A new instance never saw the revocation, and still refuses the revoked token.
    const fresh = await instance(server.port, prefix, '1s');
    expect((await me(fresh.app, revoked.accessToken)).status).toBe(401);
    expect((await me(fresh.app, untouched.accessToken)).status).toBe(401);

    const again = await login(old.app);
    expect((await me(old.app, again.accessToken)).status).toBe(200);
    expect((await me(fresh.app, again.accessToken)).status).toBe(200);
  });
});

describe('revokeUser ends logins in flight', () => {
  test('a login whose authenticate was running when revokeUser was called gets no session; a login started afterwards works', async () => {
    const server = await privateServer();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = true;
    const auth = createAuth(
      authOptions(new RedisStore({ client: rawClient(server.port), prefix: uniquePrefix() }), {
        authenticate: async (req) => {
          if (holding) await held;
          const { username } = req.body as { username: string };
          return { userId: (USERS[username] as { id: string }).id };
        },
      }),
    );
    const app = buildApp(auth);
    await auth.ready();

    const inFlight = post(app, 'login')
      .send({ username: 'alice', password: 'alice-password' })
      .then((res) => res);
    await new Promise((r) => setTimeout(r, 100)); // authenticate is now waiting
    await auth.revokeUser('user-alice'); // e.g. the password was just changed
    holding = false;
    release();
    const res = await inFlight;

    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_credentials' });
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(await auth.listSessions('user-alice')).toEqual([]);

    const after = await login(app);
    expect((await me(app, after.accessToken)).status).toBe(200);
    expect((await refresh(app, after.refreshToken)).status).toBe(200);
    await auth.close();
  });
});
