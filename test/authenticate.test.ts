// What the app's `authenticate` may return and throw at login: claims that fit a token, claim names, errors that mean "try later".
import { generateKeyPairSync } from 'node:crypto';
import type { Express } from 'express';
import createError from 'http-errors';
import request from 'supertest';
import { type AccessTokenOptions, type Auth, AuthError, type Authenticate, type AuthenticateResult, createAuth, ErrorCodes } from '../lib';
import { MAX_AUTHORIZATION_LENGTH } from '../lib/http/require-auth';
import { authOptions, closeAll, me, memoryStore, recordingApp, testApp } from './support/harness';

afterAll(closeAll);

const auths: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(auths.splice(0).map((auth) => auth.close()));
});

/** The widest proof of identity a token can carry: 8 method names of 32 characters, a 128-character class. */
const WIDEST_PROOF = { amr: Array.from({ length: 8 }, (_, index) => `${index}`.padEnd(32, 'm')), acr: 'a'.repeat(128) };

/** An app whose `authenticate` answers with `run(req)` (and whose `reauthenticate` with {@link WIDEST_PROOF}) (throttling off: these tests log in many times), recording what reached its error handler. */
function appWith(
  run: Authenticate,
  accessToken?: AccessTokenOptions,
): { app: Express; errors: unknown[]; listSessions(userId: string): Promise<unknown[]>; auth: Auth } {
  const auth = createAuth(
    authOptions(memoryStore(), { authenticate: run, reauthenticate: () => WIDEST_PROOF, rateLimit: false, ...(accessToken ? { accessToken } : {}) }),
  );
  auths.push(auth);
  return { ...recordingApp(auth), listSessions: (userId) => auth.listSessions(userId), auth };
}

function postLogin(app: Express): request.Test {
  return request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'alice-password' });
}

/** POST /auth/login with `username` and `password`. */
function postLoginAs(app: Express, username: string, password: string): request.Test {
  return request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username, password });
}

/** The login answered 500 `server_error`, set no cookie and said nothing of why; the app's handler got the TypeError saying why, with its code. */
function expectRefusedResult(res: request.Response, errors: unknown[], why: RegExp): TypeError {
  expect(res.status).toBe(500);
  expect(res.body).toEqual({ error: 'server_error' });
  expect(res.headers['set-cookie']).toBeUndefined();
  const error = errors.at(-1);
  expect(error).toBeInstanceOf(AuthError);
  const cause = (error as AuthError).cause as TypeError & { code?: unknown };
  expect(cause).toBeInstanceOf(TypeError);
  expect(cause.code).toBe(ErrorCodes.ERR_INVALID_AUTHENTICATE_RESULT);
  expect(cause.message).toMatch(why);
  expect(res.text).not.toContain(cause.message);
  return cause;
}

describe('claims too large for the Authorization header', () => {
  const withClaimOf =
    (characters: number): Authenticate =>
    () => ({ userId: 'user-alice', claims: { role: 'admin', blob: 'x'.repeat(characters) }, ...WIDEST_PROOF });

  test('are refused at login (500 server_error, no session, no cookie), rather than making a session whose every call is 400', async () => {
    const { app, errors, listSessions } = appWith(withClaimOf(7000));
    const res = await postLogin(app);
    const cause = expectRefusedResult(res, errors, /too large for an access token/);
    expect(cause.message).toContain(String(MAX_AUTHORIZATION_LENGTH));
    expect(cause.message).not.toContain('xxxx'); // the claims' values are not in the message
    expect(await listSessions('user-alice')).toEqual([]);
  });

  test.each<[string, AccessTokenOptions | undefined]>([
    ['HS256', undefined],
    ['RS256 with a 4096-bit key', { algorithm: 'RS256', privateKey: generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey }],
    ['EdDSA', { algorithm: 'EdDSA', privateKey: generateKeyPairSync('ed25519').privateKey, issuer: 'https://issuer.example', audience: 'api' }],
  ])('%s: the largest claims a login accepts make a token requireAuth accepts, and one character more is refused', async (_name, accessToken) => {
    // Found by bisection over the claim's length: login answers 200 up to some length, 500 after it.
    let fits = 0;
    let tooLarge = 8192;
    const { app: probe, auth } = appWith((req) => withClaimOf((req.body as { size: number }).size)(req) as AuthenticateResult, accessToken);
    const loginWith = (size: number) => request(probe).post('/auth/login').set('X-Requested-With', 'fetch').send({ size });
    while (tooLarge - fits > 1) {
      const middle = Math.floor((fits + tooLarge) / 2);
      const status = (await loginWith(middle)).status;
      expect([200, 500]).toContain(status);
      if (status === 200) fits = middle;
      else tooLarge = middle;
    }
    const largest = await loginWith(fits);
    const loginToken = largest.body.accessToken as string;
    expect(`Bearer ${loginToken}`.length).toBeLessThanOrEqual(MAX_AUTHORIZATION_LENGTH);
    // The budget keeps room for `claims_time`, which the session's tokens carry once auth.updateClaims
    // has changed its claims, and `reauth_time`, which they carry after a step-up: its refresh after
    // both (with the same claims, and the widest proof) makes the longest token.
    const claims = (await auth.listSessions('user-alice')).at(-1)?.claims as Record<string, unknown>; // the newest: the largest login's
    await auth.updateClaims('user-alice', claims);
    const stepUp = await request(probe).post('/auth/reauth').set('X-Requested-With', 'fetch').set('Authorization', `Bearer ${loginToken}`).send({});
    expect(stepUp.status).toBe(200);
    const cookie = (largest.headers['set-cookie'] as unknown as string[]).find((line) => line.startsWith('__Host-refresh='))?.split(';')[0] as string;
    const refreshed = await request(probe).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', cookie);
    const token = refreshed.body.accessToken as string;
    expect(token.length).toBeGreaterThan(loginToken.length);
    expect(`Bearer ${token}`.length).toBeLessThanOrEqual(MAX_AUTHORIZATION_LENGTH);
    // Within a few characters of the limit: the check measures the token, not a rough budget.
    expect(`Bearer ${token}`.length).toBeGreaterThan(MAX_AUTHORIZATION_LENGTH - 8);
    const who = await me(probe, token);
    expect(who.status).toBe(200);
    expect((who.body.claims as { blob: string }).blob).toHaveLength(fits);
    expect((await loginWith(fits + 1)).status).toBe(500);
  });
});

