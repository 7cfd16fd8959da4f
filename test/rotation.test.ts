// SPEC §4 over HTTP: atomic rotation, the grace window, reuse detection vs. forgery, idle and absolute expiry.

import type { Express } from 'express';
import request from 'supertest';
import type { Auth, AuthOptions, RefreshTokenOptions, SessionEvent } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import {
  ACCESS_SECRET,
  COOKIE,
  closeClients,
  expectAccessRejected,
  expectRefreshRejected,
  login,
  me,
  REFRESH_SECRET,
  redisStore,
  refresh,
  refreshCookieOf,
  testApp,
} from './support/harness';
import { forgedRefreshToken, sessionIdOfRefreshToken, sidOf } from './support/tokens';

afterAll(closeClients);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh app on its own RedisStore, with refresh-token options merged over the harness defaults. */
async function redisApp(refreshToken: Partial<RefreshTokenOptions> = {}, overrides: Partial<AuthOptions> = {}) {
  const { store, client, prefix } = await redisStore();
  const { app, auth } = testApp(store, {
    refreshToken: { secret: REFRESH_SECRET, idleTtl: '14d', absoluteTtl: '30d', reuseGrace: '30s', ...refreshToken },
    ...overrides,
  });
  return { app, auth, client, prefix, reuse: collect(auth, 'reuse_detected') };
}

/** Options for the short-TTL expiry tests: access tokens must not outlive the idle TTL. */
const shortAccessToken: Partial<AuthOptions> = { accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: 1 } };

function collect(auth: Auth, event: 'reuse_detected'): SessionEvent[] {
  const seen: SessionEvent[] = [];
  auth.events.on(event, (payload) => seen.push(payload));
  return seen;
}

