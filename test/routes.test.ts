// HTTP contract of every route in SPEC §3 (login, refresh, logout, logout-all, sessions), over RedisStore.
import { inspect } from 'node:util';
import type { Express } from 'express';
import request from 'supertest';
import { type Authenticate, type AuthOptions, createAuth } from '../lib';
import {
  authOptions,
  COOKIE,
  closeAll,
  expectAccessRejected,
  expectRefreshRejected,
  login,
  me,
  memoryStore,
  REFRESH_SECRET,
  recordingApp,
  redisStore,
  refresh,
  refreshCookieOf,
  testApp,
} from './support/harness';
import { forgedRefreshToken, sessionIdOfRefreshToken, sidOf } from './support/tokens';

afterAll(closeAll);

const IDLE_TTL_SECONDS = 14 * 24 * 3600;
const REFRESH_TOKEN_SHAPE = /^[A-Za-z0-9_-]{22}\.[0-9a-z]{1,6}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/;

/** A fresh app on its own RedisStore (own key prefix). */
async function redisApp(overrides: Partial<AuthOptions> = {}) {
  const { store } = await redisStore();
  return testApp(store, overrides);
}

/** Every Set-Cookie line of a response. */
function setCookies(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  if (Array.isArray(raw)) return raw as string[];
  return typeof raw === 'string' ? [raw] : [];
}

/** The Set-Cookie line for the refresh cookie, split into its value and lower-cased attributes. */
function refreshSetCookie(res: request.Response, name = COOKIE): { value: string; attributes: Map<string, string> } {
  const line = setCookies(res).find((cookie) => cookie.startsWith(`${name}=`));
  if (line === undefined) throw new Error(`no Set-Cookie for ${name}: ${JSON.stringify(res.headers)}`);
  const [pair, ...rest] = line.split(';');
  const attributes = new Map<string, string>();
  for (const attribute of rest) {
    const eq = attribute.indexOf('=');
    const key = (eq === -1 ? attribute : attribute.slice(0, eq)).trim().toLowerCase();
    attributes.set(key, eq === -1 ? '' : attribute.slice(eq + 1).trim());
  }
  return { value: (pair as string).slice(name.length + 1), attributes };
}

function postLogin(app: Express): request.Test {
  return request(app).post('/auth/login').set('X-Requested-With', 'fetch');
}

/** A clearing: empty value, `Expires` in the past, no lifetime left (res.clearCookie writes no Max-Age). */
function expectCleared(res: request.Response, name = COOKIE): void {
  const { value, attributes } = refreshSetCookie(res, name);
  expect(value).toBe('');
  expect(Date.parse(attributes.get('expires') ?? '')).toBeLessThanOrEqual(Date.now() - 1000);
  expect(attributes.get('max-age') ?? '0').toBe('0');
}

