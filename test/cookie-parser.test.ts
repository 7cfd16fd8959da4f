// The refresh cookie next to cookie-parser (mounted before or after the router, with a secret or not),
// on Express 5 and Express 4: the whole flow works, cookie-parser's `j:`/`s:` values in our cookie's
// name are refused with a 4xx JSON error (never a 500), a duplicated name is still refused, and the
// Set-Cookie lines Express writes carry the token unchanged.
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import cookieParser from 'cookie-parser';
import express, { type Express, type RequestHandler } from 'express';
import request from 'supertest';
import type { Auth, AuthOptions } from '../lib';
import { COOKIE, closeAll, login, memoryStore, REFRESH_SECRET, redisStore, refresh, refreshCookieOf, testApp } from './support/harness';

// Express 4, installed under an alias; @types/express (5) describes both closely enough for building an app.
const express4 = require('express4') as typeof express;

afterAll(closeAll);

const CREDENTIALS = { username: 'alice', password: 'alice-password' };
const PRESENT = `${COOKIE}-present`;
const REFRESH_TOKEN_SHAPE = /^[A-Za-z0-9_-]{22}\.[0-9a-z]{1,6}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/;
const COOKIE_SECRET = 'the app’s own cookie-parser secret';

type Mounting = 'none' | 'before' | 'before, with a secret' | 'after';

interface Setup {
  express?: typeof express;
  mounting?: Mounting;
  options?: Partial<AuthOptions>;
  store?: AuthOptions['store'];
}

/**
 * An app as a user builds it, around the harness' auth instance (closed by closeAll):
 * cookie-parser where `mounting` says, the router at /auth, and routes of the app's own that
 * read `req.cookies` / `req.signedCookies` and set a signed cookie (how an `s:` value can end up
 * under our cookie's name). GET /auth/app-cookies is registered after the router, under its mount
 * path: every request to it passes through the router first (which falls through to it), so what it
 * answers is what the router left in `req.cookies` / `req.signedCookies`.
 */
function buildApp({ express: framework = express, mounting = 'none', options, store = memoryStore() }: Setup = {}): { app: Express; auth: Auth } {
  // reuseGrace 0: a refused request that still rotated the token would show up as reuse afterwards
  const { auth } = testApp(store, { refreshToken: { secret: REFRESH_SECRET, reuseGrace: 0 }, ...options });
  const app = framework();
  const parser: RequestHandler = mounting === 'before, with a secret' ? cookieParser(COOKIE_SECRET) : cookieParser();
  if (mounting.startsWith('before')) app.use(parser);
  app.use('/auth', auth.router);
  if (mounting === 'after') app.use(parser);
  app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
  const showCookies: RequestHandler = (req, res) => res.json({ cookies: req.cookies ?? null, signedCookies: req.signedCookies ?? null });
  app.get('/app/cookies', showCookies);
  app.get('/auth/app-cookies', showCookies);
  app.post('/app/sign', express.json(), (req, res) => {
    const { name = COOKIE, value } = req.body as { name?: string; value: string };
    res.cookie(name, value, { signed: true });
    res.end();
  });
  return { app, auth };
}

function setCookies(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  if (Array.isArray(raw)) return raw as string[];
  return typeof raw === 'string' ? [raw] : [];
}

/** The Set-Cookie line for `name`: its value and its attributes (lower-cased names). */
function cookieLine(res: request.Response, name: string): { value: string; attributes: Map<string, string> } {
  const line = setCookies(res).find((cookie) => cookie.startsWith(`${name}=`));
  if (line === undefined) throw new Error(`no Set-Cookie for ${name} in ${JSON.stringify(setCookies(res))}`);
  const [pair, ...rest] = line.split(';');
  const attributes = new Map<string, string>();
  for (const attribute of rest) {
    const eq = attribute.indexOf('=');
    attributes.set((eq === -1 ? attribute : attribute.slice(0, eq)).trim().toLowerCase(), eq === -1 ? '' : attribute.slice(eq + 1).trim());
  }
  return { value: (pair as string).slice(name.length + 1), attributes };
}

/**
 * POST /auth/refresh with each of `cookieHeaders` on its own `Cookie:` line, over a raw socket
 * (HTTP clients join them into one); Node hands the app the lines joined with `; `.
 */
