// Two auth instances sharing one real 3-master Redis Cluster: rotation, reuse, sessions and revocation across instances, over HTTP; and a verifier (express-refresh-tokens/verifier) on the same feed.

import express, { type Express } from 'express';
import Redis, { type Cluster } from 'ioredis';
import request from 'supertest';
import { type Auth, createAuth, RedisStore, type SessionEvent } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import { createVerifier } from '../lib/verifier';
import {
  ACCESS_SECRET,
  authOptions,
  buildApp,
  expectAccessRejected,
  expectAccessRejectedWithin,
  expectRefreshRejected,
  login,
  me,
  refresh,
  refreshCookieOf,
  USERS,
  uniquePrefix,
} from './support/harness';
import { type RedisCluster, startRedisCluster } from './support/redis-cluster';
import { sidOf } from './support/tokens';

// cluster-key-slot ships with ioredis and has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const clusterKeySlot = require('cluster-key-slot') as (key: string) => number;

const ALICE = (USERS.alice as { id: string }).id;
const BOB = (USERS.bob as { id: string }).id;

interface Instance {
  client: Cluster;
  auth: Auth;
  app: Express;
  reuse: SessionEvent[];
  retried: boolean[];
}

/** Refreshes and insists on a 200; returns the successor cookie and the new access token. */
async function rotate(app: Express, refreshToken: string): Promise<{ refreshToken: string; accessToken: string }> {
  const res = await refresh(app, refreshToken);
  if (res.status !== 200) throw new Error(`refresh failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { refreshToken: refreshCookieOf(res) as string, accessToken: res.body.accessToken as string };
}

/** Asserts that a refresh token is refused by every given app. */
async function expectRefreshRejectedEverywhere(apps: Express[], refreshToken: string): Promise<void> {
  for (const app of apps) await expectRefreshRejected(app, refreshToken);
}

function bearer(test: request.Test, accessToken: string): request.Test {
  return test.set('Authorization', `Bearer ${accessToken}`);
}

describe('RedisStore on a real Redis Cluster, two auth instances', () => {
  jest.setTimeout(60_000);
  let cluster: RedisCluster;
  let prefix: string;
  let A: Instance;
  let B: Instance;

  async function instance(): Promise<Instance> {
    const client = new Redis.Cluster(cluster.nodes, { lazyConnect: true });
    await client.connect();
    const auth = createAuth(authOptions(new RedisStore({ client, prefix })));
    await auth.ready();
    const reuse: SessionEvent[] = [];
    const retried: boolean[] = [];
    auth.events.on('reuse_detected', (event) => reuse.push(event));
    auth.events.on('refresh', (event) => retried.push(event.retried));
    return { client, auth, app: buildApp(auth), reuse, retried };
  }

  beforeAll(async () => {
    cluster = await startRedisCluster();
    prefix = uniquePrefix();
    [A, B] = await Promise.all([instance(), instance()]);
  }, 30_000);

  afterAll(async () => {
    for (const i of [A, B]) await i?.auth.close();
    await Promise.all([A, B].map((i) => i?.client.quit().catch(() => i.client.disconnect())));
    await cluster?.stop();
    const alive = (cluster?.pids ?? []).filter((pid) => {
      try {
        return process.kill(pid, 0);
      } catch {
        return false;
      }
    });
    if (alive.length > 0) throw new Error(`redis-server processes still alive after stop(): ${alive.join(', ')}`);
  });

  // Each test starts with no live session of alice or bob (tests share the prefix).
  beforeEach(async () => {
    await Promise.all([ALICE, BOB].map((userId) => A.auth.revokeUser(userId)));
    A.reuse.length = B.reuse.length = A.retried.length = B.retried.length = 0;
  });

  test('a login on A works on B; a retry on A of the token B rotated gets the same successor', async () => {
    const session = await login(A.app);
    const who = await me(B.app, session.accessToken);
    expect(who.status).toBe(200);
    expect(who.body.userId).toBe(ALICE);

    const first = await rotate(B.app, session.refreshToken);
    expect(first.refreshToken).not.toBe(session.refreshToken);
    const retry = await rotate(A.app, session.refreshToken);
    expect(retry.refreshToken).toBe(first.refreshToken);
    expect([B.retried, A.retried]).toEqual([[false], [true]]);
    expect((await me(B.app, retry.accessToken)).status).toBe(200);

    const next = await rotate(A.app, first.refreshToken);
    expect(next.refreshToken).not.toBe(first.refreshToken);
    expect((await me(B.app, next.accessToken)).status).toBe(200);
    expect([...A.reuse, ...B.reuse]).toEqual([]);
  });

  test('reuse of an older token on A kills the family on both instances', async () => {
    const session = await login(A.app);
    const second = await rotate(B.app, session.refreshToken);
    const third = await rotate(A.app, second.refreshToken);

    const replay = await refresh(A.app, session.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ error: 'invalid_refresh_token' });
    expect(A.reuse).toEqual([expect.objectContaining({ userId: ALICE, sessionId: sidOf(session.accessToken) })]);
    expect(B.reuse).toEqual([]);

    await expectRefreshRejectedEverywhere([B.app, A.app], third.refreshToken);
    for (const token of [session.accessToken, second.accessToken, third.accessToken]) {
      await expectAccessRejected(A.app, token);
      await expectAccessRejectedWithin(B.app, token);
    }
  });

  test('GET /auth/sessions on B lists alice’s sessions; DELETE on A ends the other one everywhere', async () => {
    const laptop = await login(A.app, 'alice', 'alice-laptop');
    const phone = await login(B.app, 'alice', 'alice-phone');
    const bob = await login(A.app, 'bob', 'bob-desktop');

    const list = await bearer(request(B.app).get('/auth/sessions'), laptop.accessToken);
    expect(list.status).toBe(200);
    const sessions = list.body.sessions as Array<{ id: string; userAgent: string; current: boolean }>;
    expect(sessions.map(({ id, userAgent, current }) => ({ id, userAgent, current })).sort((a, b) => a.userAgent.localeCompare(b.userAgent))).toEqual([
      { id: sidOf(laptop.accessToken), userAgent: 'alice-laptop', current: true },
      { id: sidOf(phone.accessToken), userAgent: 'alice-phone', current: false },
    ]);

    const forBob = await bearer(request(A.app).delete(`/auth/sessions/${sidOf(phone.accessToken)}`), bob.accessToken);
    expect(forBob.status).toBe(404);
    const removed = await bearer(request(A.app).delete(`/auth/sessions/${sidOf(phone.accessToken)}`), laptop.accessToken);
    expect(removed.status).toBe(204);

    await expectAccessRejectedWithin(B.app, phone.accessToken);
    await expectRefreshRejectedEverywhere([B.app, A.app], phone.refreshToken);
    expect((await me(B.app, laptop.accessToken)).status).toBe(200);
    expect((await me(B.app, bob.accessToken)).status).toBe(200);
  });

  test('POST /auth/logout-all on A ends every alice session on both instances; a new login works', async () => {
    const sessions = [await login(A.app, 'alice', 'one'), await login(B.app, 'alice', 'two')];
    const bob = await login(B.app, 'bob');
    const res = await bearer(request(A.app).post('/auth/logout-all'), (sessions[0] as { accessToken: string }).accessToken);
    expect(res.status).toBe(204);

    for (const session of sessions) {
      await expectRefreshRejectedEverywhere([A.app, B.app], session.refreshToken);
      await expectAccessRejectedWithin(B.app, session.accessToken);
    }
    expect((await me(B.app, bob.accessToken)).status).toBe(200);

    const again = await login(B.app);
    expect((await me(A.app, again.accessToken)).body.userId).toBe(ALICE);
    expect((await rotate(A.app, again.refreshToken)).refreshToken).not.toBe(again.refreshToken);
  });

  test('auth.revokeUser on B ends the sessions created through A', async () => {
    const sessions = [await login(A.app, 'alice', 'one'), await login(A.app, 'alice', 'two')];
    expect(await A.auth.listSessions(ALICE)).toHaveLength(2);

    const ended = await B.auth.revokeUser(ALICE);
    expect([...ended].sort()).toEqual(sessions.map((s) => sidOf(s.accessToken)).sort());
    for (const session of sessions) {
      await expectAccessRejectedWithin(A.app, session.accessToken);
      await expectRefreshRejectedEverywhere([A.app, B.app], session.refreshToken);
    }
    expect(await B.auth.listSessions(ALICE)).toEqual([]);
    expect(await A.auth.listSessions(ALICE)).toEqual([]);
  });

  test('a verifier on a Cluster client of its own shares the feed: revokeSession on A is refused by it within 1 s, other sessions still served', async () => {
    const client = new Redis.Cluster(cluster.nodes, { lazyConnect: true });
    await client.connect();
    const verifier = createVerifier({
      secret: ACCESS_SECRET,
      algorithms: ['HS256'],
      redis: { client, prefix },
      revocation: { feedKey: A.auth.revocationFeedKey(), maxStaleness: '1s' },
      logger: false,
    });
    try {
      await verifier.ready();
      const resource = express().get('/api/me', verifier.requireAuth(), (req, res) => res.json(req.auth));
      const session = await login(A.app);
      const bob = await login(B.app, 'bob');
      expect((await me(resource, session.accessToken)).body.userId).toBe(ALICE);
      expect(await A.auth.revokeSession(sidOf(session.accessToken))).toBe(true);
      await expectAccessRejectedWithin(resource, session.accessToken, 1000);
      expect((await me(resource, bob.accessToken)).status).toBe(200);
      expect(verifier.health().status).toBe('pass');
    } finally {
      await verifier.close();
      await client.quit().catch(() => client.disconnect());
    }
  });

  test('the session keys really are spread over several masters', async () => {
    const sessions = await Promise.all(Array.from({ length: 12 }, (_, i) => login(i % 2 ? A.app : B.app, i % 3 ? 'alice' : 'bob')));
    const expected = sessions.map((s) => redisKeys(prefix).session(sidOf(s.accessToken))).sort();

    const masters = A.client.nodes('master');
    expect(masters).toHaveLength(3);
    const found: string[] = [];
    let mastersWithSessions = 0;
    for (const node of masters) {
      const keys = (await node.keys(`${prefix}s:*`)) as string[];
      if (keys.length > 0) mastersWithSessions++;
      for (const key of keys) {
        // The node holding the key is the one owning its slot, and the slot is that of the hash tag.
        expect(Number(await node.call('CLUSTER', 'KEYSLOT', key))).toBe(clusterKeySlot(key));
        expect(Number(await node.call('CLUSTER', 'COUNTKEYSINSLOT', clusterKeySlot(key)))).toBeGreaterThan(0);
        expect(clusterKeySlot(key)).toBe(clusterKeySlot(key.slice(key.indexOf('{') + 1, -1)));
      }
      found.push(...keys);
    }
    expect(found.sort()).toEqual(expected);
    expect(mastersWithSessions).toBeGreaterThan(1);
    expect(new Set(found.map(clusterKeySlot)).size).toBeGreaterThan(1);
  });

  test('a revocation made while the subscribers are moving to another node still reaches A (the feed notices the gap)', async () => {
    const session = await login(B.app);
    expect((await me(A.app, session.accessToken)).status).toBe(200);
    // Every subscriber connection drops (a node restart, an idle timeout): ioredis' Cluster moves its
    // subscriber to another node without a 'ready' event, so only the versioned log reveals the gap.
    await Promise.all(A.client.nodes('master').map((node) => node.call('CLIENT', 'KILL', 'TYPE', 'pubsub')));
    expect(await B.auth.revokeSession(sidOf(session.accessToken))).toBe(true);
    await expectAccessRejectedWithin(A.app, session.accessToken, 4000);
  });

  test('a user id holding braces keeps its keys on one slot: login, listing and revokeUser work', async () => {
    const store = new RedisStore({ client: A.client, prefix });
    const userId = '}odd{user';
    const now = Date.now();
    const created = await store.createSession({
      sessionId: `brace-${now}`,
      userId,
      claims: {},
      device: 'jest',
      network: '',
      deviceHash: 'device-hash',
      secretHash: 'h'.repeat(16),
      clientHash: 'client',
      now,
      idleTtlMs: 60_000,
      absoluteTtlMs: 120_000,
      maxSessionsPerUser: 100,
      revocationTtlMs: 60_000,
    });
    expect(created?.userId).toBe(userId);
    expect((await store.listSessions(userId)).map((record) => record.sessionId)).toEqual([`brace-${now}`]);
    expect(clusterKeySlot(redisKeys(prefix).userIndex(userId))).toBe(clusterKeySlot(redisKeys(prefix).userRevoked(userId)));
    expect(created?.newDevice).toBe(true);
    expect((await store.revokeUser(userId, { revokedBefore: Date.now() + 1, retainMs: 60_000 })).map((record) => record.sessionId)).toEqual([`brace-${now}`]);
    expect(await store.listSessions(userId)).toEqual([]);
  });

  test('a prefix with braces is refused with a TypeError naming them', () => {
    expect(() => new RedisStore({ client: A.client, prefix: 'a{b}:' })).toThrow(TypeError);
    expect(() => new RedisStore({ client: A.client, prefix: 'a{b}:' })).toThrow(/'\{' or '\}'.*braces/);
  });
});