describe('POST /auth/login', () => {
  test('answers 200 {accessToken, tokenType: "Bearer", expiresIn: 600} with Cache-Control: no-store', async () => {
    const { app } = await redisApp();
    const res = await postLogin(app).send({ username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 600 });
    expect(res.headers['cache-control']).toBe('no-store');
    const who = await me(app, res.body.accessToken as string);
    expect(who.status).toBe(200);
    expect(who.body.userId).toBe('user-alice');
  });

  test('sets the refresh cookie __Host-refresh: HttpOnly, Secure, SameSite=Strict, Path=/, no Domain, Max-Age of the idle TTL', async () => {
    const { app } = await redisApp();
    const res = await postLogin(app).send({ username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(200);
    const lines = setCookies(res);
    expect(lines).toHaveLength(2); // the refresh cookie and its presence cookie
    const { value, attributes } = refreshSetCookie(res, '__Host-refresh');
    expect(value).toMatch(REFRESH_TOKEN_SHAPE);
    expect(sessionIdOfRefreshToken(value)).toBe(sidOf(res.body.accessToken as string));
    expect(attributes.has('httponly')).toBe(true);
    expect(attributes.has('secure')).toBe(true);
    expect(attributes.get('samesite')).toBe('Strict');
    expect(attributes.get('path')).toBe('/');
    expect(attributes.has('domain')).toBe(false);
    const maxAge = Number(attributes.get('max-age'));
    expect(maxAge).toBeLessThanOrEqual(IDLE_TTL_SECONDS);
    expect(maxAge).toBeGreaterThanOrEqual(IDLE_TTL_SECONDS - 5);

    // The presence cookie: readable by the page (no HttpOnly), nothing secret in it, living until
    // the family's absolute deadline (30 days by default), which no refresh cookie outlives.
    const presence = refreshSetCookie(res, '__Host-refresh-present');
    // Its value: the day (UTC) it expires, rounded up, in epoch seconds base 36; never the login's second.
    const daySeconds = parseInt(presence.value, 36);
    const expiresSeconds = Math.floor(Date.parse(presence.attributes.get('expires') ?? '') / 1000);
    expect(daySeconds % 86_400).toBe(0);
    expect(daySeconds - expiresSeconds).toBeGreaterThanOrEqual(0);
    expect(daySeconds - expiresSeconds).toBeLessThan(86_400);
    expect(presence.attributes.has('httponly')).toBe(false);
    expect(presence.attributes.has('secure')).toBe(true);
    expect(presence.attributes.get('samesite')).toBe('Strict');
    expect(presence.attributes.get('path')).toBe('/');
    const presenceMaxAge = Number(presence.attributes.get('max-age'));
    expect(presenceMaxAge).toBeLessThanOrEqual(30 * 24 * 3600);
    expect(presenceMaxAge).toBeGreaterThanOrEqual(30 * 24 * 3600 - 5);
  });

  test('the presence cookie: set at login until the absolute deadline, renewed by a refresh only when it would die first', async () => {
    const { app } = await redisApp({ refreshToken: { secret: REFRESH_SECRET, idleTtl: '10m', absoluteTtl: '1h' } });
    const first = await login(app);
    const presence = refreshSetCookie(first.res, '__Host-refresh-present');
    expect(Number(presence.attributes.get('max-age'))).toBeGreaterThan(3600 - 5);
    expect(Number(presence.attributes.get('max-age'))).toBeLessThanOrEqual(3600);
    expect(Number(refreshSetCookie(first.res).attributes.get('max-age'))).toBeLessThanOrEqual(600);
    const cookieNames = (res: request.Response) => setCookies(res).map((line) => line.slice(0, line.indexOf('=')));
    const refreshHolding = (token: string, presenceValue?: string) =>
      request(app)
        .post('/auth/refresh')
        .set('X-Requested-With', 'fetch')
        .set('Cookie', `${COOKIE}=${token}${presenceValue === undefined ? '' : `; __Host-refresh-present=${presenceValue}`}`);

    // The browser holds the login's presence cookie, which outlives any refresh cookie: left alone.
    const kept = await refreshHolding(first.refreshToken, presence.value);
    expect(kept.status).toBe(200);
    expect(cookieNames(kept)).toEqual([COOKIE]);
    // None (deleted by a script), the `1` of earlier versions, or one that dies before the new refresh
    // cookie (Chrome caps cookies at 400 days): renewed, until the absolute deadline again.
    let token = refreshCookieOf(kept) as string;
    const soon = Math.floor(Date.now() / 1000 + 300).toString(36);
    for (const held of [undefined, '1', soon, 'not-a-time!']) {
      const res = await refreshHolding(token, held);
      expect(res.status).toBe(200);
      expect(cookieNames(res)).toEqual([COOKIE, '__Host-refresh-present']);
      const renewed = refreshSetCookie(res, '__Host-refresh-present');
      expect(Number(renewed.attributes.get('max-age'))).toBeGreaterThan(3600 - 10);
      expect(parseInt(renewed.value, 36)).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 3600 - 10);
      token = refreshCookieOf(res) as string;
    }
  });

  test("near the absolute deadline (the new refresh cookie ends with the family) the login's presence cookie is still left alone", async () => {
    // idleTtl = absoluteTtl: every refresh's cookie ends at the absolute deadline, as in the last
    // idleTtl of any family. Both cookies' lifetimes are whole seconds, cut from different instants,
    // so the presence cookie's value may read up to 2 s under the deadline; that is not "dies first".
    const { app } = await redisApp({ refreshToken: { secret: REFRESH_SECRET, idleTtl: '1h', absoluteTtl: '1h' } });
    const first = await login(app);
    const presence = refreshSetCookie(first.res, '__Host-refresh-present').value;
    let token = first.refreshToken;
    for (let i = 0; i < 12; i++) {
      await new Promise((resolve) => setTimeout(resolve, 37)); // a different millisecond phase each time
      const res = await request(app)
        .post('/auth/refresh')
        .set('X-Requested-With', 'fetch')
        .set('Cookie', `${COOKIE}=${token}; __Host-refresh-present=${presence}`);
      expect(res.status).toBe(200);
      expect(setCookies(res).map((line) => line.slice(0, line.indexOf('=')))).toEqual([COOKIE]);
      token = refreshCookieOf(res) as string;
    }
  });

  test('with an absoluteTtl beyond 400 days the presence cookie lives 400 days (what browsers keep), and says so to the day', async () => {
    const { app } = await redisApp({ refreshToken: { secret: REFRESH_SECRET, idleTtl: '30d', absoluteTtl: '800d' } });
    const { res } = await login(app);
    const presence = refreshSetCookie(res, '__Host-refresh-present');
    expect(Number(presence.attributes.get('max-age'))).toBe(400 * 86_400);
    // The day it expires, rounded down here: never a day the cookie does not reach.
    const daySeconds = parseInt(presence.value, 36);
    expect(daySeconds % 86_400).toBe(0);
    expect(daySeconds).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 400 * 86_400);
    expect(daySeconds).toBeGreaterThan(Math.floor(Date.now() / 1000) + 399 * 86_400);
  });

  test("the presence cookie's value tells the day its family ends, not the second of the login (it is readable by every script)", async () => {
    for (const absoluteTtl of ['1h', '30d']) {
      const { app } = await redisApp({ refreshToken: { secret: REFRESH_SECRET, idleTtl: '1h', absoluteTtl } });
      const before = Date.now();
      const { res } = await login(app);
      const daySeconds = parseInt(refreshSetCookie(res, '__Host-refresh-present').value, 36);
      expect({ absoluteTtl, wholeDay: daySeconds % 86_400 === 0 }).toEqual({ absoluteTtl, wholeDay: true });
      // Still no earlier than the family's end, so a refresh leaves the cookie alone.
      expect(daySeconds * 1000).toBeGreaterThanOrEqual(before + (absoluteTtl === '1h' ? 3600_000 : 30 * 86_400_000) - 1000);
    }
  });

  test('logout clears the refresh cookie and its presence cookie', async () => {
    const { app } = await redisApp();
    const { refreshToken } = await login(app);
    const res = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);
    expect(res.status).toBe(204);
    for (const name of ['__Host-refresh', '__Host-refresh-present']) expectCleared(res, name);
  });

  test.each([
    ['a wrong password', { username: 'alice', password: 'wrong' }],
    ['an unknown user', { username: 'mallory', password: 'whatever' }],
  ])('%s answers 401 {error: "invalid_credentials"} and sets no cookie', async (_label, credentials) => {
    const { app } = await redisApp();
    const res = await postLogin(app).send(credentials);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_credentials' });
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  describe('when authenticate throws', () => {
    let app: Express;
    beforeAll(async () => {
      const { store } = await redisStore();
      const fallback = authOptions(store).authenticate;
      const authenticate: Authenticate = (req) => {
        const username = (req.body as { username?: unknown }).username;
        if (username === 'ghost') throw Object.assign(new Error('user ghost not found'), { status: 404 });
        if (username === 'boom') throw new Error('database exploded at /srv/secret/db.sqlite');
        return fallback(req);
      };
      app = testApp(store, { authenticate }).app;
    });

    test('an error with status 404 answers the same 401 as wrong credentials, with no cookie', async () => {
      const res = await postLogin(app).send({ username: 'ghost', password: 'x' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_credentials' });
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.text).not.toContain('ghost');
    });

    test('a plain Error answers 500 {error: "server_error"} as JSON, without its message or a stack trace', async () => {
      const res = await postLogin(app).send({ username: 'boom', password: 'x' });
      expect(res.status).toBe(500);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ error: 'server_error' });
      expect(res.text).not.toMatch(/exploded|secret|sqlite|Error:|\bat [^\s]+ \(/);
      expect(res.headers['set-cookie']).toBeUndefined();
    });
  });

  describe('refuses bodies that are not a small, plain JSON object', () => {
    let app: Express;
    beforeAll(async () => {
      app = (await redisApp()).app;
    });

    test('Content-Type text/plain answers 415, saying which content type to send', async () => {
      const res = await postLogin(app).set('Content-Type', 'text/plain').send('{"username":"alice","password":"alice-password"}');
      expect(res.status).toBe(415);
      expect(res.body).toEqual({ error: 'unsupported_media_type', message: expect.stringMatching(/Content-Type: application\/json/) });
      expect(res.body.message).toMatch(/received text\/plain/);
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    test('a form-encoded body answers 415, naming what it sent and what to send instead', async () => {
      const res = await postLogin(app).type('form').send({ username: 'alice', password: 'alice-password' });
      expect(res.status).toBe(415);
      expect(res.body.error).toBe('unsupported_media_type');
      expect(res.body.message).toMatch(/Content-Type: application\/json/);
      expect(res.body.message).toMatch(/received application\/x-www-form-urlencoded/);
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    test('a body without Content-Type answers 415, saying so', async () => {
      const res = await postLogin(app).send(Buffer.from('{"username":"alice","password":"alice-password"}'));
      expect(res.status).toBe(415);
      expect(res.body.message).toMatch(/Content-Type: application\/json/);
      expect(res.body.message).toMatch(/no Content-Type/);
    });

    test('a JSON body in another charset answers 415, asking for UTF-8', async () => {
      const res = await postLogin(app).set('Content-Type', 'application/json; charset=latin1').send('{"username":"alice","password":"alice-password"}');
      expect(res.status).toBe(415);
      expect(res.body).toEqual({ error: 'unsupported_media_type', message: expect.stringMatching(/UTF-8/) });
      expect(res.body.message).toMatch(/LATIN1/i);
    });

    test('a UTF-7, UTF-16 or UTF-32 JSON body answers 415, asking for UTF-8 (RFC 8259 §8.1), even one that decodes to a valid login', async () => {
      const login = '{"username":"alice","password":"alice-password"}';
      const utf32be = Buffer.alloc(login.length * 4);
      for (let i = 0; i < login.length; i++) utf32be.writeUInt32BE(login.charCodeAt(i), i * 4);
      const bodies: Array<[string, Buffer]> = [
        // Every quote spelled +ACI-: bytes a filter in front reads as no JSON string at all.
        ['utf-7', Buffer.from(login.replaceAll('"', '+ACI-'))],
        ['UTF-7', Buffer.from(login)],
        ['utf-16le', Buffer.from(login, 'utf16le')],
        ['utf-16', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(login, 'utf16le')])],
        ['utf-32be', utf32be],
      ];
      for (const [charset, body] of bodies) {
        // The bytes as they are (superagent would otherwise send a Buffer as JSON of its own; it writes a Buffer its type calls a string).
        const res = await postLogin(app)
          .set('Content-Type', `application/json; charset=${charset}`)
          .serialize((raw: Buffer) => raw as unknown as string)
          .send(body);
        expect({ charset, status: res.status }).toEqual({ charset, status: 415 });
        expect(res.body).toEqual({ error: 'unsupported_media_type', message: expect.stringMatching(/UTF-8/) });
        expect(res.body.message).toContain(charset.toUpperCase());
        expect(res.headers['set-cookie']).toBeUndefined();
      }
    });

    test('a UTF-8 JSON body is accepted with or without the charset, in any case, quoted or not', async () => {
      for (const contentType of [
        'application/json',
        'application/json; charset=utf-8',
        'application/json;charset=UTF-8',
        'application/json; charset="utf-8"',
      ]) {
        const res = await postLogin(app).set('Content-Type', contentType).send('{"username":"alice","password":"alice-password"}');
        expect({ contentType, status: res.status }).toEqual({ contentType, status: 200 });
      }
    });

    test('a body in a Content-Encoding the server cannot decode answers 415, naming it', async () => {
      const res = await postLogin(app).set('Content-Type', 'application/json').set('Content-Encoding', 'compress').send('{}');
      expect(res.status).toBe(415);
      expect(res.body).toEqual({ error: 'unsupported_media_type', message: expect.stringMatching(/Content-Encoding compress/) });
    });

    test('a body over the default limit of 16384 bytes answers 413', async () => {
      const body = JSON.stringify({ username: 'alice', password: 'alice-password', pad: 'x'.repeat(16_400) });
      const res = await postLogin(app).set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(413);
      expect(res.body).toEqual({ error: 'payload_too_large', message: expect.stringMatching(/bodyLimit \(16384 bytes\)/) });
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    test('a body just under the limit is accepted', async () => {
      const base = JSON.stringify({ username: 'alice', password: 'alice-password', pad: '' });
      const body = JSON.stringify({ username: 'alice', password: 'alice-password', pad: 'x'.repeat(16_384 - base.length) });
      expect(Buffer.byteLength(body)).toBe(16_384);
      const res = await postLogin(app).set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(200);
    });

    test('malformed JSON answers 400', async () => {
      const res = await postLogin(app).set('Content-Type', 'application/json').send('{"username": "alice", ');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: expect.stringMatching(/not valid JSON/) });
      expect(res.text).not.toMatch(/Unexpected|SyntaxError/);
    });

    test("what reaches the app's error handler for a refused body holds none of the body (the password a logger would print)", async () => {
      const auth = createAuth(authOptions(memoryStore()));
      const { app: recorded, errors } = recordingApp(auth);
      const password = 'correct-horse-battery-staple';
      const sent: Array<[string, string]> = [
        ['application/json', `{"username":"alice","password":"${password}", `],
        ['application/json', `username=alice&password=${password}`],
        ['application/json', `{"username":"alice","password":${password}}`],
        ['application/json; charset=utf-7', `{"username":"alice","password":"${password}"}`],
      ];
      for (const [contentType, body] of sent) {
        const res = await postLogin(recorded).set('Content-Type', contentType).send(body);
        expect([400, 415]).toContain(res.status);
        expect(inspect(errors.at(-1), { depth: 10, showHidden: true })).not.toContain(password);
      }
      expect(errors).toHaveLength(sent.length);
      await auth.close();
    });

    test('a JSON array answers 400', async () => {
      const res = await postLogin(app).set('Content-Type', 'application/json').send('[{"username":"alice","password":"alice-password"}]');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: expect.stringMatching(/JSON object/) });
    });

    test.each([
      ['__proto__', '{"username":"alice","password":"alice-password","__proto__":{"isAdmin":true}}'],
      ['constructor', '{"username":"alice","password":"alice-password","constructor":{"prototype":{"isAdmin":true}}}'],
      ['nested __proto__', '{"username":"alice","password":"alice-password","profile":{"__proto__":{"isAdmin":true}}}'],
    ])('a body with a %s key answers 400 even with valid credentials', async (_name, raw) => {
      const res = await postLogin(app).set('Content-Type', 'application/json').send(raw);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: expect.stringMatching(/__proto__/) });
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    });
  });

  test('a login while holding a valid refresh cookie starts a new family and ends the old one', async () => {
    const { app } = await redisApp();
    const old = await login(app, 'alice');
    const res = await postLogin(app).set('Cookie', `${COOKIE}=${old.refreshToken}`).send({ username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(200);
    const fresh = refreshCookieOf(res) as string;
    expect(fresh).toMatch(REFRESH_TOKEN_SHAPE);
    expect(sessionIdOfRefreshToken(fresh)).not.toBe(sessionIdOfRefreshToken(old.refreshToken));

    await expectRefreshRejected(app, old.refreshToken);
    await expectAccessRejected(app, old.accessToken);

    expect((await me(app, res.body.accessToken as string)).status).toBe(200);
    expect((await refresh(app, fresh)).status).toBe(200);
  });

  test("a login with a forged cookie (another user's real session id, random secret) does not revoke that session", async () => {
    const { app } = await redisApp();
    const bob = await login(app, 'bob');
    const forged = forgedRefreshToken(sessionIdOfRefreshToken(bob.refreshToken));
    const res = await postLogin(app).set('Cookie', `${COOKIE}=${forged}`).send({ username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(200);

    const bobMe = await me(app, bob.accessToken);
    expect(bobMe.status).toBe(200);
    expect(bobMe.body.userId).toBe('user-bob');
    expect((await refresh(app, bob.refreshToken)).status).toBe(200);
  });
});

describe('POST /auth/refresh', () => {
  test('answers 200 with the same body as login, Cache-Control: no-store and a rotated cookie', async () => {
    const { app } = await redisApp();
    const first = await login(app);
    const res = await refresh(app, first.refreshToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 600 });
    expect(res.headers['cache-control']).toBe('no-store');

    const { value, attributes } = refreshSetCookie(res);
    expect(value).toMatch(REFRESH_TOKEN_SHAPE);
    expect(value).not.toBe(first.refreshToken);
    expect(sessionIdOfRefreshToken(value)).toBe(sessionIdOfRefreshToken(first.refreshToken));
    expect(attributes.has('httponly')).toBe(true);
    expect(attributes.has('secure')).toBe(true);
    expect(attributes.get('samesite')).toBe('Strict');
    expect(attributes.get('path')).toBe('/');
    expect(Number(attributes.get('max-age'))).toBeGreaterThan(IDLE_TTL_SECONDS - 5);

    const accessToken = res.body.accessToken as string;
    expect(accessToken).not.toBe(first.accessToken);
    expect(sidOf(accessToken)).toBe(sidOf(first.accessToken));
    const who = await me(app, accessToken);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ userId: 'user-alice', claims: { role: 'admin' } });

    expect((await refresh(app, value)).status).toBe(200);
  });

  test('without a cookie answers 401 {error: "invalid_refresh_token"} and clears the cookie', async () => {
    const { app } = await redisApp();
    const res = await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_refresh_token' });
    expect(res.headers['cache-control']).toBe('no-store');
    expectCleared(res);
  });

  test.each([
    ['garbage', () => 'not-a-token'],
    ['empty', () => ''],
    ['a secret that is too short', (token: string) => `${sessionIdOfRefreshToken(token)}.abc`],
    ['a trailing extra character', (token: string) => `${token}x`],
    ['no separator', (token: string) => token.replace('.', '')],
  ])('a malformed cookie (%s) answers 401 and clears the cookie', async (_name, make) => {
    const { app } = await redisApp();
    const { refreshToken } = await login(app);
    const res = await refresh(app, make(refreshToken));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_refresh_token' });
    expectCleared(res);
    expect((await refresh(app, refreshToken)).status).toBe(200);
  });

  test('a Cookie header carrying the cookie name twice answers 401 and rotates nothing', async () => {
    // reuseGrace 0: had the duplicate request rotated the real token, presenting it again would revoke the family.
    const { app, auth } = await redisApp({ refreshToken: { secret: REFRESH_SECRET, reuseGrace: 0 } });
    const refreshes: unknown[] = [];
    auth.events.on('refresh', (event) => refreshes.push(event));
    const { refreshToken } = await login(app);
    for (const cookie of [
      `${COOKIE}=${refreshToken}; ${COOKIE}=${refreshToken}`,
      `${COOKIE}=${refreshToken}; ${COOKIE}=attacker-tossed-value`,
      `${COOKIE}=attacker-tossed-value; other=1; ${COOKIE}=${refreshToken}`,
    ]) {
      const res = await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', cookie);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_refresh_token' });
      expect(refreshCookieOf(res)).toBe('');
    }
    expect(refreshes).toHaveLength(0);
    const res = await refresh(app, refreshToken);
    expect(res.status).toBe(200);
    expect(refreshes).toEqual([expect.objectContaining({ retried: false })]);
  });
});