/** Refreshes and insists on a 200; returns the successor and the new access token. */
async function rotate(app: Express, refreshToken: string): Promise<{ refreshToken: string; accessToken: string; res: request.Response }> {
  const res = await refresh(app, refreshToken);
  if (res.status !== 200) throw new Error(`refresh failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { refreshToken: refreshCookieOf(res) as string, accessToken: res.body.accessToken as string, res };
}

function maxAgeOf(res: request.Response): number {
  const raw = res.headers['set-cookie'] as unknown;
  const lines = Array.isArray(raw) ? (raw as string[]) : [];
  const line = lines.find((cookie) => cookie.startsWith(`${COOKIE}=`)) ?? '';
  const match = /;\s*Max-Age=(\d+)/i.exec(line);
  if (!match) throw new Error(`no Max-Age in ${line}`);
  return Number(match[1]);
}

describe('rotation is atomic', () => {
  test('20 parallel refreshes with one token all answer 200 with exactly one distinct successor, and the family lives on', async () => {
    const { app, reuse } = await redisApp();
    const session = await login(app);
    const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(app, session.refreshToken)));
    expect(answers.map((res) => res.status)).toEqual(Array(20).fill(200));
    const successors = new Set(answers.map((res) => refreshCookieOf(res)));
    expect(successors.size).toBe(1);
    const [successor] = [...successors] as [string];
    expect(successor).not.toBe(session.refreshToken);
    expect(sessionIdOfRefreshToken(successor)).toBe(sessionIdOfRefreshToken(session.refreshToken));
    expect(reuse).toHaveLength(0);

    for (const res of answers) expect((await me(app, res.body.accessToken as string)).status).toBe(200);
    const next = await rotate(app, successor);
    expect(next.refreshToken).not.toBe(successor);
    expect((await me(app, next.accessToken)).status).toBe(200);
  });
});

describe('grace window (reuseGrace)', () => {
  test('the previous token inside the window answers 200 with the same successor as before', async () => {
    const { app, auth, reuse } = await redisApp();
    const retried: boolean[] = [];
    auth.events.on('refresh', (event) => retried.push(event.retried));
    const session = await login(app);
    const first = await rotate(app, session.refreshToken);
    const again = await rotate(app, session.refreshToken);
    expect(again.refreshToken).toBe(first.refreshToken);
    expect(retried).toEqual([false, true]);
    expect(reuse).toHaveLength(0);
    // No branching: the successor is still the family's one live token, and it rotates normally.
    const next = await rotate(app, first.refreshToken);
    expect(next.refreshToken).not.toBe(first.refreshToken);
    expect((await me(app, again.accessToken)).status).toBe(200);
  });

  // The client is whatever req.ip says: Express' own reading of trust proxy, or an app's override of it.
  const trustLoopback = (app: Express) => app.set('trust proxy', 'loopback');
  const ownReqIp = (app: Express) =>
    Object.defineProperty(app.request, 'ip', {
      configurable: true,
      get(this: Express['request']) {
        return this.get('cf-connecting-ip') ?? this.socket.remoteAddress;
      },
    });
  test.each([
    ["Express' trust proxy off (the default): X-Forwarded-For is ignored, the client is the socket address", undefined, 200, ['127.0.0.1', '127.0.0.1']],
    ["Express' trust proxy 'loopback': the client is the address the proxy reports", trustLoopback, 401, ['203.0.113.1', '203.0.113.2']],
    ["trust proxy off but the app's own req.ip (a CDN's client-address header): that address", ownReqIp, 401, ['203.0.113.1', '203.0.113.2']],
  ])('a retry inside the window is answered only to the same client; with %s', async (_name, configure, retryStatus, ips) => {
    const { app, auth, reuse } = await redisApp();
    configure?.(app);
    const seen: Array<string | undefined> = [];
    auth.events.on('refresh', (event) => seen.push(event.ip));
    auth.events.on('reuse_detected', (event) => seen.push(event.ip));
    const from = (address: string) => ({ 'X-Forwarded-For': address, 'CF-Connecting-IP': address });
    const session = await login(app);
    expect((await refresh(app, session.refreshToken).set(from('203.0.113.1'))).status).toBe(200);
    // The same token again, "from" another address: a retry of the same client, or a replay from another one.
    expect((await refresh(app, session.refreshToken).set(from('203.0.113.2'))).status).toBe(retryStatus);
    expect(seen.map((ip) => ip?.replace(/^::ffff:/, ''))).toEqual(ips);
    expect(reuse).toHaveLength(retryStatus === 401 ? 1 : 0);
  });

  // Behind a proxy (trust proxy 'loopback'), the address the proxy reports, spelled as a client's stack may spell it.
  const viaProxy = (address: string) => ({ 'X-Forwarded-For': address });
  test.each([
    ["the phone's next IPv6 privacy address (same /64)", '2001:db8:41:7:a1b2:c3d4:e5f6:1', '2001:db8:41:7:9e8d:7c6b:5a49:3827'],
    ['the same IPv6 address spelled in full and upper-case', '2001:db8:41:7::1', '2001:0DB8:0041:0007:0000:0000:0000:0001'],
    ['an IPv4 address, then its IPv4-mapped IPv6 form', '198.51.100.7', '::ffff:198.51.100.7'],
    ['an IPv4-mapped address, then the plain IPv4 one', '::ffff:198.51.100.7', '198.51.100.7'],
    ['an upper-case ::FFFF: mapping', '198.51.100.7', '::FFFF:198.51.100.7'],
  ])('the same client, whatever the spelling: %s is a retry (200, same successor, no reuse)', async (_name, rotatedFrom, retriedFrom) => {
    const { app, auth, reuse } = await redisApp();
    trustLoopback(app);
    const retried: boolean[] = [];
    auth.events.on('refresh', (event) => retried.push(event.retried));
    const session = await login(app);
    const first = await refresh(app, session.refreshToken).set(viaProxy(rotatedFrom));
    expect(first.status).toBe(200);
    const again = await refresh(app, session.refreshToken).set(viaProxy(retriedFrom));
    expect(again.status).toBe(200);
    expect(refreshCookieOf(again)).toBe(refreshCookieOf(first));
    expect(retried).toEqual([false, true]);
    expect(reuse).toHaveLength(0);
    expect((await me(app, again.body.accessToken as string)).status).toBe(200);
  });

  test.each([
    ['another IPv6 /64', '2001:db8:41:7::1', '2001:db8:41:8::1'],
    ['another IPv4 address', '198.51.100.7', '198.51.100.8'],
    ['an IPv4 address, then another one IPv4-mapped', '198.51.100.7', '::ffff:198.51.100.8'],
  ])('another client: %s inside the window is reuse (401, family revoked)', async (_name, rotatedFrom, replayedFrom) => {
    const { app, reuse } = await redisApp();
    trustLoopback(app);
    const session = await login(app);
    const first = await refresh(app, session.refreshToken).set(viaProxy(rotatedFrom));
    expect(first.status).toBe(200);
    const replay = await refresh(app, session.refreshToken).set(viaProxy(replayedFrom));
    expect(replay.status).toBe(401);
    expect(reuse.map((event) => event.sessionId)).toEqual([sidOf(session.accessToken)]);
    await expectRefreshRejected(app, refreshCookieOf(first) as string);
    await expectAccessRejected(app, first.body.accessToken as string);
  });

  test('the previous token outside the window is reuse: 401, reuse_detected, and the whole family is revoked', async () => {
    const { app, reuse } = await redisApp({ reuseGrace: 1 });
    const session = await login(app, 'alice', 'login-agent');
    const rotated = await rotate(app, session.refreshToken);
    await sleep(1200);

    const replay = await refresh(app, session.refreshToken).set('User-Agent', 'replaying-agent');
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ error: 'invalid_refresh_token' });
    expect(refreshCookieOf(replay)).toBe('');
    expect(reuse).toEqual([
      {
        userId: 'user-alice',
        sessionId: sessionIdOfRefreshToken(session.refreshToken),
        ip: expect.stringContaining('127.0.0.1'),
        userAgent: 'replaying-agent',
      },
    ]);

    await expectRefreshRejected(app, rotated.refreshToken);
    await expectAccessRejected(app, session.accessToken);
    await expectAccessRejected(app, rotated.accessToken);
  });

  test('logging out with the previous token: inside the window a plain logout, outside it reuse', async () => {
    const { app, auth, reuse } = await redisApp({ reuseGrace: 1 });
    const logouts: SessionEvent[] = [];
    auth.events.on('logout', (event) => logouts.push(event));
    const logout = (token: string) => request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${token}`);

    const quick = await login(app);
    const quickRotated = await rotate(app, quick.refreshToken);
    expect((await logout(quick.refreshToken)).status).toBe(204);
    expect(logouts.map((event) => event.sessionId)).toEqual([sidOf(quick.accessToken)]);
    expect(reuse).toHaveLength(0);
    await expectRefreshRejected(app, quickRotated.refreshToken);

    const late = await login(app);
    const lateRotated = await rotate(app, late.refreshToken);
    await sleep(1200);
    expect((await logout(late.refreshToken)).status).toBe(204);
    expect(reuse.map((event) => event.sessionId)).toEqual([sidOf(late.accessToken)]);
    expect(logouts).toHaveLength(1);
    await expectRefreshRejected(app, lateRotated.refreshToken);
  });

  test('a grandparent token replayed inside the window answers 401 and revokes the family', async () => {
    const { app, reuse } = await redisApp();
    const session = await login(app);
    const second = await rotate(app, session.refreshToken);
    const third = await rotate(app, second.refreshToken);
    await expectRefreshRejected(app, session.refreshToken);
    expect(reuse).toHaveLength(1);
    expect(reuse[0]?.sessionId).toBe(sidOf(session.accessToken));
    await expectRefreshRejected(app, third.refreshToken);
    await expectRefreshRejected(app, second.refreshToken);
    await expectAccessRejected(app, third.accessToken);
  });

  test('reuseGrace 0 disables the window: the previous token right after rotation revokes the family', async () => {
    const { app, reuse } = await redisApp({ reuseGrace: 0 });
    const session = await login(app);
    const rotated = await rotate(app, session.refreshToken);
    await expectRefreshRejected(app, session.refreshToken);
    expect(reuse).toHaveLength(1);
    await expectRefreshRejected(app, rotated.refreshToken);
    await expectAccessRejected(app, rotated.accessToken);
  });
});

