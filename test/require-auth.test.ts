// requireAuth() and the programmatic API: RFC 6750 answers, token checks, error handling, revocation and events.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { type Auth, AuthError, type AuthEventMap, type AuthOptions, createAuth, RedisStore, type RequireAuthOptions } from '../lib';
import { ACCESS_SECRET, authOptions, buildApp, COOKIE, closeAll, login, memoryStore, redisClient, redisStore, refresh, testApp } from './support/harness';
import { accessClaims, handmadeToken, nowSeconds, sidOf, signHs256 } from './support/tokens';

afterAll(closeAll);

const INVALID_CHALLENGE = 'Bearer realm="api", error="invalid_token"';

async function redisApp(overrides: Partial<AuthOptions> = {}) {
  const { store } = await redisStore();
  return testApp(store, overrides);
}

function me(app: Express, authorization?: string): request.Test {
  const req = request(app).get('/api/me');
  return authorization === undefined ? req : req.set('Authorization', authorization);
}

async function expectInvalidToken(app: Express, token: string, path = '/api/me', realm = 'api'): Promise<void> {
  const res = await request(app).get(path).set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe(`Bearer realm="${realm}", error="invalid_token"`);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({ error: 'invalid_token' });
}

describe('requireAuth: no token', () => {
  let app: Express;
  beforeAll(async () => {
    app = (await redisApp()).app;
  });

  test('no Authorization header answers 401 with WWW-Authenticate: Bearer realm="api" and no error parameter', async () => {
    const res = await me(app);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
    expect(res.headers['www-authenticate']).not.toMatch(/error=/);
    expect(res.body).toEqual({ error: 'invalid_token' });
  });

  test('another auth scheme counts as no bearer token', async () => {
    const res = await me(app, 'Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
  });
});

describe('requireAuth: bad tokens answer 401 invalid_token (RFC 6750)', () => {
  let app: Express;
  let valid: string;
  beforeAll(async () => {
    app = (await redisApp()).app;
    valid = (await login(app)).accessToken;
  });

  test('a crafted token with every required claim, typ at+jwt and the right key is accepted (control)', async () => {
    const res = await me(app, `Bearer ${signHs256(accessClaims())}`);
    expect(res.status).toBe(200);
    expect(res.body.userId).toBe('user-crafted');
  });

  test.each([
    ['garbage', 'garbage'],
    ['three garbage segments', 'a.b.c'],
  ])('%s', async (_name, token) => {
    await expectInvalidToken(app, token);
  });

  test('an empty bearer value is a malformed request: 400 invalid_request (RFC 6750 §3.1)', async () => {
    const res = await me(app, 'Bearer ');
    expect(res.status).toBe(400);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_request"');
    expect(res.body).toEqual({ error: 'invalid_request', message: 'The Authorization header must be `Bearer <token>`' });
  });

  test('a valid token with one character of its signature changed', async () => {
    const last = valid.slice(-1);
    await expectInvalidToken(app, `${valid.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`);
  });

  test('a token signed with another secret', async () => {
    await expectInvalidToken(app, signHs256(accessClaims(), { secret: randomBytes(32).toString('base64url') }));
  });

  test('an expired token (exp in the past, typ at+jwt, the right key)', async () => {
    const iat = nowSeconds() - 3600;
    await expectInvalidToken(app, signHs256(accessClaims({ iat, exp: iat + 600 })));
  });

  test('a token whose typ is JWT, or that has no typ', async () => {
    await expectInvalidToken(app, signHs256(accessClaims(), { typ: 'JWT' }));
    await expectInvalidToken(app, signHs256(accessClaims(), { typ: null }));
  });

  test('a token with alg none (with and without a signature)', async () => {
    await expectInvalidToken(app, handmadeToken({ alg: 'none', typ: 'at+jwt' }, accessClaims(), null));
    await expectInvalidToken(app, handmadeToken({ alg: 'none', typ: 'at+jwt' }, accessClaims(), ACCESS_SECRET));
  });

  test.each(['sid', 'sub', 'exp', 'jti', 'iat'])('a token missing %s', async (claim) => {
    // handmade, because jsonwebtoken would add iat by itself
    const header = { alg: 'HS256', typ: 'at+jwt' };
    expect((await me(app, `Bearer ${handmadeToken(header, accessClaims(), ACCESS_SECRET)}`)).status).toBe(200);
    await expectInvalidToken(app, handmadeToken(header, accessClaims({ [claim]: undefined }), ACCESS_SECRET));
  });

  test('a token with an empty sid', async () => {
    await expectInvalidToken(app, signHs256(accessClaims({ sid: '' })));
  });

  test('a refresh-looking value in the Authorization header', async () => {
    await expectInvalidToken(app, `${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`);
  });
});

describe('requireAuth: algorithm confusion with RS256', () => {
  let app: Express;
  let publicPem: string;
  beforeAll(async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    app = (await redisApp({ accessToken: { algorithm: 'RS256', privateKey: privatePem, ttl: '10m' } })).app;
  });

  test('a token the app issued (RS256) is accepted (control)', async () => {
    const { accessToken } = await login(app);
    expect(JSON.parse(Buffer.from(accessToken.split('.')[0] as string, 'base64url').toString())).toEqual({
      alg: 'RS256',
      typ: 'at+jwt',
      kid: expect.any(String),
    });
    expect((await me(app, `Bearer ${accessToken}`)).status).toBe(200);
  });

  test('an HS256 token HMAC-signed with the PEM public key is rejected', async () => {
    await expectInvalidToken(app, handmadeToken({ alg: 'HS256', typ: 'at+jwt' }, accessClaims(), publicPem));
    await expectInvalidToken(app, handmadeToken({ alg: 'HS256', typ: 'at+jwt' }, accessClaims(), publicPem.trim()));
  });
});