describe('POST /auth/logout', () => {
  const PRESENCE_COOKIE = `${COOKIE}-present`;
  const postLogout = (app: Express) => request(app).post('/auth/logout').set('X-Requested-With', 'fetch');

  test('is not throttled by the address it comes from: with the /refresh budget of that address spent, it answers 204, clears both cookies and ends the family', async () => {
    const { app } = await redisApp({ rateLimit: { refresh: { max: 2, window: '1m' } } });
    app.set('trust proxy', 'loopback');
    const shared = { 'X-Forwarded-For': '198.51.100.23' };
    const session = await login(app);
    // Someone else behind the same address spends its budget with cookies that are not theirs.
    const forged = forgedRefreshToken(sessionIdOfRefreshToken(session.refreshToken));
    for (let i = 0; i < 3; i++) await refresh(app, forged).set(shared);
    expect((await refresh(app, forged).set(shared)).status).toBe(429);

    const res = await postLogout(app).set(shared).set('Cookie', `${COOKIE}=${session.refreshToken}`);
    expect(res.status).toBe(204);
    for (const name of [COOKIE, PRESENCE_COOKIE]) expectCleared(res, name);
    await expectRefreshRejected(app, session.refreshToken);
    await expectAccessRejected(app, session.accessToken);
  });

  test.each([
    ['no cookie', undefined],
    ['a malformed cookie', `${COOKIE}=not-a-refresh-token`],
    ['a cookie with a forged MAC', `${COOKIE}=${'A'.repeat(22)}.0.${'B'.repeat(43)}.${'C'.repeat(22)}`],
    ['the cookie name twice', `${COOKIE}=one; ${COOKIE}=two`],
    ['only the presence cookie', `${PRESENCE_COOKIE}=1`],
  ])('with %s it answers 204 and clears both cookies', async (_label, cookie) => {
    const { app } = await redisApp();
    const res = cookie === undefined ? await postLogout(app) : await postLogout(app).set('Cookie', cookie);
    expect(res.status).toBe(204);
    for (const name of [COOKIE, PRESENCE_COOKIE]) expectCleared(res, name);
  });

  test('a cross-site request is refused before anything else: 403, no cookie touched, the family lives on', async () => {
    const { app } = await redisApp();
    const session = await login(app);
    const res = await request(app).post('/auth/logout').set('Cookie', `${COOKIE}=${session.refreshToken}`);
    expect(res.status).toBe(403);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((await refresh(app, session.refreshToken)).status).toBe(200);
  });

  test('a Cookie header carrying the cookie name twice ends no family: 204, our cookie cleared, the session lives on', async () => {
    const { app } = await redisApp();
    const { accessToken, refreshToken } = await login(app);
    const res = await request(app)
      .post('/auth/logout')
      .set('X-Requested-With', 'fetch')
      .set('Cookie', `${COOKIE}=${refreshToken}; ${COOKIE}=attacker-tossed-value`);
    expect(res.status).toBe(204);
    expect(refreshCookieOf(res)).toBe('');
    expect((await me(app, accessToken)).status).toBe(200);
    expect((await refresh(app, refreshToken)).status).toBe(200);
  });

  test('answers 204, revokes the family (refresh token 401, access token rejected) and clears the cookie', async () => {
    const { app } = await redisApp();
    const session = await login(app);
    expect((await me(app, session.accessToken)).status).toBe(200);
    const res = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${session.refreshToken}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expectCleared(res);

    await expectRefreshRejected(app, session.refreshToken);
    await expectAccessRejected(app, session.accessToken);
  });

  test('answers 204 without a cookie', async () => {
    const { app } = await redisApp();
    const res = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch');
    expect(res.status).toBe(204);
    expectCleared(res);
  });

  test('a forged cookie (a real session id, random secret) answers 204 and revokes nothing', async () => {
    const { app } = await redisApp();
    const victim = await login(app, 'bob');
    const res = await request(app)
      .post('/auth/logout')
      .set('X-Requested-With', 'fetch')
      .set('Cookie', `${COOKIE}=${forgedRefreshToken(sessionIdOfRefreshToken(victim.refreshToken))}`);
    expect(res.status).toBe(204);
    expect((await me(app, victim.accessToken)).status).toBe(200);
    expect((await refresh(app, victim.refreshToken)).status).toBe(200);
  });

  test('is idempotent: logging out twice with the same cookie answers 204 both times', async () => {
    const { app } = await redisApp();
    const session = await login(app);
    const other = await login(app);
    for (let i = 0; i < 2; i++) {
      const res = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${session.refreshToken}`);
      expect(res.status).toBe(204);
      expectCleared(res);
    }
    expect((await refresh(app, session.refreshToken)).status).toBe(401);
    // only the logged-out family ended
    expect((await me(app, other.accessToken)).status).toBe(200);
    expect((await refresh(app, other.refreshToken)).status).toBe(200);
  });
});

describe('POST /auth/logout-all', () => {
  test('answers 401 without an access token', async () => {
    const { app } = await redisApp();
    const session = await login(app);
    const res = await request(app).post('/auth/logout-all').set('Cookie', `${COOKIE}=${session.refreshToken}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
    expect((await refresh(app, session.refreshToken)).status).toBe(200);
  });

  test("revokes every session of the user (refresh and access tokens) but not another user's", async () => {
    const { app } = await redisApp();
    const laptop = await login(app, 'alice', 'laptop');
    const phone = await login(app, 'alice', 'phone');
    const bob = await login(app, 'bob');
    const res = await request(app).post('/auth/logout-all').set('Authorization', `Bearer ${laptop.accessToken}`);
    expect(res.status).toBe(204);
    expect(res.headers['cache-control']).toBe('no-store');

    for (const session of [laptop, phone]) {
      expect((await refresh(app, session.refreshToken)).status).toBe(401);
      const who = await me(app, session.accessToken);
      expect(who.status).toBe(401);
      expect(who.body).toEqual({ error: 'invalid_token' });
    }
    expect((await me(app, bob.accessToken)).status).toBe(200);
    expect((await refresh(app, bob.refreshToken)).status).toBe(200);
  });
});

describe('GET /auth/sessions', () => {
  test('answers 401 without an access token', async () => {
    const { app } = await redisApp();
    const res = await request(app).get('/auth/sessions');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
  });

  test("lists the caller's sessions with ISO times, device label, network, and current only for the caller's own", async () => {
    const { app } = await redisApp();
    const before = Date.now();
    const laptop = await login(app, 'alice', 'Laptop Firefox');
    const phone = await login(app, 'alice', 'Phone Safari');
    await login(app, 'bob', 'Bob Browser');
    const after = Date.now();

    const res = await request(app).get('/auth/sessions').set('Authorization', `Bearer ${phone.accessToken}`);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const sessions = res.body.sessions as Array<Record<string, unknown>>;
    expect(sessions).toHaveLength(2);
    const byId = new Map(sessions.map((session) => [session.id, session]));
    expect([...byId.keys()].sort()).toEqual([sidOf(laptop.accessToken), sidOf(phone.accessToken)].sort());

    const laptopEntry = byId.get(sidOf(laptop.accessToken)) as Record<string, unknown>;
    const phoneEntry = byId.get(sidOf(phone.accessToken)) as Record<string, unknown>;
    // Labels of the first product of a User-Agent no browser sends (the raw string is not kept); supertest's address is loopback.
    expect(laptopEntry).toMatchObject({ device: 'Laptop', userAgent: 'Laptop', current: false });
    expect(phoneEntry).toMatchObject({ device: 'Phone', userAgent: 'Phone', current: true });
    for (const entry of sessions) {
      expect(Object.keys(entry).sort()).toEqual(['bound', 'createdAt', 'current', 'device', 'expiresAt', 'id', 'lastUsedAt', 'network', 'userAgent']);
      expect(entry.network).toMatch(/^(127\.0\.0\.0\/24|::\/48)$/);
      expect(entry.bound).toBe(false); // signed in without a device key
      for (const field of ['createdAt', 'lastUsedAt', 'expiresAt']) {
        const text = entry[field] as string;
        expect(typeof text).toBe('string');
        expect(new Date(text).toISOString()).toBe(text);
      }
      const createdAt = Date.parse(entry.createdAt as string);
      expect(createdAt).toBeGreaterThanOrEqual(before);
      expect(createdAt).toBeLessThanOrEqual(after);
      expect(Date.parse(entry.lastUsedAt as string)).toBeGreaterThanOrEqual(createdAt);
      const lifetime = Date.parse(entry.expiresAt as string) - createdAt;
      expect(lifetime).toBeGreaterThan(IDLE_TTL_SECONDS * 1000 - 5000);
      expect(lifetime).toBeLessThanOrEqual(IDLE_TTL_SECONDS * 1000);
    }
  });

  test('a refresh moves lastUsedAt forward', async () => {
    const { app } = await redisApp();
    const session = await login(app);
    const list = async (token: string) =>
      ((await request(app).get('/auth/sessions').set('Authorization', `Bearer ${token}`)).body.sessions as Array<Record<string, string>>)[0];
    const before = await list(session.accessToken);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const rotated = await refresh(app, session.refreshToken);
    const after = await list(rotated.body.accessToken as string);
    expect(after?.createdAt).toBe(before?.createdAt);
    expect(Date.parse(after?.lastUsedAt as string)).toBeGreaterThan(Date.parse(before?.lastUsedAt as string));
  });
});

describe('DELETE /auth/sessions/:id', () => {
  test('answers 401 without an access token', async () => {
    const { app } = await redisApp();
    const session = await login(app);
    const res = await request(app).delete(`/auth/sessions/${sidOf(session.accessToken)}`);
    expect(res.status).toBe(401);
    expect((await refresh(app, session.refreshToken)).status).toBe(200);
  });

  test("answers 204 for the caller's own other session, which then stops working", async () => {
    const { app } = await redisApp();
    const current = await login(app, 'alice', 'current');
    const other = await login(app, 'alice', 'other');
    const res = await request(app)
      .delete(`/auth/sessions/${sidOf(other.accessToken)}`)
      .set('Authorization', `Bearer ${current.accessToken}`);
    expect(res.status).toBe(204);

    await expectRefreshRejected(app, other.refreshToken);
    await expectAccessRejected(app, other.accessToken);

    expect((await me(app, current.accessToken)).status).toBe(200);
    const listed = await request(app).get('/auth/sessions').set('Authorization', `Bearer ${current.accessToken}`);
    expect((listed.body.sessions as Array<{ id: string }>).map((s) => s.id)).toEqual([sidOf(current.accessToken)]);
    expect((await refresh(app, current.refreshToken)).status).toBe(200);
  });

  test("answers 404 {error: 'session_not_found'} for another user's session id, which keeps working", async () => {
    const { app } = await redisApp();
    const alice = await login(app, 'alice');
    const bob = await login(app, 'bob');
    const res = await request(app)
      .delete(`/auth/sessions/${sidOf(bob.accessToken)}`)
      .set('Authorization', `Bearer ${alice.accessToken}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'session_not_found' });
    expect((await me(app, bob.accessToken)).status).toBe(200);
    expect((await refresh(app, bob.refreshToken)).status).toBe(200);
  });

  test("answers 404 {error: 'session_not_found'} for an unknown id", async () => {
    const { app } = await redisApp();
    const alice = await login(app, 'alice');
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'no-such-session', '%7Bx%7D']) {
      const res = await request(app).delete(`/auth/sessions/${id}`).set('Authorization', `Bearer ${alice.accessToken}`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: 'session_not_found' });
    }
    expect((await me(app, alice.accessToken)).status).toBe(200);
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