describe('reuse detection', () => {
  test('a token several rotations old (the first after 5 rotations) answers 401 and revokes the family', async () => {
    const { app, reuse } = await redisApp();
    const session = await login(app);
    let current = { refreshToken: session.refreshToken, accessToken: session.accessToken };
    for (let i = 0; i < 5; i++) current = await rotate(app, current.refreshToken);
    await expectRefreshRejected(app, session.refreshToken);
    expect(reuse).toEqual([expect.objectContaining({ userId: 'user-alice', sessionId: sidOf(session.accessToken) })]);
    await expectRefreshRejected(app, current.refreshToken);
    await expectAccessRejected(app, current.accessToken);
  });

  test('a forged secret for a real session id answers 401 and revokes nothing', async () => {
    const { app, auth, reuse } = await redisApp();
    const revoked: unknown[] = [];
    auth.events.on('session_revoked', (event) => revoked.push(event));
    // a fresh family (no previous token yet) ...
    const fresh = await login(app, 'bob');
    const forgedFresh = await refresh(app, forgedRefreshToken(sessionIdOfRefreshToken(fresh.refreshToken)));
    expect(forgedFresh.status).toBe(401);
    expect(forgedFresh.body).toEqual({ error: 'invalid_refresh_token' });
    // ... and a family that has rotated (so has a previous token and a chain to walk)
    const session = await login(app, 'alice');
    let current = { refreshToken: session.refreshToken, accessToken: session.accessToken };
    for (let i = 0; i < 3; i++) current = await rotate(app, current.refreshToken);
    for (let i = 0; i < 3; i++) {
      const forged = await refresh(app, forgedRefreshToken(sessionIdOfRefreshToken(session.refreshToken)));
      expect(forged.status).toBe(401);
      expect(forged.body).toEqual({ error: 'invalid_refresh_token' });
    }

    expect(reuse).toHaveLength(0);
    expect(revoked).toHaveLength(0);
    expect((await me(app, current.accessToken)).status).toBe(200);
    expect((await me(app, fresh.accessToken)).status).toBe(200);
    const next = await rotate(app, current.refreshToken);
    expect(next.res.status).toBe(200);
    expect((await rotate(app, fresh.refreshToken)).res.status).toBe(200);
  });
});