async function refreshWithCookieLines(app: Express, cookieHeaders: string[]): Promise<{ status: number; body: unknown }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      let answer = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        answer += chunk;
      });
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
      const lines = [
        'POST /auth/refresh HTTP/1.1',
        'Host: 127.0.0.1',
        'X-Requested-With: fetch',
        'Content-Length: 0',
        'Connection: close',
        ...cookieHeaders.map((header) => `Cookie: ${header}`),
      ];
      socket.end(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), body: JSON.parse(body) as unknown };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * `value` signed with the app's cookie secret, as res.cookie(name, value, { signed: true }) writes it
 * (percent-encoded `s:<value>.<signature>`).
 */
async function signedByTheApp(name: string, value: string): Promise<string> {
  const signing = await request(buildApp({ mounting: 'before, with a secret' }).app)
    .post('/app/sign')
    .send({ name, value });
  const signed = cookieLine(signing, name).value;
  expect(decodeURIComponent(signed)).toMatch(/^s:/); // a fixture check: Express signed it
  return signed;
}

const post = (app: Express, path: string) => request(app).post(`/auth${path}`).set('X-Requested-With', 'fetch');

async function logIn(app: Express): Promise<{ accessToken: string; refreshToken: string; res: request.Response }> {
  const res = await post(app, '/login').send(CREDENTIALS);
  expect(res.status).toBe(200);
  return { accessToken: res.body.accessToken as string, refreshToken: refreshCookieOf(res) as string, res };
}

/** Asserts the answer of a refused /refresh: 401 invalid_refresh_token as JSON, both cookies cleared. */
function expectRefused(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({ error: 'invalid_refresh_token' });
  for (const name of [COOKIE, PRESENT]) {
    const { value, attributes } = cookieLine(res, name);
    expect(value).toBe('');
    expect(Date.parse(attributes.get('expires') ?? '')).toBe(0);
  }
}

/** Login, a refresh among other cookies, logout; then the last token is refused and the access token revoked. */
async function wholeFlow(app: Express): Promise<void> {
  const session = await logIn(app);
  expect(session.refreshToken).toMatch(REFRESH_TOKEN_SHAPE);
  expect((await request(app).get('/api/me').set('Authorization', `Bearer ${session.accessToken}`)).status).toBe(200);

  const rotated = await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}; ${PRESENT}=1; theme=dark`);
  expect(rotated.status).toBe(200);
  const successor = refreshCookieOf(rotated) as string;
  expect(successor).toMatch(REFRESH_TOKEN_SHAPE);
  expect(successor).not.toBe(session.refreshToken);

  const out = await post(app, '/logout').set('Cookie', `theme=dark; ${COOKIE}=${successor}`);
  expect(out.status).toBe(204);
  for (const name of [COOKIE, PRESENT]) expect(cookieLine(out, name).value).toBe('');
  expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${successor}`));
  expect((await request(app).get('/api/me').set('Authorization', `Bearer ${session.accessToken}`)).status).toBe(401);
}