/**
 * An app with the router and `GET /api/me`: `before` (an app's own middleware, run first), then
 * `requireAuth()`, then `handler`.
 */
function aroundRequireAuth(auth: Auth, before: (req: Request) => void, handler: (req: Request, res: Response) => void): Express {
  const app = express();
  app.use('/auth', auth.router);
  app.get(
    '/api/me',
    (req: Request, _res: Response, next: NextFunction) => {
      before(req);
      next();
    },
    auth.requireAuth(),
    handler,
  );
  return app;
}

describe('requireAuth: a valid token', () => {
  test('sets req.auth to {userId, sessionId, claims: {role}, payload with sub, sid, jti, iat, exp, auth_time}', async () => {
    const { app, auth } = await redisApp();
    const { accessToken } = await login(app);
    const [session] = await auth.listSessions('user-alice');
    const res = await me(app, `Bearer ${accessToken}`);
    expect(res.status).toBe(200);
    const sid = sidOf(accessToken);
    expect(res.body).toEqual({
      userId: 'user-alice',
      sessionId: sid,
      claims: { role: 'admin' },
      payload: {
        role: 'admin',
        sub: 'user-alice',
        sid,
        jti: expect.any(String),
        iat: expect.any(Number),
        exp: expect.any(Number),
        auth_time: (session?.createdAt as number) / 1000, // when the login began, in seconds with ms fractions
      },
    });
    expect(res.body.payload.exp - res.body.payload.iat).toBe(600);
    expect(Math.abs(res.body.payload.iat - nowSeconds())).toBeLessThanOrEqual(5);
  });

  test("req.auth is an ordinary own property: it replaces one set earlier and leaves the request's other properties as they were, in their order", async () => {
    const before: { keys?: string[] } = {};
    const app = aroundRequireAuth(
      (await redisApp()).auth,
      (req) => {
        (req as unknown as Record<string, unknown>).auth = { stale: true };
        (req as unknown as Record<string, unknown>).custom = 'kept';
        before.keys = Reflect.ownKeys(req).map(String); // names and symbols, in order
      },
      (req, res) => {
        const descriptor = Object.getOwnPropertyDescriptor(req, 'auth');
        const shape = { writable: descriptor?.writable, enumerable: descriptor?.enumerable, configurable: descriptor?.configurable };
        const keys = Reflect.ownKeys(req).map(String);
        const userId = req.auth?.userId;
        delete req.auth; // the app may still remove or replace it
        res.json({ shape, keys, userId, custom: (req as unknown as Record<string, unknown>).custom, removed: !('auth' in req) });
      },
    );
    const { accessToken } = await login(app);
    const res = await me(app, `Bearer ${accessToken}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      shape: { writable: true, enumerable: true, configurable: true },
      keys: before.keys,
      userId: 'user-alice',
      custom: 'kept',
      removed: true,
    });
    expect(before.keys).toContain('auth');
  });

  test('an app that defined req.auth as a non-configurable property still gets it set, not a 500', async () => {
    const app = aroundRequireAuth(
      (await redisApp()).auth,
      (req) => Object.defineProperty(req, 'auth', { value: undefined, writable: true, enumerable: true, configurable: false }),
      (req, res) => res.json({ userId: req.auth?.userId }),
    );
    const { accessToken } = await login(app);
    const res = await me(app, `Bearer ${accessToken}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ userId: 'user-alice' });
  });

  test('a request object that refuses new properties (a frozen mock, a Proxy that throws) is still judged, not thrown on', async () => {
    const { auth } = testApp();
    const app = express(); // for the refusal's fallback error handler, as req.app
    const outcomes: unknown[] = [];
    const capture = (error?: unknown) => outcomes.push(error === undefined ? 'next()' : (error as AuthError).status);
    const refusing = new Proxy(
      { headers: {}, url: '/', app },
      {
        set: () => {
          throw new Error('no writes');
        },
      },
    );
    for (const req of [Object.freeze({ headers: {}, url: '/', app }), Object.seal({ headers: {}, url: '/', app }), refusing]) {
      auth.requireAuth({ optional: true })(req as unknown as Request, {} as Response, capture);
      auth.requireAuth()(req as unknown as Request, {} as Response, capture);
    }
    expect(outcomes).toEqual(['next()', 401, 'next()', 401, 'next()', 401]);
  });

  test('the scheme is case-insensitive', async () => {
    const { app } = await redisApp();
    const { accessToken } = await login(app);
    expect((await me(app, `bearer ${accessToken}`)).status).toBe(200);
  });
});

