// Hardening: forgeries refused in O(1) without a store round trip, grace-window retries only for the client that rotated, listeners isolated from requests.
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { type Auth, MemoryStore, RedisStore } from '../lib';
import { COOKIE, closeClients, login, me, REFRESH_SECRET, redisStore, refresh, refreshCookieOf, testApp } from './support/harness';
import { freePort } from './support/redis-process';
import { forgedRefreshToken, sessionIdOfRefreshToken } from './support/tokens';

afterAll(closeClients);

describe('a forged refresh token costs O(1) and revokes nothing', () => {
  // O(1) shown by structure, not by a stopwatch (timed assertions flake on a shared machine; the
  // bench measures speed): a forgery is refused on its MAC before the store is asked anything, so
  // its cost cannot depend on the family's history or on whether the session exists.
  test('after 1,000 rotations, 100 forged presentations never reach the store, like 100 of an unknown session, and revoke nothing', async () => {
    const { store } = await redisStore();
    const { app, auth } = testApp(store, { rateLimit: false }); // 1,000 refreshes from one address
    const reuse: unknown[] = [];
    auth.events.on('reuse_detected', (event) => reuse.push(event));
    const first = await login(app);
    let current = first.refreshToken;
    for (let i = 0; i < 1000; i++) current = refreshCookieOf(await refresh(app, current)) as string;
    const sessionId = sessionIdOfRefreshToken(current);

    const present = (token: string) => async (): Promise<void> => {
      const res = await refresh(app, token);
      if (res.status !== 401) throw new Error(`expected 401, got ${res.status}`);
    };
    const hundred = (makeToken: () => string) => async (): Promise<void> => {
      for (let i = 0; i < 100; i++) await present(makeToken())();
    };
    // The real store, watched: every presentation that reaches it is counted (and still runs).
    const presented = jest.spyOn(store, 'presentToken');
    await hundred(() => forgedRefreshToken(sessionId, 999))();
    await hundred(() => forgedRefreshToken(randomBytes(16).toString('base64url'), 999))();
    expect(presented).not.toHaveBeenCalled();
    // The watch works: an authentic token does reach the store.
    const control = await refresh(app, current);
    expect(control.status).toBe(200);
    expect(presented).toHaveBeenCalledTimes(1);
    presented.mockRestore();
    current = refreshCookieOf(control) as string;

    // Nothing was revoked: the session's current token still rotates, its access token still works.
    expect(reuse).toEqual([]);
    const still = await refresh(app, current);
    expect(still.status).toBe(200);
    expect((await me(app, still.body.accessToken as string)).status).toBe(200);

    // An authentic token from 1,000 rotations ago is proven earlier in one step: the family is revoked.
    expect((await refresh(app, first.refreshToken)).status).toBe(401);
    expect(reuse).toHaveLength(1);
    expect((await refresh(app, refreshCookieOf(still) as string)).status).toBe(401);
  }, 60_000);
});

/** POSTs /auth/refresh to a listening server from a chosen local address (a second "machine" is 127.0.0.2). */
function refreshFrom(
  port: number,
  localAddress: string,
  refreshToken: string,
  userAgent = 'same-browser',
): Promise<{ status: number; cookie: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        method: 'POST',
        path: '/auth/refresh',
        headers: { 'X-Requested-With': 'fetch', 'User-Agent': userAgent, Cookie: `${COOKIE}=${refreshToken}` },
      },
      (res) => {
        res.resume();
        const line = (res.headers['set-cookie'] ?? []).find((cookie) => cookie.startsWith(`${COOKIE}=`));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cookie: line?.slice(COOKIE.length + 1).split(';')[0] }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('grace-window retries only for the client that rotated', () => {
  let app: Express;
  let auth: Auth;
  let port: number;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const store = new MemoryStore();
    ({ app, auth } = testApp(store, { refreshToken: { secret: REFRESH_SECRET, reuseGrace: '10s' } }));
    await new Promise<void>((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        close = () => new Promise((done) => server.close(() => done()));
        resolve();
      });
    });
  });
  afterAll(() => close());

  test('the same client retrying gets the same successor', async () => {
    const session = await login(app, 'alice', 'same-browser');
    const rotated = await refreshFrom(port, '127.0.0.1', session.refreshToken);
    const retried = await refreshFrom(port, '127.0.0.1', session.refreshToken);
    expect([rotated.status, retried.status]).toEqual([200, 200]);
    expect(retried.cookie).toBe(rotated.cookie);
  });

  test('a replay inside the window from another address with the same User-Agent gets 401, never the successor, and revokes the family', async () => {
    const reuse: unknown[] = [];
    const listener = (event: unknown) => reuse.push(event);
    auth.events.on('reuse_detected', listener);
    const session = await login(app, 'alice', 'same-browser');
    const rotated = await refreshFrom(port, '127.0.0.1', session.refreshToken);
    expect(rotated.status).toBe(200);

    const thief = await refreshFrom(port, '127.0.0.2', session.refreshToken);
    expect(thief.status).toBe(401);
    expect(thief.cookie).not.toBe(rotated.cookie);
    expect(reuse).toHaveLength(1);
    // The family is gone: the victim's successor no longer works either.
    expect((await refreshFrom(port, '127.0.0.1', rotated.cookie as string)).status).toBe(401);
    auth.events.off('reuse_detected', listener);
  });

  test('a replay from the same address with another User-Agent is reuse too', async () => {
    const session = await login(app, 'alice', 'same-browser');
    const rotated = await refreshFrom(port, '127.0.0.1', session.refreshToken);
    const other = await refreshFrom(port, '127.0.0.1', session.refreshToken, 'another-browser');
    expect([rotated.status, other.status]).toEqual([200, 401]);
  });
});

