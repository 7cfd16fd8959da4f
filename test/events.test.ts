// auth.events (lib/events.ts): a listener that throws or rejects is reported as a process warning (ERT_LISTENER_ERROR),
// and never changes an answer, a cookie, or crashes the app.
import Redis from 'ioredis';
import request from 'supertest';
import { MemoryStore, RedisStore } from '../lib';
import { COOKIE, closeAll, login, me, memoryStore, REFRESH_SECRET, refresh, refreshCookieOf, testApp } from './support/harness';
import { freePort } from './support/redis-process';
import { sidOf } from './support/tokens';

afterAll(closeAll);

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

// SPEC §5: "Event listeners are isolated: one that throws never changes a response or crashes the app".
describe('listeners that throw, on every event of the HTTP flows', () => {
  let warnings: string[];
  let spy: jest.SpyInstance;
  beforeEach(() => {
    warnings = [];
    spy = jest.spyOn(process, 'emitWarning').mockImplementation(((message: string, options?: { code?: string }) => {
      if (options?.code === 'ERT_LISTENER_ERROR') warnings.push(message);
    }) as typeof process.emitWarning);
  });
  afterEach(() => spy.mockRestore());

  test('refresh, logout, session_revoked and user_revoked listeners (throwing, or rejecting) change no answer and no cookie', async () => {
    const { app, auth } = testApp(memoryStore(), { rateLimit: false });
    const events = ['refresh', 'logout', 'session_revoked', 'user_revoked'] as const;
    for (const event of events) {
      auth.events.on(event, () => {
        throw new Error(`${event} listener broke`);
      });
      auth.events.on(event, async () => {
        throw new Error(`${event} async listener broke`);
      });
    }

    // refresh (a rotation, then a retry inside the grace window: both emit `refresh`)
    const first = await login(app);
    const rotated = await refresh(app, first.refreshToken);
    expect(rotated.status).toBe(200);
    const successor = refreshCookieOf(rotated) as string;
    expect(successor).toBeTruthy();
    const retried = await refresh(app, first.refreshToken);
    expect(retried.status).toBe(200);
    expect(refreshCookieOf(retried)).toBe(successor);
    expect(retried.headers['cache-control']).toBe('no-store'); // SPEC: every token response, the retry's too

    // logout: 204, cookie cleared, and the family really ended
    const out = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${successor}`);
    expect(out.status).toBe(204);
    expect(refreshCookieOf(out)).toBe('');
    expect((await refresh(app, successor)).status).toBe(401);

    // session_revoked: DELETE /sessions/:id
    const keep = await login(app);
    const doomed = await login(app);
    const del = await request(app)
      .delete(`/auth/sessions/${sidOf(doomed.accessToken)}`)
      .set('Authorization', `Bearer ${keep.accessToken}`);
    expect(del.status).toBe(204);
    expect((await me(app, doomed.accessToken)).status).toBe(401);

    // user_revoked: POST /logout-all
    const all = await request(app).post('/auth/logout-all').set('Authorization', `Bearer ${keep.accessToken}`);
    expect(all.status).toBe(204);
    expect((await me(app, keep.accessToken)).status).toBe(401);

    await new Promise((resolve) => setTimeout(resolve, 50)); // the rejections are reported asynchronously
    for (const event of events) {
      expect({ event, sync: warnings.some((w) => w.includes(`${event} listener broke`)) }).toEqual({ event, sync: true });
      expect({ event, async: warnings.some((w) => w.includes(`${event} async listener broke`)) }).toEqual({ event, async: true });
    }
  });
});