describe.each<Mounting>(['before', 'before, with a secret', 'after'])('cookie-parser mounted %s the router', (mounting) => {
  test('login, refresh and logout work (MemoryStore)', async () => {
    await wholeFlow(buildApp({ mounting }).app);
  });

  test("a route behind the router still sees cookie-parser's req.cookies and req.signedCookies, untouched", async () => {
    const { app } = buildApp({ mounting });
    const session = await logIn(app);
    const signed = await signedByTheApp('prefs', 'compact');
    const res = await request(app).get('/auth/app-cookies').set('Cookie', `${COOKIE}=${session.refreshToken}; theme=dark; prefs=${signed}`);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store'); // set by the router: the request went through it
    if (mounting === 'before, with a secret') {
      expect(res.body).toEqual({ cookies: { [COOKIE]: session.refreshToken, theme: 'dark' }, signedCookies: { prefs: 'compact' } });
    } else {
      // without a secret cookie-parser leaves the `s:` value in req.cookies
      expect(res.body).toEqual({ cookies: { [COOKIE]: session.refreshToken, theme: 'dark', prefs: decodeURIComponent(signed) }, signedCookies: {} });
    }
  });

  test('a j: (JSON) value under our name answers 401 invalid_refresh_token as JSON, not a 500', async () => {
    const { app } = buildApp({ mounting });
    const session = await logIn(app);
    // what res.cookie(name, { … }) writes; cookie-parser turns it into an object
    const json = encodeURIComponent(`j:${JSON.stringify({ token: session.refreshToken })}`);
    // What req.cookies holds on the app's route behind the router (the router itself reads the raw header).
    const seen = await request(app).get('/auth/app-cookies').set('Cookie', `${COOKIE}=${json}`);
    expect(seen.headers['cache-control']).toBe('no-store'); // went through the router
    expect(seen.body.cookies[COOKIE]).toEqual({ token: session.refreshToken });
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${json}`));
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=j:{"a":1}`));
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=j:[1,2]`));
    expect((await post(app, '/logout').set('Cookie', `${COOKIE}=${json}`)).status).toBe(204);
    // nothing was rotated or ended: the real token still refreshes (reuseGrace 0 would show a rotation)
    expect((await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}`)).status).toBe(200);
  });

  test('an s: (signed) value under our name answers 401 invalid_refresh_token as JSON, even one wrapping a live token', async () => {
    const { app } = buildApp({ mounting });
    const session = await logIn(app);
    // Without a secret cookie-parser leaves `s:…` in req.cookies; with one it moves it to req.signedCookies.
    // The app signs a live token with its own cookie secret, as res.cookie(name, token, { signed: true }) does.
    const signed = await signedByTheApp(COOKIE, session.refreshToken);
    // What req.cookies / req.signedCookies hold on the app's route behind the router.
    const seen = await request(app).get('/auth/app-cookies').set('Cookie', `${COOKIE}=${signed}`);
    expect(seen.headers['cache-control']).toBe('no-store'); // went through the router
    if (mounting === 'before, with a secret') {
      expect(seen.body).toEqual({ cookies: {}, signedCookies: { [COOKIE]: session.refreshToken } }); // a valid signature, moved away
    } else {
      expect(seen.body.cookies[COOKIE]).toBe(decodeURIComponent(signed));
    }
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${signed}`));
    const badSignature = encodeURIComponent(`s:${session.refreshToken}.AAAA`);
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${badSignature}`));
    expect((await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}`)).status).toBe(200);
  });

  test('a duplicated cookie name is refused, in one Cookie header or across two, and rotates nothing', async () => {
    const { app, auth } = buildApp({ mounting });
    const rotations: unknown[] = [];
    auth.events.on('refresh', (event) => rotations.push(event));
    const session = await logIn(app);
    const other = await logIn(app);
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}; ${COOKIE}=${other.refreshToken}`));
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}; theme=dark;  ${COOKIE} =${session.refreshToken}`));
    const twoLines = await refreshWithCookieLines(app, [`${COOKIE}=${session.refreshToken}`, `theme=dark; ${COOKIE}=${other.refreshToken}`]);
    expect(twoLines).toEqual({ status: 401, body: { error: 'invalid_refresh_token' } });
    // control: one line with one token goes through that path too
    const oneLine = await refreshWithCookieLines(app, ['theme=dark', `${COOKIE}=${session.refreshToken}`]);
    expect(oneLine.status).toBe(200);
    expect(rotations).toHaveLength(1); // the control request's only
    expect((await post(app, '/refresh').set('Cookie', `${COOKIE}=${other.refreshToken}`)).status).toBe(200);
  });
});

describe('without cookie-parser', () => {
  test('the router does not fill req.cookies or req.signedCookies for the routes behind it', async () => {
    const { app } = buildApp();
    const session = await logIn(app);
    const res = await request(app).get('/auth/app-cookies').set('Cookie', `${COOKIE}=${session.refreshToken}; theme=dark`);
    expect(res.headers['cache-control']).toBe('no-store'); // went through the router
    expect(res.body).toEqual({ cookies: null, signedCookies: null });
  });

  test('a j: or s: value is just a malformed token: 401 JSON', async () => {
    const { app } = buildApp();
    const session = await logIn(app);
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=j:{"a":1}`));
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${encodeURIComponent(`s:${session.refreshToken}.sig`)}`));
    expect((await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}`)).status).toBe(200);
  });

  test('names that merely contain ours (a prefix, a suffix, the presence cookie) are other cookies', async () => {
    const { app } = buildApp();
    const session = await logIn(app);
    const cookie = `x${COOKIE}=a; ${COOKIE}x=b; ${PRESENT}=1; ${COOKIE}=${session.refreshToken}; novalue; =bare`;
    expect((await post(app, '/refresh').set('Cookie', cookie)).status).toBe(200);
  });

  test('a percent-encoded cookie value is decoded, as the cookie package (and cookie-parser) decode it', async () => {
    const { app } = buildApp();
    const first = await logIn(app);
    const encoded = first.refreshToken.replace(/\./g, '%2E');
    expect((await post(app, '/refresh').set('Cookie', `${COOKIE}=${encoded}`)).status).toBe(200);
  });
});