describe('requireAuth({ optional: true })', () => {
  let app: Express;
  beforeAll(async () => {
    app = (await redisApp()).app;
  });

  test('lets an anonymous request through with no req.auth', async () => {
    const res = await request(app).get('/api/maybe');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ auth: null });
  });

  test('sets req.auth for a valid token', async () => {
    const { accessToken } = await login(app);
    const res = await request(app).get('/api/maybe').set('Authorization', `Bearer ${accessToken}`);
    expect(res.status).toBe(200);
    expect(res.body.auth).toMatchObject({ userId: 'user-alice', sessionId: sidOf(accessToken) });
  });

  test('lets a request with another auth scheme through as anonymous, with no req.auth', async () => {
    const res = await request(app).get('/api/maybe').set('Authorization', 'Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ auth: null });
  });

  test('still rejects a revoked token', async () => {
    const { app: revocable, auth } = await redisApp();
    const { accessToken } = await login(revocable);
    expect((await request(revocable).get('/api/maybe').set('Authorization', `Bearer ${accessToken}`)).status).toBe(200);
    await auth.revokeSession(sidOf(accessToken));
    await expectInvalidToken(revocable, accessToken, '/api/maybe');
  });

  test('still rejects a bad token', async () => {
    await expectInvalidToken(app, 'garbage', '/api/maybe');
    await expectInvalidToken(app, signHs256(accessClaims(), { secret: randomBytes(32).toString('base64url') }), '/api/maybe');
  });
});

describe('requireAuth with issuer and audience configured', () => {
  const issuer = 'https://issuer.test';
  const audience = 'api.test';
  let app: Express;
  beforeAll(async () => {
    app = (await redisApp({ accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: '10m', issuer, audience } })).app;
  });

  test('tokens the app issues carry iss and aud and are accepted', async () => {
    const { accessToken } = await login(app);
    const res = await me(app, `Bearer ${accessToken}`);
    expect(res.status).toBe(200);
    expect(res.body.payload).toMatchObject({ iss: issuer, aud: audience });
    expect((await me(app, `Bearer ${signHs256(accessClaims({ iss: issuer, aud: audience }))}`)).status).toBe(200);
  });

  test.each([
    ['without iss and aud', {}],
    ['without iss', { aud: audience }],
    ['without aud', { iss: issuer }],
    ['with another iss', { iss: 'https://evil.test', aud: audience }],
    ['with another aud', { iss: issuer, aud: 'other-api' }],
  ])('a token %s is rejected', async (_name, extra) => {
    await expectInvalidToken(app, signHs256(accessClaims(extra)));
  });

  test('a token from an app without issuer/audience is rejected', async () => {
    const { app: plainApp } = await redisApp();
    const { accessToken } = await login(plainApp);
    await expectInvalidToken(app, accessToken);
  });
});

