// requireAuth's cache of verified tokens: it saves the verify, never a check; and a 401 says why as its cause.
import express from 'express';
import jsonwebtoken from 'jsonwebtoken';
import request from 'supertest';
import { type Auth, type AuthError, createAuth, type SessionStore } from '../lib';
import { VerifiedTokenCache } from '../lib/verified-token-cache';
import { ACCESS_SECRET, authOptions, closeClients, closeMemoryStores, lastRefusal, login, me, memoryStore, recordingApp, redisStore } from './support/harness';
import { sidOf } from './support/tokens';

const auths: Auth[] = [];
afterAll(async () => {
  await Promise.all(auths.map((auth) => auth.close()));
  await closeClients();
  await closeMemoryStores();
});

function newAuth(overrides: Parameters<typeof authOptions>[1] = {}, store: SessionStore = memoryStore()): Auth {
  const auth = createAuth(authOptions(store, overrides));
  auths.push(auth);
  return auth;
}

describe('verified tokens are remembered, but only verification is skipped', () => {
  test('a token sent again is not verified again, and a different token string always is', async () => {
    const { app } = recordingApp(newAuth());
    const { accessToken } = await login(app);
    const verify = jest.spyOn(jsonwebtoken, 'verify');
    try {
      for (let i = 0; i < 5; i += 1) expect((await me(app, accessToken)).status).toBe(200);
      expect(verify).toHaveBeenCalledTimes(1);
      // The same claims under a changed signature are a different key in the cache: verified, refused.
      const [head, body, signature] = accessToken.split('.') as [string, string, string];
      const flipped = `${head}.${body}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
      expect((await me(app, flipped)).status).toBe(401);
      expect(verify).toHaveBeenCalledTimes(2);
      expect((await me(app, accessToken)).status).toBe(200);
      expect(verify).toHaveBeenCalledTimes(2);
    } finally {
      verify.mockRestore();
    }
  });

  test('a remembered token is still read by RFC 6750 rules: any case of the scheme, and never also in the query', async () => {
    const { app } = recordingApp(newAuth());
    const { accessToken } = await login(app);
    expect((await me(app, accessToken)).status).toBe(200);
    expect((await request(app).get('/api/me').set('Authorization', `bearer   ${accessToken}  `)).status).toBe(200);
    const twice = await request(app).get(`/api/me?access_token=${accessToken}`).set('Authorization', `Bearer ${accessToken}`);
    expect(twice.status).toBe(400);
    expect(twice.body).toEqual({ error: 'invalid_request', message: 'Send the access token in the Authorization header only' });
  });

  test('a remembered token is refused once its session is revoked (the feed is asked every time)', async () => {
    const { store } = await redisStore();
    const auth = newAuth({}, store);
    const { app, errors } = recordingApp(auth);
    const { accessToken } = await login(app);
    expect((await me(app, accessToken)).status).toBe(200);
    await auth.revokeSession(sidOf(accessToken));
    const res = await me(app, accessToken);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token' });
    expect(lastRefusal(errors).code).toBe('ERR_ACCESS_TOKEN_REVOKED');
  });

  test('a remembered token is refused once it expires: the cache never outlives exp', async () => {
    // (No throttling: the loop below may log in more often than the successful-login limit allows.)
    const { app, errors } = recordingApp(newAuth({ accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: '1s' }, rateLimit: false }));
    // A 1s token expires at the next whole second: log in until one has time left to be remembered.
    let accessToken: string;
    let exp: number;
    do {
      ({ accessToken } = await login(app));
      exp = (jsonwebtoken.decode(accessToken) as { exp: number }).exp;
    } while (Date.now() > exp * 1000 - 300);
    expect((await me(app, accessToken)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 5));
    const res = await me(app, accessToken);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_token"');
    const cause = lastRefusal(errors);
    expect(cause.code).toBe('ERR_ACCESS_TOKEN_EXPIRED');
    expect(cause.message).toBe('jwt expired');
  });

  test('req.auth.payload and req.auth.claims are frozen, since requests with one token share them', async () => {
    const auth = newAuth();
    const app = express();
    app.use('/auth', auth.router);
    app.get('/api/me', auth.requireAuth(), (req, res) => {
      const info = req.auth as NonNullable<typeof req.auth>;
      res.json({ payload: Object.isFrozen(info.payload), claims: Object.isFrozen(info.claims), role: info.claims.role });
    });
    const { accessToken } = await login(app);
    for (let i = 0; i < 2; i += 1) expect((await me(app, accessToken)).body).toEqual({ payload: true, claims: true, role: 'admin' });
  });
});

describe('the 401 carries the reason as its cause, for the app, never for the client', () => {
  test('a bad signature: ERR_ACCESS_TOKEN_INVALID, "invalid signature"; the client sees only invalid_token', async () => {
    const { app, errors } = recordingApp(newAuth());
    const { accessToken } = await login(app);
    const other = newAuth({ accessToken: { algorithm: 'HS256', secret: 'x'.repeat(43), ttl: '10m' } });
    const { accessToken: foreign } = await login(recordingApp(other).app);
    const [, body] = accessToken.split('.');
    const [head, , signature] = foreign.split('.');
    const res = await me(app, `${head}.${body}.${signature}`);
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).toBe('{"error":"invalid_token"}');
    const cause = lastRefusal(errors);
    expect(cause.code).toBe('ERR_ACCESS_TOKEN_INVALID');
    expect(cause.message).toBe('invalid signature');
  });

  test('a token with no Authorization header has no cause: there is nothing to explain', async () => {
    const { app, errors } = recordingApp(newAuth());
    expect((await me(app, '').unset('Authorization')).status).toBe(401);
    expect((errors.at(-1) as AuthError).cause).toBeUndefined();
  });
});

describe('VerifiedTokenCache', () => {
  const payload = (exp: number) => ({ sub: 'u', sid: 's', jti: 'j', iat: exp - 60, exp, auth_time: exp - 60.5, role: 'r' });

  test('drops the oldest entry when full, and an entry at or past exp', () => {
    const cache = new VerifiedTokenCache(2);
    const now = Date.now();
    const exp = Math.floor(now / 1000) + 60;
    cache.add('a', payload(exp));
    cache.add('b', payload(exp));
    cache.add('c', payload(exp));
    expect(cache.size).toBe(2);
    expect(cache.get('a', now)).toBeUndefined();
    expect(cache.get('b', now)?.claims).toEqual({ role: 'r' });
    expect(cache.get('c', now)?.authTime).toBe((exp - 60.5) * 1000);
    expect(cache.get('c', exp * 1000 - 1)).toBeDefined();
    expect(cache.get('c', exp * 1000)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  test('a capacity of 0 remembers nothing', () => {
    const cache = new VerifiedTokenCache(0);
    cache.add('a', payload(Math.floor(Date.now() / 1000) + 60));
    expect(cache.get('a', Date.now())).toBeUndefined();
  });
});