describe('Set-Cookie lines, written by res.cookie and res.clearCookie', () => {
  test('the token comes out unchanged, with Max-Age, a matching Expires and the attributes of SPEC §4', async () => {
    const { app } = buildApp();
    const before = Date.now();
    const { res, refreshToken } = await logIn(app);
    const lines = setCookies(res);
    expect(lines).toHaveLength(2);
    const refresh = cookieLine(res, COOKIE);
    expect(refresh.value).toBe(refreshToken);
    expect(refresh.value).toMatch(REFRESH_TOKEN_SHAPE);
    const maxAge = Number(refresh.attributes.get('max-age'));
    expect(maxAge).toBeGreaterThan(14 * 86_400 - 5);
    expect(maxAge).toBeLessThanOrEqual(14 * 86_400);
    const expires = Date.parse(refresh.attributes.get('expires') ?? '');
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + (maxAge - 1) * 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + maxAge * 1000);
    expect([...refresh.attributes.keys()].sort()).toEqual(['expires', 'httponly', 'max-age', 'path', 'samesite', 'secure']);
    expect(refresh.attributes.get('path')).toBe('/');
    expect(refresh.attributes.get('samesite')).toBe('Strict');

    const presence = cookieLine(res, PRESENT);
    // When it expires, to the day (a UTC midnight, rounded up): nothing dates the login to the second.
    const expiresSeconds = Math.floor(Date.parse(presence.attributes.get('expires') ?? '') / 1000);
    expect(parseInt(presence.value, 36) % 86_400).toBe(0);
    expect(parseInt(presence.value, 36) - expiresSeconds).toBeGreaterThanOrEqual(0);
    expect(parseInt(presence.value, 36) - expiresSeconds).toBeLessThan(86_400);
    expect([...presence.attributes.keys()].sort()).toEqual(['expires', 'max-age', 'path', 'samesite', 'secure']);
    // It lives until the absolute deadline (30 days by default), which no refresh cookie outlives.
    const presenceMaxAge = Number(presence.attributes.get('max-age'));
    expect(presenceMaxAge).toBeGreaterThan(30 * 86_400 - 5);
    expect(presenceMaxAge).toBeLessThanOrEqual(30 * 86_400);
    expect(Date.parse(presence.attributes.get('expires') ?? '')).toBeLessThanOrEqual(Date.now() + presenceMaxAge * 1000);
  });

  test('a clearing keeps the attributes of what it clears, with an empty value and Expires in 1970', async () => {
    const { app } = buildApp({ options: { cookie: { secure: false, sameSite: 'lax' } } });
    const res = await post(app, '/logout');
    expect(res.status).toBe(204);
    const refresh = cookieLine(res, 'refresh');
    expect(refresh.value).toBe('');
    expect(refresh.attributes.get('expires')).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
    expect([...refresh.attributes.keys()].sort()).toEqual(['expires', 'httponly', 'path', 'samesite']);
    expect(refresh.attributes.get('path')).toBe('/auth');
    expect(refresh.attributes.get('samesite')).toBe('Lax');
    const presence = cookieLine(res, 'refresh-present');
    expect(presence.value).toBe('');
    expect([...presence.attributes.keys()].sort()).toEqual(['expires', 'path', 'samesite']);
    expect(presence.attributes.get('path')).toBe('/');
  });
});