describe('requireAuth options and realm', () => {
  test('a custom realm appears in both challenges', async () => {
    const { app } = await redisApp({ realm: 'my-app' });
    const anonymous = await me(app);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="my-app"');
    await expectInvalidToken(app, 'garbage', '/api/me', 'my-app');
  });

  test('requireAuth({ bogus: true }) throws a TypeError naming the option', async () => {
    const { auth } = await redisApp();
    expect(() => auth.requireAuth({ bogus: true } as unknown as RequireAuthOptions)).toThrow(TypeError);
    expect(() => auth.requireAuth({ bogus: true } as unknown as RequireAuthOptions)).toThrow(/bogus/);
    expect(() => auth.requireAuth({ optional: 'yes' } as unknown as RequireAuthOptions)).toThrow(TypeError);
  });
});

describe("requireAuth errors and the app's error handling", () => {
  test('an app with its own error handler receives the AuthError and answers its own way', async () => {
    const { store } = await redisStore();
    const auth = createAuth(authOptions(store));
    const seen: unknown[] = [];
    const app = express();
    app.use('/auth', auth.router);
    app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
    app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
      seen.push(error);
      if (!(error instanceof AuthError)) return next(error);
      res
        .status(error.status)
        .type('text/plain')
        .send(`custom ${error.code} ${error.status} ${String(error.expose)}`);
    });

    const res = await me(app, 'Bearer garbage');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toBe('custom invalid_token 401 true');
    expect(seen).toHaveLength(1);
    const error = seen[0] as AuthError;
    expect(error).toBeInstanceOf(AuthError);
    expect(error.code).toBe('invalid_token');
    expect(error.status).toBe(401);
    expect(error.expose).toBe(true);
    expect(error.headers['WWW-Authenticate']).toBe(INVALID_CHALLENGE);

    // router failures reach the same handler
    const bad = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'nope' });
    expect(bad.text).toBe('custom invalid_credentials 401 true');
    expect(seen).toHaveLength(2);
  });

  test('an error handler of the parent app receives the AuthError when the library is used inside a mounted sub-app', async () => {
    const { store } = await redisStore();
    const auth = createAuth(authOptions(store));
    const api = express();
    api.use('/auth', auth.router);
    api.get('/me', auth.requireAuth(), (req, res) => res.json(req.auth));
    const app = express();
    app.use('/v1', api);
    const seen: unknown[] = [];
    app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
      seen.push(error);
      if (!(error instanceof AuthError)) return next(error);
      res.status(error.status).type('text/plain').send(`parent ${error.code}`);
    });

    const res = await request(app).get('/v1/me').set('Authorization', 'Bearer garbage');
    expect(res.status).toBe(401);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(AuthError);
    expect(res.text).toBe('parent invalid_token');
    const bad = await request(app).post('/v1/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'nope' });
    expect(bad.text).toBe('parent invalid_credentials');
  });

  test('with no error handler of the app, failures are answered as JSON, never HTML or a stack trace', async () => {
    const { store } = await redisStore();
    const app = buildApp(
      createAuth(
        authOptions(store, {
          authenticate: () => {
            throw new Error('kaboom in the user database');
          },
        }),
      ),
    );
    const answers = [
      await me(app),
      await me(app, 'Bearer garbage'),
      await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'x' }),
      await request(app).post('/auth/login').set('X-Requested-With', 'fetch').set('Content-Type', 'application/json').send('{oops'),
      await request(app).post('/auth/refresh'),
    ];
    expect(answers.map((res) => res.status)).toEqual([401, 401, 500, 400, 403]);
    for (const res of answers) {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.text).not.toMatch(/<html|<!DOCTYPE|<pre>/i);
      expect(res.text).not.toMatch(/kaboom|\bat [^\s]+ \(|node_modules|Error:/);
      // `message` only where the call itself was wrong (the 400 and the 403), in the library's words.
      expect(Object.keys(res.body)).toEqual(res.status === 400 || res.status === 403 ? ['error', 'message'] : ['error']);
    }
  });
});