describe('event listeners are isolated from requests', () => {
  let warnings: Array<{ code?: string | undefined; message: string }>;
  let spy: jest.SpyInstance;
  beforeEach(() => {
    warnings = [];
    spy = jest.spyOn(process, 'emitWarning').mockImplementation(((message: string, options?: { code?: string }) => {
      warnings.push({ code: options?.code, message });
    }) as typeof process.emitWarning);
  });
  afterEach(() => spy.mockRestore());
  const waitForWarnings = () => new Promise((resolve) => setTimeout(resolve, 50));

  test('a reuse_detected listener that throws: still 401 with the cookie cleared, never 500; a warning is emitted', async () => {
    const { app, auth } = testApp(new MemoryStore(), { refreshToken: { secret: REFRESH_SECRET, reuseGrace: 0 } });
    auth.events.on('reuse_detected', () => {
      throw new Error('alerting is down');
    });
    const session = await login(app);
    expect((await refresh(app, session.refreshToken)).status).toBe(200);
    const replay = await refresh(app, session.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ error: 'invalid_refresh_token' });
    expect(refreshCookieOf(replay)).toBe('');
    await waitForWarnings();
    expect(warnings).toEqual([expect.objectContaining({ code: 'ERT_LISTENER_ERROR', message: expect.stringContaining('alerting is down') })]);
  });

  test('a store_error listener that throws (sync or async) does not crash the process on an outage: 503 as usual', async () => {
    const dead = new Redis({ port: await freePort(), lazyConnect: true, maxRetriesPerRequest: null, disconnectTimeout: 100 });
    dead.on('error', () => undefined);
    try {
      const { app, auth } = testApp(new RedisStore({ client: dead, prefix: 'ert-test:dead:', commandTimeoutMs: 200 }));
      auth.events.on('store_error', () => {
        throw new Error('logger exploded');
      });
      auth.events.on('store_error', async () => {
        throw new Error('async logger exploded');
      });
      const res = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'alice-password' });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: 'temporarily_unavailable' });
      await waitForWarnings();
      expect(warnings.map((warning) => warning.message)).toEqual([
        expect.stringContaining('logger exploded'),
        expect.stringContaining('async logger exploded'),
      ]);
      await auth.close();
    } finally {
      dead.disconnect();
    }
  });

  test('a login listener that throws does not turn the 200 into a 500', async () => {
    const { app, auth } = testApp(new MemoryStore());
    auth.events.once('login', () => {
      throw new Error('audit log down');
    });
    const session = await login(app);
    expect((await me(app, session.accessToken)).status).toBe(200);
    expect(auth.events.listenerCount('login')).toBe(0); // `once` listeners still go after one call
  });
});

describe('sessions per user are capped, and GET /sessions pages', () => {
  test('a login beyond maxSessionsPerUser ends the oldest session; pages of two walk the rest with nextCursor', async () => {
    const { store } = await redisStore();
    const { app } = testApp(store, { maxSessionsPerUser: 3 });
    const logins = [];
    for (let i = 0; i < 4; i++) logins.push(await login(app, 'alice', `device-${i}`));
    const [first, , , last] = logins as [Awaited<ReturnType<typeof login>>, unknown, unknown, Awaited<ReturnType<typeof login>>];
    expect((await refresh(app, first.refreshToken)).status).toBe(401); // evicted
    expect((await me(app, first.accessToken)).status).toBe(401);

    const list = (query: string) => request(app).get(`/auth/sessions${query}`).set('Authorization', `Bearer ${last.accessToken}`);
    const page1 = await list('?limit=2');
    expect(page1.status).toBe(200);
    expect(page1.body.sessions.map((s: { userAgent: string }) => s.userAgent)).toEqual(['device-1', 'device-2']);
    expect(page1.body.nextCursor).toBe('2');
    const page2 = await list(`?limit=2&cursor=${page1.body.nextCursor as string}`);
    expect(page2.body.sessions.map((s: { userAgent: string; current: boolean }) => [s.userAgent, s.current])).toEqual([['device-3', true]]);
    expect(page2.body.nextCursor).toBeNull();
    for (const bad of ['?limit=0', '?limit=101', '?limit=x', '?cursor=-1', '?cursor=abc', '?limit=2&limit=3']) {
      const res = await list(bad);
      expect({ bad, status: res.status, body: res.body }).toEqual({
        bad,
        status: 400,
        body: { error: 'invalid_request', message: 'limit must be 1 to 100 and cursor one this route returned' },
      });
    }
  });
});

describe('a refresh token is exactly the string issued', () => {
  test('another spelling of its MAC (the spare bits of the last base64url character) is refused and revokes nothing', async () => {
    const { app } = testApp(new MemoryStore());
    const { refreshToken } = await login(app);
    const [sessionId, generation, secret, mac] = refreshToken.split('.') as [string, string, string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(mac.slice(-1));
    const respelt = `${mac.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(respelt, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true); // the same bytes
    expect((await refresh(app, `${sessionId}.${generation}.${secret}.${respelt}`)).status).toBe(401);
    expect((await refresh(app, refreshToken)).status).toBe(200);
  });
});
