// CSRF checks on /login, /refresh and /logout (header, Origin, Sec-Fetch-Site), and the refresh cookie's name and Path.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import request from 'supertest';
import { type AuthOptions, createAuth } from '../lib';
import { authOptions, COOKIE, closeAll, login, me, memoryStore, REFRESH_SECRET, redisStore, refresh, refreshCookieOf, testApp } from './support/harness';

afterAll(closeAll);

const CREDENTIALS = { username: 'alice', password: 'alice-password' };

/** A fresh app on its own RedisStore. reuseGrace 0 so that an unnoticed rotation would show (the old token would then revoke). */
async function redisApp(overrides: Partial<AuthOptions> = {}) {
  const { store } = await redisStore();
  return testApp(store, { refreshToken: { secret: REFRESH_SECRET, reuseGrace: 0 }, ...overrides });
}

function setCookies(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  if (Array.isArray(raw)) return raw as string[];
  return typeof raw === 'string' ? [raw] : [];
}

/** The attributes of the Set-Cookie line for `name`, lower-cased names; `value` is the cookie value. */
function cookieLine(res: request.Response, name: string): Map<string, string> {
  const line = setCookies(res).find((cookie) => cookie.startsWith(`${name}=`));
  if (line === undefined) throw new Error(`no Set-Cookie for ${name} in ${JSON.stringify(setCookies(res))}`);
  const [pair, ...rest] = line.split(';');
  const attributes = new Map<string, string>([['value', (pair as string).slice(name.length + 1)]]);
  for (const attribute of rest) {
    const eq = attribute.indexOf('=');
    attributes.set((eq === -1 ? attribute : attribute.slice(0, eq)).trim().toLowerCase(), eq === -1 ? '' : attribute.slice(eq + 1).trim());
  }
  return attributes;
}

/**
 * A clearing as Express' res.clearCookie writes it: an empty value and `Expires` in 1970, and no
 * `Max-Age` (Express 5 drops it; a `Max-Age=0` would be as good, so it is allowed).
 */
function expectClearing(cookie: Map<string, string>): void {
  expect(cookie.get('value')).toBe('');
  expect(Date.parse(cookie.get('expires') ?? '')).toBe(0); // Thu, 01 Jan 1970 00:00:00 GMT
  expect(cookie.get('max-age') ?? '0').toBe('0');
}

function expectCsrfRejected(res: request.Response): void {
  expect(res.status).toBe(403);
  expect(res.body).toEqual({ error: 'csrf_rejected', message: expect.any(String) });
  expect(res.headers['set-cookie']).toBeUndefined();
}