describe('expiry', () => {
  test('idle expiry: a family unused for longer than idleTtl is dead (idleTtl 2 s)', async () => {
    const { app, reuse } = await redisApp({ idleTtl: 2, absoluteTtl: 10, reuseGrace: 1 }, shortAccessToken);
    const session = await login(app);
    const alive = await rotate(app, session.refreshToken);
    await sleep(2500);
    await expectRefreshRejected(app, alive.refreshToken);
    expect(reuse).toHaveLength(0);
  });

  test('using a family within idleTtl keeps it alive past the first idle deadline', async () => {
    const { app } = await redisApp({ idleTtl: 2, absoluteTtl: 10, reuseGrace: 1 }, shortAccessToken);
    let current = (await login(app)).refreshToken;
    for (let i = 0; i < 3; i++) {
      await sleep(1000);
      current = (await rotate(app, current)).refreshToken;
    }
    // 3 s after login: past the login's idle deadline (2 s), alive because it was used.
    expect((await rotate(app, current)).res.status).toBe(200);
  });

  test('absolute expiry: refreshing every ~1 s (idleTtl 2, absoluteTtl 3) fails in the 4th second; Max-Age never exceeds what is left', async () => {
    const { app, client, prefix } = await redisApp({ idleTtl: 2, absoluteTtl: 3, reuseGrace: 1 }, shortAccessToken);
    const loginStarted = Date.now();
    const session = await login(app);
    const loginEnded = Date.now();
    const sessionKey = redisKeys(prefix).session(sessionIdOfRefreshToken(session.refreshToken));
    const loginMaxAge = maxAgeOf(session.res);
    expect(loginMaxAge).toBeLessThanOrEqual(2);
    expect(loginMaxAge).toBeGreaterThanOrEqual(1);

    let current = session.refreshToken;
    for (const at of [1100, 2100]) {
      await sleep(Math.max(0, loginStarted + at - Date.now()));
      const requestStarted = Date.now();
      const next = await rotate(app, current);
      current = next.refreshToken;
      // what is left of the absolute lifetime, at most, when the server computed Max-Age
      const leftMs = loginEnded + 3000 - requestStarted;
      expect(maxAgeOf(next.res)).toBeLessThanOrEqual(Math.max(1, Math.floor(leftMs / 1000)));
      const pttl = await client.pttl(sessionKey);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(loginEnded + 3000 - requestStarted);
    }

    await sleep(Math.max(0, loginStarted + 3200 - Date.now()));
    await expectRefreshRejected(app, current);
  });
});