describe('revocation reaches requireAuth', () => {
  test('after auth.revokeSession(sid) the access token of that session is rejected, others are not', async () => {
    const { app, auth } = await redisApp();
    const one = await login(app);
    const two = await login(app);
    expect((await me(app, `Bearer ${one.accessToken}`)).status).toBe(200);
    await expect(auth.revokeSession(sidOf(one.accessToken))).resolves.toBe(true);
    await expectInvalidToken(app, one.accessToken);
    expect((await refresh(app, one.refreshToken)).status).toBe(401);
    expect((await me(app, `Bearer ${two.accessToken}`)).status).toBe(200);
    await expect(auth.revokeSession('AAAAAAAAAAAAAAAAAAAAAA')).resolves.toBe(false);
  });

  test('a revocation through one instance is enforced by another instance sharing the store', async () => {
    const { client, prefix } = await redisStore();
    const other = await redisClient();
    const one = createAuth(authOptions(new RedisStore({ client, prefix })));
    const two = createAuth(authOptions(new RedisStore({ client: other, prefix })));
    const appOne = buildApp(one);
    const appTwo = buildApp(two);
    const session = await login(appOne);
    expect((await me(appTwo, `Bearer ${session.accessToken}`)).status).toBe(200);
    await one.revokeSession(sidOf(session.accessToken));
    await expectInvalidToken(appTwo, session.accessToken);
    expect((await refresh(appTwo, session.refreshToken)).status).toBe(401);
  });

  test("auth.revokeUser(userId) rejects all that user's access tokens and returns the ended session ids", async () => {
    const { app, auth } = await redisApp();
    const a1 = await login(app, 'alice');
    const a2 = await login(app, 'alice');
    const bob = await login(app, 'bob');
    const ended = await auth.revokeUser('user-alice');
    expect([...ended].sort()).toEqual([sidOf(a1.accessToken), sidOf(a2.accessToken)].sort());
    await expectInvalidToken(app, a1.accessToken);
    await expectInvalidToken(app, a2.accessToken);
    expect((await refresh(app, a1.refreshToken)).status).toBe(401);
    expect((await refresh(app, a2.refreshToken)).status).toBe(401);
    expect((await me(app, `Bearer ${bob.accessToken}`)).status).toBe(200);
    await expect(auth.revokeUser('user-alice')).resolves.toEqual([]);
  });

  test('auth.listSessions(userId) lists the live sessions, oldest first', async () => {
    const { app, auth } = await redisApp();
    const first = await login(app, 'alice', 'first-agent');
    const second = await login(app, 'alice', 'second-agent');
    await login(app, 'bob');
    const sessions = await auth.listSessions('user-alice');
    expect(sessions.map((s) => s.sessionId)).toEqual([sidOf(first.accessToken), sidOf(second.accessToken)]);
    expect(sessions[0]).toMatchObject({ userId: 'user-alice', userAgent: 'first-agent', claims: { role: 'admin' } });
    for (const s of sessions) {
      expect(s.createdAt).toBeLessThanOrEqual(s.lastUsedAt);
      expect(s.expiresAt).toBeGreaterThan(Date.now());
      expect(s.absoluteExpiresAt).toBeGreaterThanOrEqual(s.expiresAt);
    }
    await auth.revokeSession(sidOf(first.accessToken));
    expect((await auth.listSessions('user-alice')).map((s) => s.sessionId)).toEqual([sidOf(second.accessToken)]);
    await expect(auth.listSessions('nobody')).resolves.toEqual([]);
  });
});