describe('Express 4', () => {
  test.each<Mounting>(['none', 'before', 'before, with a secret', 'after'])('login, refresh and logout work (cookie-parser: %s)', async (mounting) => {
    await wholeFlow(buildApp({ express: express4, mounting }).app);
  });

  test('writes the same Set-Cookie attributes as Express 5, and clears the same way', async () => {
    const attributesOf = async (framework: typeof express) => {
      const { app } = buildApp({ express: framework });
      const { res, refreshToken } = await logIn(app);
      const out = await post(app, '/logout').set('Cookie', `${COOKIE}=${refreshToken}`);
      const set = cookieLine(res, COOKIE).attributes;
      const cleared = cookieLine(out, COOKIE).attributes;
      expect(Number(set.get('max-age'))).toBeGreaterThan(14 * 86_400 - 5);
      set.delete('expires'); // dates a moment apart
      set.delete('max-age');
      return { set: [...set], cleared: [...cleared], presence: [...cookieLine(out, PRESENT).attributes] };
    };
    const [five, four] = await Promise.all([attributesOf(express), attributesOf(express4)]);
    expect(four).toEqual(five);
    expect(new Map(four.cleared).get('expires')).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
  });

  test('a j: value is refused with 401 JSON and a duplicate is refused, with cookie-parser mounted', async () => {
    const { app } = buildApp({ express: express4, mounting: 'before, with a secret' });
    const session = await logIn(app);
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=j:{"a":1}`));
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}; ${COOKIE}=${session.refreshToken}`));
    expect((await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}`)).status).toBe(200);
  });
});

describe('on RedisStore', () => {
  test('the whole flow with cookieParser(secret) before the router, on Express 5 and Express 4', async () => {
    await wholeFlow(buildApp({ mounting: 'before, with a secret', store: (await redisStore()).store }).app);
    await wholeFlow(buildApp({ express: express4, mounting: 'before, with a secret', store: (await redisStore()).store }).app);
  });

  test('a duplicated name and a signed value are refused with cookie-parser mounted', async () => {
    const { app } = buildApp({ mounting: 'before, with a secret', store: (await redisStore()).store });
    const session = await logIn(app);
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}; ${COOKIE}=${session.refreshToken}`));
    expectRefused(await post(app, '/refresh').set('Cookie', `${COOKIE}=${encodeURIComponent(`s:${session.refreshToken}.sig`)}`));
    expect((await post(app, '/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}`)).status).toBe(200);
  });
});

/** The mountings the duplicate check and the token's spellings are tried under: without cookie-parser, and before the router. */
const PARSER_MOUNTINGS: Mounting[] = ['none', 'before', 'before, with a secret'];

/** The app {@link buildApp} makes with cookie-parser mounted as `mounting` says. */
function cookieApp(mounting: Mounting): Express {
  return buildApp({ mounting }).app;
}

/** POST /auth/refresh with `cookie` as its Cookie header (an array: one header line each). */
function refreshWith(app: Express, cookie: string | string[]): request.Test {
  const test = post(app, '/refresh');
  return typeof cookie === 'string' ? test.set('Cookie', cookie) : test.set('Cookie', cookie);
}

