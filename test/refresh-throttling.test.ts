// Refresh throttling through the router: per address only failed refreshes count, and a request with an authentic refresh cookie is
// counted against its own session, so forged cookies from a shared address never refuse another user's valid refresh.
import type { Express } from 'express';
import request from 'supertest';
import type { RateLimitOptions } from '../lib';
import { COOKIE, closeAll, redisStore, refreshCookieOf, testApp } from './support/harness';
import { forgedRefreshToken, sessionIdOfRefreshToken } from './support/tokens';

afterAll(closeAll);

/** One shared address: an office NAT, a campus, a mobile carrier's gateway. */
const NAT = '203.0.113.50';

async function throttledApp(rateLimit: RateLimitOptions = { refresh: { max: 5, window: '1m' } }): Promise<Express> {
  const { store } = await redisStore();
  const { app } = testApp(store, { rateLimit });
  app.set('trust proxy', 'loopback');
  return app;
}

function refreshFrom(app: Express, ip: string, cookie?: string): request.Test {
  const req = request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('X-Forwarded-For', ip);
  return cookie === undefined ? req : req.set('Cookie', `${COOKIE}=${cookie}`);
}

/** Signs `username` in from `ip`; resolves with the refresh cookie's value. */
async function signIn(app: Express, ip: string, username: 'alice' | 'bob'): Promise<string> {
  const res = await request(app)
    .post('/auth/login')
    .set('X-Requested-With', 'fetch')
    .set('X-Forwarded-For', ip)
    .send({ username, password: `${username}-password` })
    .expect(200);
  return refreshCookieOf(res) as string;
}

function expectTooManyRequests(res: request.Response): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ error: 'too_many_requests' });
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
}

/** A forged cookie naming a real-looking session: the wrong MAC. */
const forged = (): string => forgedRefreshToken('A'.repeat(22));

describe('forged refresh cookies from a shared address', () => {
  test('spend only that address budget for cookies that are not authentic: a valid refresh from the same address still succeeds', async () => {
    const app = await throttledApp();
    let alice = await signIn(app, NAT, 'alice');
    for (let i = 0; i < 5; i++) expect((await refreshFrom(app, NAT, forged())).status).toBe(401);
    expectTooManyRequests(await refreshFrom(app, NAT, forged()));
    expectTooManyRequests(await refreshFrom(app, NAT)); // no cookie at all: the same budget
    for (let i = 0; i < 3; i++) {
      const res = await refreshFrom(app, NAT, alice);
      expect(res.status).toBe(200);
      alice = refreshCookieOf(res) as string;
    }
    // Another address is not affected by either.
    expect((await refreshFrom(app, '198.51.100.9', forged())).status).toBe(401);
  });

  test('successful refreshes from an address are not counted against it', async () => {
    const app = await throttledApp();
    const sessions = [];
    for (let i = 0; i < 3; i++) sessions.push(await signIn(app, NAT, 'alice'), await signIn(app, NAT, 'bob'));
    for (const cookie of sessions) expect((await refreshFrom(app, NAT, cookie)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await refreshFrom(app, NAT, forged())).status).toBe(401);
    expectTooManyRequests(await refreshFrom(app, NAT, forged()));
  });
});

describe('a request with an authentic refresh cookie is counted against its session', () => {
  test("a dead family's tokens replayed from many addresses are refused past the budget, while forged cookies from those addresses keep theirs", async () => {
    const app = await throttledApp();
    const first = await signIn(app, NAT, 'alice');
    const second = refreshCookieOf(await refreshFrom(app, NAT, first).expect(200)) as string; // 1
    // The first token again, from elsewhere: reuse, the family ends; then both tokens are dead.
    for (let i = 0; i < 3; i++) expect((await refreshFrom(app, `192.0.2.${i + 1}`, first)).status).toBe(401); // 2, 3, 4
    expect((await refreshFrom(app, '192.0.2.4', second)).status).toBe(401); // 5
    expectTooManyRequests(await refreshFrom(app, '192.0.2.5', second));
    expectTooManyRequests(await refreshFrom(app, '192.0.2.6', first));
    expect((await refreshFrom(app, '192.0.2.5', forged())).status).toBe(401);
    expect(sessionIdOfRefreshToken(second)).toBe(sessionIdOfRefreshToken(first));
  });

  test('one session may refresh `max` times a window, successes included (a rotation loop is bounded); other sessions are not affected', async () => {
    const app = await throttledApp();
    let alice = await signIn(app, NAT, 'alice');
    const bob = await signIn(app, NAT, 'bob');
    for (let i = 0; i < 5; i++) {
      const res = await refreshFrom(app, NAT, alice);
      expect(res.status).toBe(200);
      alice = refreshCookieOf(res) as string;
    }
    expectTooManyRequests(await refreshFrom(app, NAT, alice));
    expect((await refreshFrom(app, NAT, bob)).status).toBe(200);
  });
});
