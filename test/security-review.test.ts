// Security review: attacks on the HTTP routes, tokens and RedisStore, each refused (found in review, then fixed or proven handled).

import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import express, { type Express } from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { type AuthEventMap, type AuthOptions, createAuth, type RedisClientLike, RedisStore } from '../lib';
import { redisKeys } from '../lib/store/redis-keys';
import { CREATE_SESSION } from '../lib/store/redis-scripts';
import {
  ACCESS_SECRET,
  authOptions,
  buildApp,
  COOKIE,
  closeClients,
  login,
  me,
  REFRESH_SECRET,
  redisClient,
  redisStore,
  refresh,
  refreshCookieOf,
  testApp,
  uniquePrefix,
} from './support/harness';
import { accessClaims, handmadeToken, sessionIdOfRefreshToken, sidOf } from './support/tokens';

afterAll(closeClients);

const CREDENTIALS = { username: 'alice', password: 'alice-password' };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A fresh app on its own RedisStore (own key prefix). */
async function redisApp(overrides: Partial<AuthOptions> = {}) {
  const { store, client, prefix } = await redisStore();
  return { ...testApp(store, overrides), client, prefix };
}

function postLogin(app: Express): request.Test {
  return request(app).post('/auth/login').set('X-Requested-With', 'fetch');
}

function setCookies(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  if (Array.isArray(raw)) return raw as string[];
  return typeof raw === 'string' ? [raw] : [];
}