describe('CSRF: the X-Requested-With header is required', () => {
  test('POST /auth/login without it answers 403 csrf_rejected and sets no cookie', async () => {
    const { app } = await redisApp();
    expectCsrfRejected(await request(app).post('/auth/login').send(CREDENTIALS));
  });

  test('POST /auth/refresh without it answers 403, sets no cookie and rotates nothing', async () => {
    const { app, auth } = await redisApp();
    const refreshes: unknown[] = [];
    auth.events.on('refresh', (event) => refreshes.push(event));
    const session = await login(app);
    expectCsrfRejected(await request(app).post('/auth/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}`));
    expect(refreshes).toHaveLength(0);
    // with reuseGrace 0 this would be reuse (401) had the rejected request rotated the token
    const ok = await refresh(app, session.refreshToken);
    expect(ok.status).toBe(200);
    expect(refreshes).toHaveLength(1);
  });

  test('POST /auth/logout without it answers 403, sets no cookie and revokes nothing', async () => {
    const { app } = await redisApp();
    const session = await login(app);
    expectCsrfRejected(await request(app).post('/auth/logout').set('Cookie', `${COOKIE}=${session.refreshToken}`));
    expect((await me(app, session.accessToken)).status).toBe(200);
    expect((await refresh(app, session.refreshToken)).status).toBe(200);
  });

  test.each(['/login', '/refresh', '/logout'])('an empty header value on %s answers 403', async (path) => {
    const { app } = await redisApp();
    const session = await login(app);
    const res = await request(app).post(`/auth${path}`).set('X-Requested-With', '').set('Cookie', `${COOKIE}=${session.refreshToken}`).send(CREDENTIALS);
    expectCsrfRejected(res);
    const blank = await request(app).post(`/auth${path}`).set('X-Requested-With', '   ').set('Cookie', `${COOKIE}=${session.refreshToken}`).send(CREDENTIALS);
    expectCsrfRejected(blank);
    expect((await refresh(app, session.refreshToken)).status).toBe(200);
  });

  test('a configured csrf.headerName works, and the default header is then not enough', async () => {
    const { app } = await redisApp({ csrf: { headerName: 'X-CSRF-Guard' } });
    expectCsrfRejected(await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send(CREDENTIALS));
    const res = await request(app).post('/auth/login').set('X-CSRF-Guard', '1').send(CREDENTIALS);
    expect(res.status).toBe(200);
    const token = refreshCookieOf(res) as string;
    expectCsrfRejected(await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${token}`));
    const rotated = await request(app).post('/auth/refresh').set('x-csrf-guard', 'yes').set('Cookie', `${COOKIE}=${token}`);
    expect(rotated.status).toBe(200);
    expectCsrfRejected(await request(app).post('/auth/logout').set('X-Requested-With', 'fetch'));
    expect((await request(app).post('/auth/logout').set('X-CSRF-Guard', '1')).status).toBe(204);
  });
});

describe('CSRF: Origin', () => {
  let app: Express;
  let server: Server;
  let ownOrigin: string;
  beforeAll(async () => {
    app = (await redisApp({ csrf: { allowedOrigins: ['https://app.example'] } })).app;
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ownOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  });

  const post = (path: string, origin: string) => request(server).post(`/auth${path}`).set('X-Requested-With', 'fetch').set('Origin', origin);

  test.each(['https://evil.example', 'null', 'http://127.0.0.1', 'https://app.example.evil.test'])(
    'an Origin of another site (%s) answers 403 on /login, /refresh and /logout',
    async (origin) => {
      const session = await login(app);
      expectCsrfRejected(await post('/login', origin).send(CREDENTIALS));
      expectCsrfRejected(await post('/refresh', origin).set('Cookie', `${COOKIE}=${session.refreshToken}`));
      expectCsrfRejected(await post('/logout', origin).set('Cookie', `${COOKIE}=${session.refreshToken}`));
      expect((await refresh(app, session.refreshToken)).status).toBe(200);
    },
  );

  test("the same host on another scheme is not the app's origin", async () => {
    expectCsrfRejected(await post('/login', ownOrigin.replace('http:', 'https:')).send(CREDENTIALS));
  });

  test("the app's own origin (as supertest sends Host) is allowed", async () => {
    const res = await post('/login', ownOrigin).send(CREDENTIALS);
    expect(res.status).toBe(200);
    const token = refreshCookieOf(res) as string;
    const rotated = await post('/refresh', ownOrigin).set('Cookie', `${COOKIE}=${token}`);
    expect(rotated.status).toBe(200);
    const out = await post('/logout', ownOrigin).set('Cookie', `${COOKIE}=${refreshCookieOf(rotated) as string}`);
    expect(out.status).toBe(204);
  });

  test('an Origin listed in csrf.allowedOrigins is allowed', async () => {
    const res = await post('/login', 'https://app.example').send(CREDENTIALS);
    expect(res.status).toBe(200);
    const rotated = await post('/refresh', 'https://app.example').set('Cookie', `${COOKIE}=${refreshCookieOf(res) as string}`);
    expect(rotated.status).toBe(200);
  });
});

describe('CSRF: Sec-Fetch-Site', () => {
  test('cross-site answers 403 on /login, /refresh and /logout, even with the header and no Origin', async () => {
    const { app } = await redisApp();
    const session = await login(app);
    const post = (path: string) => request(app).post(`/auth${path}`).set('X-Requested-With', 'fetch').set('Sec-Fetch-Site', 'cross-site');
    expectCsrfRejected(await post('/login').send(CREDENTIALS));
    expectCsrfRejected(await post('/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}`));
    expectCsrfRejected(await post('/logout').set('Cookie', `${COOKIE}=${session.refreshToken}`));
    expect((await me(app, session.accessToken)).status).toBe(200);
    expect((await refresh(app, session.refreshToken)).status).toBe(200);
  });

  test('same-origin is allowed', async () => {
    const { app } = await redisApp();
    const post = (path: string) => request(app).post(`/auth${path}`).set('X-Requested-With', 'fetch').set('Sec-Fetch-Site', 'same-origin');
    const res = await post('/login').send(CREDENTIALS);
    expect(res.status).toBe(200);
    const rotated = await post('/refresh').set('Cookie', `${COOKIE}=${refreshCookieOf(res) as string}`);
    expect(rotated.status).toBe(200);
    expect((await post('/logout').set('Cookie', `${COOKIE}=${refreshCookieOf(rotated) as string}`)).status).toBe(204);
  });
});

describe('cookie: secure false (plain-http development)', () => {
  test('the cookie is named `refresh`, has no Secure attribute, and its Path is the mount path /auth', async () => {
    const { app } = await redisApp({ cookie: { secure: false } });
    const res = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send(CREDENTIALS);
    expect(res.status).toBe(200);
    expect(setCookies(res).some((line) => line.startsWith('__Host-'))).toBe(false);
    const cookie = cookieLine(res, 'refresh');
    expect(cookie.get('path')).toBe('/auth');
    expect(cookie.has('secure')).toBe(false);
    expect(cookie.has('httponly')).toBe(true);
    expect(cookie.get('samesite')).toBe('Strict');
    expect(cookie.has('domain')).toBe(false);

    // the app reads the cookie under that name, and keeps the path when rotating and clearing
    const rotated = await request(app)
      .post('/auth/refresh')
      .set('X-Requested-With', 'fetch')
      .set('Cookie', `refresh=${cookie.get('value') as string}`);
    expect(rotated.status).toBe(200);
    expect(cookieLine(rotated, 'refresh').get('path')).toBe('/auth');
    const wrongName = await request(app)
      .post('/auth/refresh')
      .set('X-Requested-With', 'fetch')
      .set('Cookie', `${COOKIE}=${refreshCookieOf(rotated, 'refresh') as string}`);
    expect(wrongName.status).toBe(401);
    const cleared = cookieLine(wrongName, 'refresh');
    expect(cleared.get('path')).toBe('/auth');
    expectClearing(cleared);
  });

  test('mounted at /api/v1/auth, the cookie Path is /api/v1/auth when set, rotated and cleared', async () => {
    const { store } = await redisStore();
    const auth = createAuth(authOptions(store, { cookie: { secure: false } }));
    const app = express();
    app.use('/api/v1/auth', auth.router);
    const post = (path: string) => request(app).post(`/api/v1/auth${path}`).set('X-Requested-With', 'fetch');

    const res = await post('/login').send(CREDENTIALS);
    expect(res.status).toBe(200);
    const cookie = cookieLine(res, 'refresh');
    expect(cookie.get('path')).toBe('/api/v1/auth');
    expect(cookie.has('secure')).toBe(false);

    const rotated = await post('/refresh').set('Cookie', `refresh=${cookie.get('value') as string}`);
    expect(rotated.status).toBe(200);
    expect(cookieLine(rotated, 'refresh').get('path')).toBe('/api/v1/auth');

    const out = await post('/logout').set('Cookie', `refresh=${refreshCookieOf(rotated, 'refresh') as string}`);
    expect(out.status).toBe(204);
    const cleared = cookieLine(out, 'refresh');
    expect(cleared.get('path')).toBe('/api/v1/auth');
    expectClearing(cleared);
  });

  test('with secure true the __Host- cookie keeps Path=/ wherever the router is mounted', async () => {
    const { store } = await redisStore();
    const auth = createAuth(authOptions(store));
    const app = express();
    app.use('/api/v1/auth', auth.router);
    const res = await request(app).post('/api/v1/auth/login').set('X-Requested-With', 'fetch').send(CREDENTIALS);
    expect(res.status).toBe(200);
    const cookie = cookieLine(res, COOKIE);
    expect(cookie.get('path')).toBe('/');
    expect(cookie.has('secure')).toBe(true);
  });
});

describe('Set-Cookie lines read as Express writes them', () => {
  /** The lines with `Expires` taken out (it follows the clock), and each line's `Expires` as epoch ms. */
  function withoutExpires(lines: string[]): { lines: string[]; expires: number[] } {
    const pattern = /; Expires=([^;]+)/;
    return { lines: lines.map((line) => line.replace(pattern, '')), expires: lines.map((line) => Date.parse(pattern.exec(line)?.[1] ?? '')) };
  }

  /** What Express' res.cookie / res.clearCookie write for the same cookies, given the values and Max-Ages the router chose. */
  async function expressLines(write: (res: express.Response) => void): Promise<string[]> {
    const reference = express();
    reference.get('/', (_req, res) => {
      write(res);
      res.end();
    });
    return setCookies(await request(reference).get('/'));
  }

  for (const secure of [true, false]) {
    test(`login, refresh and logout lines equal res.cookie's and res.clearCookie's (secure ${secure})`, async () => {
      const { store } = await redisStore();
      const { app } = testApp(store, { cookie: { secure, sameSite: 'lax' } });
      const name = secure ? COOKIE : 'refresh';
      const path = secure ? '/' : '/auth';
      const attributes = { httpOnly: true, secure, sameSite: 'lax' as const, path };
      const presence = { httpOnly: false, secure, sameSite: 'lax' as const, path: '/' };
      const maxAgeOf = (res: request.Response, cookie: string) => Number(cookieLine(res, cookie).get('max-age')) * 1000;

      const started = Date.now();
      const loggedIn = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send(CREDENTIALS);
      expect(loggedIn.status).toBe(200);
      const token = cookieLine(loggedIn, name).get('value') as string;
      const presenceValue = cookieLine(loggedIn, `${name}-present`).get('value') as string;
      const ours = withoutExpires(setCookies(loggedIn));
      const theirs = await expressLines((res) => {
        res.cookie(name, token, { ...attributes, maxAge: maxAgeOf(loggedIn, name) });
        res.cookie(`${name}-present`, presenceValue, { ...presence, maxAge: maxAgeOf(loggedIn, `${name}-present`) });
      });
      expect(ours.lines).toEqual(withoutExpires(theirs).lines);
      // Expires is Max-Age from now, to the second
      for (const [index, expires] of ours.expires.entries()) {
        const maxAge = Number(/Max-Age=(\d+)/.exec(ours.lines[index] as string)?.[1]) * 1000;
        expect(expires).toBeGreaterThanOrEqual(Math.floor((started + maxAge) / 1000) * 1000);
        expect(expires).toBeLessThanOrEqual(Date.now() + maxAge);
      }

      // as a browser sends them: the presence cookie too, which outlives the new refresh cookie, so it is not set again
      const refreshed = await request(app)
        .post('/auth/refresh')
        .set('X-Requested-With', 'fetch')
        .set('Cookie', `${name}=${token}; ${name}-present=${presenceValue}`);
      expect(refreshed.status).toBe(200);
      const rotated = cookieLine(refreshed, name).get('value') as string;
      expect(rotated).not.toBe(token);
      expect(withoutExpires(setCookies(refreshed)).lines).toEqual(
        withoutExpires(await expressLines((res) => res.cookie(name, rotated, { ...attributes, maxAge: maxAgeOf(refreshed, name) }))).lines,
      );

      const loggedOut = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${name}=${rotated}`);
      expect(loggedOut.status).toBe(204);
      expect(setCookies(loggedOut)).toEqual(
        await expressLines((res) => {
          res.clearCookie(name, attributes);
          res.clearCookie(`${name}-present`, presence);
        }),
      );
    });
  }

  test('a cookie the app set before the router answered is kept beside ours', async () => {
    const { store } = await redisStore();
    const auth = createAuth(authOptions(store));
    const app = express();
    app.use((_req, res, next) => {
      res.cookie('theme', 'dark');
      next();
    });
    app.use('/auth', auth.router);
    const res = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send(CREDENTIALS);
    expect(res.status).toBe(200);
    expect(setCookies(res).map((line) => line.slice(0, line.indexOf('=')))).toEqual(['theme', COOKIE, `${COOKIE}-present`]);
  });
});

describe('a refused call says, in the answer, how to make it', () => {
  /** The 403's `message`, after checking the rest of the answer is the usual csrf_rejected. */
  function csrfMessage(res: request.Response): string {
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'csrf_rejected', message: expect.any(String) });
    return res.body.message as string;
  }

  test('a hand-made login without the header (as curl sends it) names the header to send, and what Origin must be', async () => {
    const { app } = await redisApp();
    const message = csrfMessage(await request(app).post('/auth/login').send(CREDENTIALS));
    expect(message).toMatch(/Send the X-Requested-With header/);
    expect(message).toMatch(/any non-empty value/);
    expect(message).toMatch(/Origin/);
    expect(message).toMatch(/csrf\.allowedOrigins/);
  });

  test('with csrf.headerName configured, the message names that header as configured', async () => {
    const { app } = await redisApp({ csrf: { headerName: 'X-CSRF-Guard' } });
    const message = csrfMessage(await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch'));
    expect(message).toMatch(/Send the X-CSRF-Guard header/);
    expect(message).not.toMatch(/X-Requested-With/);
  });

  test('an Origin that is not allowed is named, with the option that allows it', async () => {
    const { app } = await redisApp();
    const message = csrfMessage(
      await request(app).post('/auth/login').set('X-Requested-With', 'fetch').set('Origin', 'http://localhost:5173').send(CREDENTIALS),
    );
    expect(message).toMatch(/http:\/\/localhost:5173/);
    expect(message).toMatch(/csrf\.allowedOrigins/);
  });

  test("an https Origin on a request the server saw as http points at Express' trust proxy", async () => {
    const { app } = await redisApp();
    const res = await request(app)
      .post('/auth/login')
      .set('X-Requested-With', 'fetch')
      .set('Host', 'app.example')
      .set('Origin', 'https://app.example')
      .send(CREDENTIALS);
    const message = csrfMessage(res);
    expect(message).toMatch(/arrived over http/);
    expect(message).toMatch(/trust proxy/);
  });

  test('Sec-Fetch-Site: cross-site is named as the reason', async () => {
    const { app } = await redisApp({ csrf: { allowedOrigins: ['https://app.example'] } });
    const res = await request(app)
      .post('/auth/login')
      .set('X-Requested-With', 'fetch')
      .set('Sec-Fetch-Site', 'cross-site')
      .set('Origin', 'https://app.example')
      .send(CREDENTIALS);
    expect(csrfMessage(res)).toMatch(/Sec-Fetch-Site: cross-site/);
  });
});

// SPEC §3: "require the header `X-Requested-With` (any non-empty value; name configurable), reject a
// present `Origin` that is not the app's own origin or in `allowedOrigins`, and reject `Sec-Fetch-Site:
// cross-site`": any other marker value, Sec-Fetch-Site same-site or none, and an allowed Origin on /logout too pass.
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