describe('events', () => {
  type Recorded = { [K in keyof AuthEventMap]?: AuthEventMap[K][0][] };

  function record(auth: Auth): Recorded {
    const recorded: Recorded = {};
    const names: (keyof AuthEventMap)[] = ['login', 'refresh', 'reuse_detected', 'logout', 'session_revoked', 'user_revoked', 'store_error'];
    for (const name of names) {
      (auth.events as unknown as EventEmitter).on(name, (payload: unknown) => {
        ((recorded[name] ??= []) as unknown[]).push(payload);
      });
    }
    return recorded;
  }

  const ip = expect.stringContaining('127.0.0.1');

  test('login, refresh and logout carry {userId, sessionId, ip, userAgent}; refresh says whether it was a retry, logout whether it was deferred', async () => {
    const { app, auth } = await redisApp();
    const recorded = record(auth);
    const session = await login(app, 'alice', 'agent-login');
    const sid = sidOf(session.accessToken);
    expect(recorded.login).toEqual([{ userId: 'user-alice', sessionId: sid, ip, userAgent: 'agent-login' }]);

    const rotated = await refresh(app, session.refreshToken).set('User-Agent', 'agent-refresh');
    await refresh(app, session.refreshToken).set('User-Agent', 'agent-refresh'); // the same client retries
    expect(recorded.refresh).toEqual([
      { userId: 'user-alice', sessionId: sid, ip, userAgent: 'agent-refresh', retried: false },
      { userId: 'user-alice', sessionId: sid, ip, userAgent: 'agent-refresh', retried: true },
    ]);

    const successor = rotated.headers['set-cookie'] as unknown as string[];
    const cookie = (successor.find((line) => line.startsWith(`${COOKIE}=`)) as string).split(';')[0] as string;
    const out = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('User-Agent', 'agent-logout').set('Cookie', cookie);
    expect(out.status).toBe(204);
    expect(recorded.logout).toEqual([{ userId: 'user-alice', sessionId: sid, ip, userAgent: 'agent-logout', deferred: false }]);
    expect(recorded.reuse_detected).toBeUndefined();
    expect(recorded.store_error).toBeUndefined();
  });

  test('session_revoked says why: api, user_request or new_login', async () => {
    const { app, auth } = await redisApp();
    const recorded = record(auth);
    const a = await login(app, 'alice');
    const b = await login(app, 'alice');
    const c = await login(app, 'alice');

    await auth.revokeSession(sidOf(a.accessToken));
    const del = await request(app)
      .delete(`/auth/sessions/${sidOf(b.accessToken)}`)
      .set('Authorization', `Bearer ${c.accessToken}`);
    expect(del.status).toBe(204);
    const relogin = await request(app)
      .post('/auth/login')
      .set('X-Requested-With', 'fetch')
      .set('Cookie', `${COOKIE}=${c.refreshToken}`)
      .send({ username: 'alice', password: 'alice-password' });
    expect(relogin.status).toBe(200);

    expect(recorded.session_revoked).toEqual([
      { userId: 'user-alice', sessionId: sidOf(a.accessToken), reason: 'api' },
      { userId: 'user-alice', sessionId: sidOf(b.accessToken), reason: 'user_request' },
      { userId: 'user-alice', sessionId: sidOf(c.accessToken), reason: 'new_login' },
    ]);
    // revoking a session that no longer exists emits nothing
    await auth.revokeSession(sidOf(a.accessToken));
    expect(recorded.session_revoked).toHaveLength(3);
  });

  test('user_revoked carries {userId, sessionIds, reason} from auth.revokeUser and POST /logout-all', async () => {
    const { app, auth } = await redisApp();
    const recorded = record(auth);
    const a = await login(app, 'alice');
    const b = await login(app, 'alice');
    const ended = await auth.revokeUser('user-alice');
    expect(recorded.user_revoked).toEqual([{ userId: 'user-alice', sessionIds: ended, reason: 'api' }]);
    expect([...ended].sort()).toEqual([sidOf(a.accessToken), sidOf(b.accessToken)].sort());

    const bob = await login(app, 'bob');
    const res = await request(app).post('/auth/logout-all').set('Authorization', `Bearer ${bob.accessToken}`);
    expect(res.status).toBe(204);
    expect(recorded.user_revoked?.[1]).toEqual({ userId: 'user-bob', sessionIds: [sidOf(bob.accessToken)], reason: 'logout_all' });
  });

  test('revokeUser ends a login made just before it, and resolves only once the next login is sure to stand', async () => {
    // Times are the store's clock (Redis TIME for RedisStore): back-to-back logins and revocations often
    // share a millisecond, which the mark (one past the store's reading) and revokeUser's wait settle.
    for (const store of ['MemoryStore', 'RedisStore'] as const) {
      const { app, auth } = store === 'MemoryStore' ? testApp(undefined, { rateLimit: false }) : await redisApp({ rateLimit: false });
      await auth.ready();
      for (let round = 0; round < 15; round++) {
        const before = await login(app, 'alice');
        expect(await auth.revokeUser('user-alice')).toEqual([sidOf(before.accessToken)]);
        expect((await me(app, `Bearer ${before.accessToken}`)).status).toBe(401);
        expect((await refresh(app, before.refreshToken)).status).toBe(401);
        const next = await login(app, 'alice');
        expect((await me(app, `Bearer ${next.accessToken}`)).status).toBe(200);
        await auth.revokeUser('user-alice');
      }
    }
  });
});

describe('access tokens are JWTs the app can read', () => {
  test('header {alg: HS256, typ: at+jwt}; verifiable with the configured secret', () => {
    // a sanity check of the helper the other tests rely on: library-issued and crafted tokens have the same shape
    const crafted = signHs256(accessClaims());
    const decoded = jwt.verify(crafted, ACCESS_SECRET, { algorithms: ['HS256'], complete: true });
    expect(decoded.header).toEqual({ alg: 'HS256', typ: 'at+jwt' });
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
      expect((await me(app, `Bearer ${first.accessToken}`)).status).toBe(200);
      expect((await me(app, `Bearer ${rotated.body.accessToken as string}`)).status).toBe(200);
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