describe('the refresh cookie as read with and without cookie-parser', () => {
  test.each(PARSER_MOUNTINGS)(
    'duplicate check with spacing variants, two Cookie lines, j: and quoted copies (cookie-parser: %s): refused, nothing rotated',
    async (mounting) => {
      const app = cookieApp(mounting);
      const { refreshToken } = await login(app);
      const attempts = [
        `${COOKIE}=forged; ${COOKIE}=${refreshToken}`,
        `${COOKIE}=${refreshToken};${COOKIE}=forged`,
        `  ${COOKIE}=forged ;\t${COOKIE} =${refreshToken}`,
        `${COOKIE}\t=forged; ${COOKIE}=${refreshToken}`,
        `${COOKIE}=j:"forged"; ${COOKIE}=${refreshToken}`,
        `${COOKIE}="forged"; ${COOKIE}=${refreshToken}`,
        `a; ${COOKIE}=forged; b; ${COOKIE}=${refreshToken}`,
        `${COOKIE}=forged;;;; ${COOKIE}=${refreshToken}`,
      ];
      for (const cookie of attempts) {
        const res = await refreshWith(app, cookie);
        expect({ cookie, status: res.status, body: res.body }).toEqual({ cookie, status: 401, body: { error: 'invalid_refresh_token' } });
      }
      // two Cookie header lines (Node joins them with '; ')
      const lines = await refreshWith(app, [`${COOKIE}=forged`, `${COOKIE}=${refreshToken}`]);
      expect(lines.status).toBe(401);
      // the real token was never rotated by any of the refused attempts
      const ok = await refresh(app, refreshToken);
      expect(ok.status).toBe(200);
    },
  );

  test.each(PARSER_MOUNTINGS)(
    'other names are other cookies (cookie-parser: %s): case variants and encoded names never stand in for ours, nor count as duplicates',
    async (mounting) => {
      const app = cookieApp(mounting);
      const { refreshToken } = await login(app);
      for (const other of ['__host-refresh', '__HOST-refresh', '%5F_Host-refresh', '__Host-refresh%00', '__Host-Refresh', '__Host-refresh-present']) {
        // alone: our cookie is absent
        const alone = await refreshWith(app, `${other}=${refreshToken}`);
        expect({ other, status: alone.status }).toEqual({ other, status: 401 });
      }
      // beside ours: ours is read, theirs ignored, and the refresh works once
      const res = await refreshWith(app, `__host-refresh=forged; %5F_Host-refresh=forged; ${COOKIE}=${refreshToken}`);
      expect(res.status).toBe(200);
    },
  );

  test.each(PARSER_MOUNTINGS)('percent-encoded token characters are decoded alike by both parsers (cookie-parser: %s)', async (mounting) => {
    const app = cookieApp(mounting);
    const { refreshToken } = await login(app);
    const encoded = refreshToken.replace(/[A-Za-z]/, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    expect(encoded).not.toBe(refreshToken);
    expect((await refreshWith(app, `${COOKIE}=${encoded}`)).status).toBe(200);
  });

  test.each(PARSER_MOUNTINGS)('nasty Cookie headers are 4xx JSON, never a 500 (cookie-parser: %s)', async (mounting) => {
    const app = cookieApp(mounting);
    const nasty = [
      `${COOKIE}`,
      `${COOKIE}=`,
      `${COOKIE}=%`,
      `${COOKIE}=%E0%A4%A`,
      `${COOKIE}=%00`,
      `${COOKIE}="`,
      `${COOKIE}=""`,
      `${COOKIE}=j:`,
      `${COOKIE}=j:null`,
      `${COOKIE}=j:0`,
      `${COOKIE}=j:{"__proto__":{"x":1}}`,
      `${COOKIE}=j:"${'a'.repeat(4000)}"`,
      `${COOKIE}=s:`,
      `${COOKIE}=s:x.y`,
      '=;=;=',
      ';;;;',
      `constructor=1; __proto__=2; ${COOKIE}=x`,
      `${COOKIE}==${'='.repeat(100)}`,
    ];
    for (const cookie of nasty) {
      const res = await refreshWith(app, cookie);
      expect({ cookie, status: res.status, type: res.type }).toEqual({ cookie, status: 401, type: 'application/json' });
    }
  });
});

describe('a j: value is never a spelling of the token', () => {
  // cookie-parser turns `j:"<token>"` into the plain string <token>; were it accepted, what a cookie
  // means would depend on the app's middleware, and a second (JSON-escaped) spelling of the token would work.
  test('with cookie-parser mounted, a j:"<token>" value is refused like any other j: value', async () => {
    const withParser = cookieApp('before');
    const without = cookieApp('none');
    const a = await login(withParser);
    const b = await login(without);
    const jsonSpelling = (token: string): string => `j:${JSON.stringify(token).replace('A', '\\u0041')}`;
    const answers = {
      withParser: (await refreshWith(withParser, `${COOKIE}=${jsonSpelling(a.refreshToken)}`)).status,
      withoutParser: (await refreshWith(without, `${COOKIE}=${jsonSpelling(b.refreshToken)}`)).status,
    };
    expect(answers).toEqual({ withParser: 401, withoutParser: 401 });
  });
});