describe('attacks found in review, now refused', () => {
  test('an access token never outlives its family: exp is capped at the absolute deadline, and revokeUser cannot miss it', async () => {
    // ttl = idleTtl = absoluteTtl = 3 s: a refresh 1.6 s after login hands out a token for another 3 s.
    const { app, auth } = await redisApp({
      accessToken: { secret: ACCESS_SECRET, ttl: '3s' },
      refreshToken: { secret: REFRESH_SECRET, idleTtl: '3s', absoluteTtl: '3s', reuseGrace: 0 },
    });
    const session = await login(app);
    const [record] = await auth.listSessions('user-alice');
    const deadline = (record as { absoluteExpiresAt: number }).absoluteExpiresAt;
    await sleep(1600);
    const rotated = await refresh(app, session.refreshToken);
    expect(rotated.status).toBe(200);
    const accessToken = rotated.body.accessToken as string;
    const { exp } = jwt.decode(accessToken) as { exp: number };
    expect(exp).toBeLessThanOrEqual(Math.floor(deadline / 1000)); // jsonwebtoken refuses from exp on, so exp must not pass the deadline

    await sleep(deadline - Date.now() + 300);
    // control: the family is dead, as SPEC §4 Expiry says
    expect((await refresh(app, refreshCookieOf(rotated) as string)).status).toBe(401);
    // the user changes their password: revokeUser finds nothing left to revoke...
    await auth.revokeUser('user-alice');
    // ...so the access token must already be dead on its own
    expect((await me(app, accessToken)).status).toBe(401);
  });

  test('a login whose two Redis writes land out of order (Cluster, NOSCRIPT retry) is not lost from the user index by a concurrent listing', async () => {
    // On Redis Cluster the session hash and the user index live on different nodes. Hold back the
    // CREATE_SESSION script to prove a listing in between cannot prune the new session from the index.
    const client = await redisClient();
    const createSha = createHash('sha1').update(CREATE_SESSION).digest('hex');
    let holdCreateMs = 0;
    // The real client, except that EVALSHA of CREATE_SESSION can be held back.
    const reordering = new Proxy(client, {
      get(target, property) {
        if (property === 'evalsha') {
          return async (sha: string, numKeys: number, ...args: Array<string | number>) => {
            if (sha === createSha && holdCreateMs > 0) await sleep(holdCreateMs);
            return target.evalsha(sha, numKeys, ...args);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as RedisClientLike;
    const auth = createAuth(authOptions(new RedisStore({ client: reordering, prefix: uniquePrefix() })));
    const app = buildApp(auth);

    holdCreateMs = 300;
    const pending = login(app);
    await sleep(100);
    await auth.listSessions('user-alice'); // e.g. GET /auth/sessions from the user's other device
    holdCreateMs = 0;
    const session = await pending;

    expect((await auth.listSessions('user-alice')).map((s) => s.sessionId)).toEqual([sidOf(session.accessToken)]);
    // "log out everywhere" after a password change must end this session too
    await auth.revokeUser('user-alice');
    expect((await me(app, session.accessToken)).status).toBe(401);
    expect((await refresh(app, session.refreshToken)).status).toBe(401);
  });

  test('a deeply nested login body (about 8 KB, under bodyLimit) answers 400, not a 500 from a stack overflow', async () => {
    const { app } = await redisApp();
    const depth = 4000;
    const hidden = `{"username":"alice","password":"alice-password","p":${'['.repeat(depth)}{"__proto__":{"isAdmin":true}}${']'.repeat(depth)}}`;
    expect(Buffer.byteLength(hidden)).toBeLessThan(16_384);
    const res = await postLogin(app).set('Content-Type', 'application/json').send(hidden);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', message: expect.any(String) });
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  test.each(['gzip', 'deflate', 'br'])(
    'a login body with a corrupt Content-Encoding: %s answers 400 invalid_request (br on Express 4: 415), not 500',
    async (encoding) => {
      const { app } = await redisApp();
      const res = await postLogin(app).set('Content-Type', 'application/json').set('Content-Encoding', encoding).send('this is not compressed');
      // Express 4's body-parser (1.x) does not decode br at all: it refuses the encoding (415) before reading.
      const unknownEncoding = encoding === 'br' && (require('express/package.json') as { version: string }).version.startsWith('4.');
      expect([res.status, res.body]).toEqual(
        unknownEncoding
          ? [415, { error: 'unsupported_media_type', message: expect.stringMatching(/Content-Encoding br cannot be decoded/) }]
          : [
              400,
              { error: 'invalid_request', message: 'The body could not be decompressed: send it uncompressed, or compressed as its Content-Encoding says' },
            ],
      );
    },
  );

  test('DELETE /auth/sessions/:id with a malformed percent-encoding answers a 4xx, not 500 server_error', async () => {
    const { app } = await redisApp();
    const { accessToken } = await login(app);
    const res = await request(app).delete('/auth/sessions/%E0%A4%A').set('Authorization', `Bearer ${accessToken}`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['content-type']).toMatch(/application\/json/);
  });

  test("the refresh cookie's Path cannot carry extra attributes from the request URL (router mounted under a parameter)", async () => {
    const { store } = await redisStore();
    const auth = createAuth(authOptions(store, { cookie: { secure: false } }));
    const app = express();
    app.use('/:tenant/auth', auth.router);
    const res = await request(app).post('/acme;Domain=attacker.example;Max-Age=999999999/auth/login').set('X-Requested-With', 'fetch').send(CREDENTIALS);
    expect(res.status).toBe(200);
    const line = setCookies(res).find((cookie) => cookie.startsWith('refresh=')) as string;
    const attributes = line
      .split(';')
      .slice(1)
      .map((part) => part.trim().split('=')[0]?.toLowerCase());
    expect(attributes).not.toContain('domain');
    expect(attributes.filter((name) => name === 'max-age')).toHaveLength(1);
  });

  test('durations beyond what Date and Redis can hold are refused by createAuth, not discovered as 500/503 at run time', async () => {
    const { store } = await redisStore();
    // 20 million weeks: GET /auth/sessions then throws in Date#toISOString (500);
    // 2e12 weeks: PEXPIREAT gets "1.2e+27" and every login answers 503 as if Redis were down
    for (const absoluteTtl of ['20000000w', '2000000000000w']) {
      expect(() => createAuth(authOptions(store, { refreshToken: { secret: REFRESH_SECRET, idleTtl: '14d', absoluteTtl } }))).toThrow(RangeError);
    }
  });
});

describe('attacks that are handled', () => {
  describe('CSRF: several Origin headers', () => {
    let app: Express;
    let server: Server;
    let ownOrigin: string;
    beforeAll(async () => {
      app = (await redisApp({ refreshToken: { secret: REFRESH_SECRET, reuseGrace: 0 } })).app;
      server = createServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      ownOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    });

    test('own + foreign Origin headers (either order) answer 403 on /login, /refresh and /logout, rotating nothing', async () => {
      const session = await login(app);
      for (const origins of [
        [ownOrigin, 'https://evil.example'],
        ['https://evil.example', ownOrigin],
      ]) {
        const post = (path: string) => request(server).post(`/auth${path}`).set('X-Requested-With', 'fetch').set({ Origin: origins });
        for (const res of [
          await post('/login').send(CREDENTIALS),
          await post('/refresh').set('Cookie', `${COOKIE}=${session.refreshToken}`),
          await post('/logout').set('Cookie', `${COOKIE}=${session.refreshToken}`),
        ]) {
          expect(res.status).toBe(403);
          expect(res.body).toEqual({
            error: 'csrf_rejected',
            message: expect.stringMatching(/is neither this app's own origin nor one of csrf\.allowedOrigins/),
          });
        }
      }
      // reuseGrace 0: a rotation by a rejected request would make this a reuse
      expect((await refresh(app, session.refreshToken)).status).toBe(200);
    });
  });

  test('a __proto__ key spelt with a JSON unicode escape ("\\u005f_proto__") answers 400', async () => {
    const { app } = await redisApp();
    const res = await postLogin(app)
      .set('Content-Type', 'application/json')
      .send('{"username":"alice","password":"alice-password","\\u005f_proto__":{"isAdmin":true}}');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', message: expect.stringMatching(/__proto__/) });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  test('alg spelt "hs256" (jwa matches algorithms case-insensitively) is refused even with a correct HMAC', async () => {
    const { app, auth } = await redisApp();
    await auth.ready(); // crafted tokens claim a login time, which must not predate the store's epoch
    const claims = accessClaims();
    const control = handmadeToken({ alg: 'HS256', typ: 'at+jwt' }, claims, ACCESS_SECRET);
    expect((await me(app, control)).status).toBe(200);
    for (const alg of ['hs256', 'Hs256']) {
      const res = await me(app, handmadeToken({ alg, typ: 'at+jwt' }, claims, ACCESS_SECRET));
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_token' });
    }
  });

  test('a non-canonical base64url spelling of the current refresh token is refused and revokes nothing', async () => {
    const { app, auth } = await redisApp({ refreshToken: { secret: REFRESH_SECRET, reuseGrace: 0 } });
    const reuses: unknown[] = [];
    auth.events.on('reuse_detected', (event) => reuses.push(event));
    const { refreshToken } = await login(app);
    const [sessionId, generation, secret, mac] = refreshToken.split('.') as [string, string, string, string];
    // 43 base64url characters carry 258 bits for 256: the last character's low 2 bits are padding
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(secret.slice(-1));
    const respelt = `${secret.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(respelt, 'base64url').equals(Buffer.from(secret, 'base64url'))).toBe(true);
    const res = await refresh(app, `${sessionId}.${generation}.${respelt}.${mac}`);
    expect(res.status).toBe(401);
    expect(reuses).toHaveLength(0);
    expect((await refresh(app, refreshToken)).status).toBe(200);
  });

  test('a Redis error reply during refresh answers 503, keeps the cookie, and neither the event nor the error carries the token', async () => {
    const { app, auth, client, prefix } = await redisApp();
    const errors: Array<AuthEventMap['store_error'][0]> = [];
    auth.events.on('store_error', (event) => errors.push(event));
    let passedOn: unknown;
    app.use((error: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
      passedOn = error;
      next(error);
    });
    const { refreshToken } = await login(app);
    const sessionKey = redisKeys(prefix).session(sessionIdOfRefreshToken(refreshToken));
    await client.del(sessionKey);
    await client.hset(sessionKey, 'not', 'a string'); // WRONGTYPE inside PRESENT_TOKEN
    await client.pexpire(sessionKey, 60_000);
    const res = await refresh(app, refreshToken);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'temporarily_unavailable' });
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(errors).toHaveLength(1);
    const [, , secret, mac] = refreshToken.split('.') as [string, string, string, string];
    for (const dumped of [inspect(errors, { depth: Infinity, showHidden: true }), inspect(passedOn, { depth: Infinity, showHidden: true })]) {
      expect(dumped).toMatch(/WRONGTYPE/); // the cause chain, with ioredis' command arguments, is in there
      expect(dumped).not.toContain(secret);
      expect(dumped).not.toContain(mac);
    }
  });

  test('a family that outlived its revokeUser (its deletion failed) rotates in Redis but is refused by the feed, and ended', async () => {
    const { app, auth, client, prefix } = await redisApp();
    const { refreshToken } = await login(app);
    const sessionKey = redisKeys(prefix).session(sessionIdOfRefreshToken(refreshToken));
    const stored = (await client.get(sessionKey)) as string;
    await new Promise((resolve) => setTimeout(resolve, 5)); // the login began before the mark
    expect(await auth.revokeUser('user-alice')).toHaveLength(1);
    await client.set(sessionKey, stored, 'PX', 60_000); // as if deleting the family had failed
    const res = await refresh(app, refreshToken);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_refresh_token' });
    expect(await client.exists(sessionKey)).toBe(0); // ended now
  });

  test('a stored session of another layout (wrong number of fields) answers 503, keeps the cookie and is left as it was', async () => {
    const { app, client, prefix } = await redisApp();
    const { refreshToken } = await login(app);
    const sessionKey = redisKeys(prefix).session(sessionIdOfRefreshToken(refreshToken));
    const stored = (await client.get(sessionKey)) as string;
    const truncated = stored.split('\x1f').slice(0, 6).join('\x1f'); // written by another program or version
    await client.set(sessionKey, truncated, 'PX', 60_000);
    const res = await refresh(app, refreshToken);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'temporarily_unavailable' });
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(await client.get(sessionKey)).toBe(truncated);
    await client.set(sessionKey, stored, 'PX', 60_000); // the family's own value back: it rotates again
    expect((await refresh(app, refreshToken)).status).toBe(200);
  });

  test('an oversized Authorization header (over 8 KB) answers 400 invalid_request as JSON, never 500', async () => {
    const { app } = await redisApp();
    for (const token of ['a'.repeat(12_000), 'a.'.repeat(6000), `${'x'.repeat(4000)}.${'y'.repeat(4000)}.${'z'.repeat(3000)}`]) {
      const res = await me(app, token);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: expect.any(String) });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_request"');
    }
  });
});