describe('claim names', () => {
  test.each(['__proto__', 'constructor', 'prototype'])(
    'a claim named %s is refused at login: a client building claims by assignment would take it as a prototype',
    async (name) => {
      // As JSON.parse makes it (an own property named __proto__), the way claims read from a database arrive.
      const claims = JSON.parse(`{"role":"reader","${name}":{"isAdmin":true}}`) as Record<string, unknown>;
      expect(Object.keys(claims)).toContain(name);
      const { app, errors, listSessions } = appWith(() => ({ userId: 'user-alice', claims }));
      const cause = expectRefusedResult(await postLogin(app), errors, new RegExp(`claim names? .*${name}`));
      expect(cause.message).toMatch(/Rename/);
      expect(await listSessions('user-alice')).toEqual([]);
    },
  );

  test('a reserved claim name is refused the same way, with the same code', async () => {
    const { app, errors } = appWith(() => ({ userId: 'user-alice', claims: { sub: 'someone-else', role: 'admin' } }));
    expectRefusedResult(await postLogin(app), errors, /reserved claim names \(sub\)/);
  });

  test('a userId that is not a non-empty string is refused with the same code', async () => {
    const { app, errors } = appWith(() => ({ userId: 42 }) as unknown as AuthenticateResult);
    expectRefusedResult(await postLogin(app), errors, /authenticate must return \{ userId: string/);
  });
});

describe('authenticate throwing', () => {
  test('a 503 (http-errors, or any error with status 503) answers 503 temporarily_unavailable with Retry-After, no cookie', async () => {
    const thrown: unknown[] = [
      createError(503, 'user database unreachable'),
      Object.assign(new Error('LDAP is down for maintenance'), { status: 503 }),
      Object.assign(new Error('pool exhausted'), { statusCode: 503 }),
    ];
    for (const error of thrown) {
      const { app, errors } = appWith(() => {
        throw error;
      });
      const res = await postLogin(app);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: 'temporarily_unavailable' });
      expect(res.headers['retry-after']).toBe('5');
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.text).not.toMatch(/unreachable|maintenance|exhausted/);
      // The app's logs get what it threw, as the cause.
      expect((errors.at(-1) as AuthError).cause).toBe(error);
    }
  });

  test("a 503 carrying its own Retry-After in seconds keeps it; one that is not a number of seconds gets the library's", async () => {
    for (const [given, answered] of [
      ['30', '30'],
      [120, '120'],
      ['Wed, 21 Oct 2099 07:28:00 GMT', '5'],
      ['soon', '5'],
      ['-1', '5'],
    ] as const) {
      const { app } = appWith(() => {
        throw createError(503, 'busy', { headers: { 'Retry-After': given } });
      });
      const res = await postLogin(app);
      expect({ given, status: res.status, retryAfter: res.headers['retry-after'] }).toEqual({ given, status: 503, retryAfter: answered });
    }
  });

  test('other server statuses (500, 502, 504) stay 500 server_error; an AuthError passes as it is', async () => {
    for (const status of [500, 502, 504]) {
      const { app } = appWith(() => {
        throw createError(status, 'upstream trouble');
      });
      const res = await postLogin(app);
      expect({ status, answered: res.status, body: res.body }).toEqual({ status, answered: 500, body: { error: 'server_error' } });
    }
    const { app } = appWith(() => {
      throw new AuthError('too_many_requests', 429, 'slow down', { headers: { 'Retry-After': '60' } });
    });
    const res = await postLogin(app);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('60');
  });
});

// SPEC §4: "`authenticate` returning `null` and `authenticate` throwing a not-found error give the same
// 401"; README names `NotFoundError` too.
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
      const res = await postLoginAs(app, username, 'x');
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
