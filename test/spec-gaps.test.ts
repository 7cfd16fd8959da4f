// SPEC statements no other suite proved through the public API (createAuth + auth.router):
// login throttling as mounted by createAuth, a not-found error from `authenticate`, listener isolation
// on every event of the HTTP flows, and the CSRF guard refusing only what SPEC §3 lists.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type Redis from 'ioredis';
import request from 'supertest';
import { type Authenticate, RedisStore } from '../lib';
import {
  authOptions,
  COOKIE,
  closeAll,
  keysUnder,
  login,
  me,
  memoryStore,
  redisClient,
  redisStore,
  refresh,
  refreshCookieOf,
  testApp,
} from './support/harness';
import { sidOf } from './support/tokens';

afterAll(closeAll);

const WRONG = 'not-the-password';

function postLogin(app: Express, username: string, password: string): request.Test {
  return request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username, password });
}

/** Waits (up to 2 s) until the one login counter under `keyPrefix` holds `value` (`null`: until there is none). */
async function counterBack(client: Redis, keyPrefix: string, value: string | null): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const keys = await keysUnder(client, keyPrefix);
    if (value === null ? keys.length === 0 : keys.length === 1 && (await client.get(keys[0] as string)) === value) return;
    if (Date.now() > deadline) throw new Error(`the login counter under ${keyPrefix} never went back to ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// SPEC §5: "Login throttling with express-rate-limit (rate-limit-redis on Redis), failed logins only,
// on by default, `rateLimit: false` to turn it off". test/rate-limit.test.ts proves the limiters on a
// stub app (createRateLimiters), never through the router createAuth builds.
describe('login throttling as createAuth mounts it', () => {
  test('on by default: failed logins only are counted, in Redis (two instances share the count); the 11th attempt is 429', async () => {
    const { store, client, prefix } = await redisStore();
    const a = testApp(store).app; // default options: no rateLimit key at all
    const b = testApp(new RedisStore({ client: await redisClient(), prefix })).app;

    for (let i = 0; i < 9; i++) expect((await postLogin(i % 2 === 0 ? a : b, 'alice', WRONG)).status).toBe(401);
    await counterBack(client, `${prefix}rl:login:`, '9');
    // A successful login starts the count again (once answered: wait for it, so this checks the reset, not the race).
    expect((await postLogin(a, 'alice', 'alice-password')).status).toBe(200);
    await counterBack(client, `${prefix}rl:login:`, null);
    for (let i = 0; i < 10; i++) expect((await postLogin(i % 2 === 0 ? b : a, 'alice', WRONG)).status).toBe(401); // the 10th: still answered

    for (const [app, password] of [
      [a, WRONG],
      [b, 'alice-password'], // locked out at this address even with the right password
    ] as const) {
      const res = await postLogin(app, 'alice', password);
      expect(res.status).toBe(429);
      expect(res.body).toEqual({ error: 'too_many_requests' });
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(900);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    // Per account: another user behind the same address is not locked out.
    expect((await postLogin(a, 'bob', 'bob-password')).status).toBe(200);
  });

  test('two overlapping correct logins near the limit never lock the account: a refused attempt is given back too', async () => {
    const { store, client, prefix } = await redisStore();
    // A credential check slow enough that the second login is counted while the first is still in it:
    // the two surely overlap (without it they may run one after the other, and pass on old code too).
    const check = authOptions(store).authenticate;
    const slow: typeof check = async (req) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return check(req);
    };
    const a = testApp(store, { authenticate: slow }).app;
    const b = testApp(new RedisStore({ client: await redisClient(), prefix }), { authenticate: slow }).app;
    for (let i = 0; i < 9; i++) expect((await postLogin(a, 'alice', WRONG)).status).toBe(401);
    // Two tabs (or two instances) sign in at once with the right password: the count reaches 11, so
    // one of them is refused; neither checked a wrong password, so neither stays counted.
    const statuses = (await Promise.all([postLogin(a, 'alice', 'alice-password'), postLogin(b, 'alice', 'alice-password')])).map((res) => res.status);
    expect(statuses.sort()).toEqual([200, 429]);
    await counterBack(client, `${prefix}rl:login:`, null); // the refused one given back, then the success's reset
    expect((await postLogin(b, 'alice', 'alice-password')).status).toBe(200);
    expect((await postLogin(a, 'alice', 'alice-password')).status).toBe(200);
  });

  test('`rateLimit: false` turns it off: 25 failed logins are all 401, and the right password then works', async () => {
    const { app } = testApp(memoryStore(), { rateLimit: false });
    for (let i = 0; i < 25; i++) expect((await postLogin(app, 'alice', WRONG)).status).toBe(401);
    expect((await postLogin(app, 'alice', 'alice-password')).status).toBe(200);
  });
});

// SPEC §4: "`authenticate` returning `null` and `authenticate` throwing a not-found error give the same
// 401". routes.test.ts proves only an error with `status: 404`; README names `NotFoundError` too.
describe('authenticate throwing a not-found error', () => {
  test('an error named NotFoundError, or with status 401, 403 or 404, gets exactly the answer of `null`', async () => {
    const fallback = authOptions(memoryStore()).authenticate;
    const authenticate: Authenticate = (req) => {
      const { username } = req.body as { username?: string };
      if (username === 'named') throw Object.assign(new Error('no user named'), { name: 'NotFoundError' });
      for (const status of [401, 403, 404]) if (username === `status-${status}`) throw Object.assign(new Error(`user ${username} not found`), { status });
      if (username === 'null') return null;
      return fallback(req);
    };
    const { app } = testApp(memoryStore(), { authenticate, rateLimit: false });
    const answer = async (username: string) => {
      const res = await postLogin(app, username, 'x');
      return {
        status: res.status,
        text: res.text,
        contentType: res.headers['content-type'],
        cacheControl: res.headers['cache-control'],
        setCookie: res.headers['set-cookie'],
        challenge: res.headers['www-authenticate'],
      };
    };
    const ofNull = await answer('null');
    expect(ofNull).toEqual({
      status: 401,
      text: '{"error":"invalid_credentials"}',
      contentType: expect.stringMatching(/^application\/json/),
      cacheControl: 'no-store',
      setCookie: undefined,
      challenge: undefined,
    });
    for (const username of ['named', 'status-401', 'status-403', 'status-404']) {
      expect({ username, ...(await answer(username)) }).toEqual({ username, ...ofNull });
    }
  });
});

// SPEC §5: "Event listeners are isolated: one that throws never changes a response or crashes the app".
// hardening.test.ts proves it for reuse_detected, store_error and login only.
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

// SPEC §3: "require the header `X-Requested-With` (any non-empty value; name configurable), reject a
// present `Origin` that is not the app's own origin or in `allowedOrigins`, and reject `Sec-Fetch-Site:
// cross-site`". The suites send only the value 'fetch' under the default name, try allowedOrigins on
// /login and /refresh only, and Sec-Fetch-Site only as cross-site and same-origin.
describe('the CSRF guard refuses only what SPEC lists', () => {
  let server: Server;
  beforeAll(async () => {
    const { app } = testApp(memoryStore(), { rateLimit: false, csrf: { allowedOrigins: ['https://app.example'] } });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('any non-empty X-Requested-With, Sec-Fetch-Site same-site or none, and an allowed Origin on /logout all pass', async () => {
    const ownOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const [marker, headers] of [
      ['XMLHttpRequest', {}],
      ['1', { 'Sec-Fetch-Site': 'same-site' }],
      ['anything at all', { 'Sec-Fetch-Site': 'none', Origin: ownOrigin }],
      ['x', { Origin: 'https://app.example', 'Sec-Fetch-Site': 'same-site' }],
    ] as Array<[string, Record<string, string>]>) {
      const post = (path: string) => request(server).post(`/auth${path}`).set('X-Requested-With', marker).set(headers);
      const label = `${marker} ${JSON.stringify(headers)}`;
      const res = await post('/login').send({ username: 'alice', password: 'alice-password' });
      expect({ label, status: res.status }).toEqual({ label, status: 200 });
      const rotated = await post('/refresh').set('Cookie', `${COOKIE}=${refreshCookieOf(res) as string}`);
      expect({ label, status: rotated.status }).toEqual({ label, status: 200 });
      const token = refreshCookieOf(rotated) as string;
      const out = await post('/logout').set('Cookie', `${COOKIE}=${token}`);
      expect({ label, status: out.status }).toEqual({ label, status: 204 });
      // the logout really ended the family (a 204 alone would also be the answer without a cookie)
      const after = await request(server).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${token}`);
      expect({ label, status: after.status }).toEqual({ label, status: 401 });
    }
  });
});

describe('keys are turned into KeyObjects once, at start-up (SPEC §4)', () => {
  const nodeCrypto = require('node:crypto') as typeof import('node:crypto');
  const keyPrototypes = (): Array<{ export: (...args: never[]) => unknown }> => {
    const pair = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return [nodeCrypto.createSecretKey(Buffer.alloc(32)), pair.publicKey, pair.privateKey].map((key) => Object.getPrototypeOf(key));
  };

  test.each([
    ['HS256 with a string secret', {}],
    [
      'ES256 with PEM keys',
      (() => {
        const pair = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return {
          accessToken: {
            algorithm: 'ES256' as const,
            privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
            publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string,
            ttl: '10m',
          },
        };
      })(),
    ],
  ])('%s: login, refresh and requireAuth build, import or export no key', async (_name, overrides) => {
    const { app } = testApp(memoryStore(), overrides);
    const prototypes = keyPrototypes(); // made before the spies watch
    const spies = [
      jest.spyOn(nodeCrypto, 'createSecretKey'),
      jest.spyOn(nodeCrypto, 'createPrivateKey'),
      jest.spyOn(nodeCrypto, 'createPublicKey'),
      // `export` lives on each kind of KeyObject's own prototype (secret, public, private).
      ...prototypes.map((prototype) => jest.spyOn(prototype, 'export')),
    ];
    try {
      const first = await login(app);
      const rotated = await refresh(app, first.refreshToken);
      expect(rotated.status).toBe(200);
      expect((await me(app, first.accessToken)).status).toBe(200);
      expect((await me(app, rotated.body.accessToken as string)).status).toBe(200);
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  test('the spies see key work when there is some: createAuth itself builds and exports its keys', () => {
    const [secretPrototype] = keyPrototypes();
    const spies = [jest.spyOn(nodeCrypto, 'createSecretKey'), jest.spyOn(secretPrototype as { export: () => unknown }, 'export')];
    try {
      testApp(memoryStore());
      for (const spy of spies) expect(spy).toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
