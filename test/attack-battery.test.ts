// The attack battery: the threats of docs/security.md's table, in the table's order, one top-level describe (named
// like the row) for each row proven here. A refusal checked with expectRefused asserts the status, the JSON body (and
// RFC 6750 challenge) and that nothing changed in the store: every Redis key, type, value and expiry; the other tests
// assert what their threat is about. A row whose proof lives in a feature suite only has a comment at its place instead,
// naming that suite.
import { createHash, createHmac, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express, { type Express } from 'express';
import type Redis from 'ioredis';
import jwt, { type Algorithm } from 'jsonwebtoken';
import request from 'supertest';
import { type Auth, type AuthOptions, createAuth, MemoryStore, type RedisClientLike, RedisStore } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import { CREATE_SESSION } from '../lib/store/redis-scripts';
import {
  ACCESS_SECRET,
  authOptions,
  buildApp,
  COOKIE,
  closeAll,
  keysUnder,
  login,
  me,
  memoryStore,
  REFRESH_SECRET,
  redisClient,
  redisStore,
  refresh,
  refreshCookieOf,
  testApp,
  uniquePrefix,
} from './support/harness';
import { accessClaims, forgedRefreshToken, handmadeToken, nowSeconds, segment, sessionIdOfRefreshToken, sidOf } from './support/tokens';

afterAll(closeAll);

const ISSUER = 'https://issuer.example';
const AUDIENCE = 'api.example';
const ALLOWED_ORIGIN = 'https://app.example';
const CREDENTIALS = { username: 'alice', password: 'alice-password' };

type Json = Record<string, unknown>;

interface Expected {
  status: number;
  body?: Json;
  /** The WWW-Authenticate header; undefined means none. */
  challenge?: string;
}

const INVALID_TOKEN: Expected = { status: 401, body: { error: 'invalid_token' }, challenge: 'Bearer realm="api", error="invalid_token"' };
const INVALID_REQUEST: Expected = {
  status: 400,
  body: { error: 'invalid_request', message: expect.any(String) },
  challenge: 'Bearer realm="api", error="invalid_request"',
};
const CSRF_REJECTED: Expected = { status: 403, body: { error: 'csrf_rejected', message: expect.any(String) } };
const UNSUPPORTED_MEDIA_TYPE: Expected = { status: 415, body: { error: 'unsupported_media_type', message: expect.any(String) } };
const PAYLOAD_TOO_LARGE: Expected = { status: 413, body: { error: 'payload_too_large', message: expect.any(String) } };
const INVALID_CREDENTIALS: Expected = { status: 401, body: { error: 'invalid_credentials' } };

/** An app on its own RedisStore prefix, with what a test needs to inspect the store. */
interface Target {
  app: Express;
  auth: Auth;
  client: Redis;
  prefix: string;
}

async function redisTarget(overrides: Partial<AuthOptions> = {}, extraRoutes?: (app: Express, auth: Auth) => void): Promise<Target> {
  const { store, client, prefix } = await redisStore();
  const { app, auth } = testApp(store, { refreshToken: { secret: REFRESH_SECRET, reuseGrace: 0 }, ...overrides });
  extraRoutes?.(app, auth); // before the first request, so the library's JSON fallback handler comes after them
  await auth.ready(); // crafted tokens claim a login time, which must not predate the store's epoch
  return { app, auth, client, prefix };
}

/** Keys whose expiry the revocation feed's heartbeat pushes back on its own; their values still count. */
const HEARTBEAT_KEPT = new Set(['{revocations}:epoch', '{revocations}:version']);

/**
 * Everything the store holds under the target's prefix: per key its type, value and absolute expiry,
 * plus the demo users' sessions as `auth.listSessions` reports them. Rate-limit counters (`rl:`) are
 * not session state and are left out.
 */
async function storeSnapshot({ auth, client, prefix }: Target): Promise<Json> {
  const keys: Json = {};
  for (const key of (await keysUnder(client, prefix)).filter((name) => !name.startsWith(`${prefix}rl:`)).sort()) {
    const name = key.slice(prefix.length);
    const type = await client.type(key);
    const value =
      type === 'string'
        ? await client.get(key)
        : type === 'hash'
          ? await client.hgetall(key)
          : type === 'zset'
            ? await client.zrange(key, 0, -1, 'WITHSCORES')
            : type === 'set'
              ? (await client.smembers(key)).sort()
              : type === 'list'
                ? await client.lrange(key, 0, -1)
                : null;
    keys[name] = { type, value, expiresAt: HEARTBEAT_KEPT.has(name) ? 'kept alive' : await client.call('PEXPIRETIME', key) };
  }
  return { keys, alice: await auth.listSessions('user-alice'), bob: await auth.listSessions('user-bob') };
}

function expectAnswer(res: request.Response, expected: Expected, label: string): void {
  const seen = { label, status: res.status, challenge: res.headers['www-authenticate'] as string | undefined, setCookie: res.headers['set-cookie'] };
  expect(seen).toEqual({ label, status: expected.status, challenge: expected.challenge, setCookie: undefined });
  if (expected.body === undefined) return;
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect({ label, body: res.body as unknown }).toEqual({ label, body: expected.body });
}

/** Sends each request in turn, checks its answer, and checks that the store is exactly as it was before. */
async function expectRefused(
  target: Target,
  attempts: Array<[label: string, send: () => request.Test | Promise<request.Response>]>,
  expected: Expected,
): Promise<void> {
  const before = await storeSnapshot(target);
  for (const [label, send] of attempts) expectAnswer(await send(), expected, label);
  expect(await storeSnapshot(target)).toEqual(before);
}

/** GET /api/me with a raw Authorization header value (and an optional query string). */
function withAuthorization(app: Express | Server, authorization: string, path = '/api/me'): request.Test {
  return request(app).get(path).set('Authorization', authorization);
}

/** `[label, send]` pairs sending each token as `Bearer <token>` to /api/me. */
function bearerAttempts(app: Express, tokens: Array<[string, string]>): Array<[string, () => request.Test]> {
  return tokens.map(([label, token]) => [label, () => withAuthorization(app, `Bearer ${token}`)]);
}

/** Sends each `[label, token]` as `Bearer <token>` to /api/me: every answer is `expected` (401 invalid_token unless given), the store unchanged. */
function expectTokensRefused(target: Target, tokens: Array<[string, string]>, expected: Expected = INVALID_TOKEN): Promise<void> {
  return expectRefused(target, bearerAttempts(target.app, tokens), expected);
}

/** A compact JWS from raw segments, HMAC-SHA256-signed over them, whatever they hold. */
function hmacJws(headerPart: string, payloadPart: string, key: string | Buffer): string {
  const input = `${headerPart}.${payloadPart}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** A JWS signed by jsonwebtoken with `algorithm` and `key`, typ at+jwt plus any extra header members. */
function signWith(algorithm: Algorithm, key: KeyObject | string, claims: Json, header: Json = {}): string {
  return jwt.sign(claims, key, { algorithm, header: { alg: algorithm, typ: 'at+jwt', ...header } as jwt.JwtHeader });
}

const pem = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A fresh app on its own RedisStore (own key prefix), its options as given (reuseGrace at its default, unlike {@link redisTarget}). */
async function redisApp(overrides: Partial<AuthOptions> = {}) {
  const { store, client, prefix } = await redisStore();
  return { ...testApp(store, overrides), client, prefix };
}

/** POST /auth/login with the CSRF header; the caller sends the body. */
function loginRequest(app: Express): request.Test {
  return request(app).post('/auth/login').set('X-Requested-With', 'fetch');
}

/** The Set-Cookie lines of an answer. */
function setCookies(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  if (Array.isArray(raw)) return raw as string[];
  return typeof raw === 'string' ? [raw] : [];
}

/** POSTs /auth/refresh to a listening server from a chosen local address (a second "machine" is 127.0.0.2). */
function refreshFrom(
  port: number,
  localAddress: string,
  refreshToken: string,
  userAgent = 'same-browser',
): Promise<{ status: number; cookie: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        method: 'POST',
        path: '/auth/refresh',
        headers: { 'X-Requested-With': 'fetch', 'User-Agent': userAgent, Cookie: `${COOKIE}=${refreshToken}` },
      },
      (res) => {
        res.resume();
        const line = (res.headers['set-cookie'] ?? []).find((cookie) => cookie.startsWith(`${COOKIE}=`));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cookie: line?.slice(COOKIE.length + 1).split(';')[0] }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// 1. Forged or altered access token: here; also test/require-auth.test.ts, test/algorithms.test.ts, and `notAfter` in
// test/keys-and-jwks.test.ts ("a retired key").
describe('Forged or altered access token', () => {
  describe('requireAuth: forged access tokens are refused with 401 invalid_token', () => {
    let hs: Target;
    /** Claims the HS256 app (issuer and audience configured) accepts; patch or drop (undefined) any. */
    const claims = (patch: Json = {}): Json => accessClaims({ iss: ISSUER, aud: AUDIENCE, ...patch });
    /** Handmade, as jsonwebtoken would refuse to sign some of the claims below. */
    const hs256 = (patch: Json = {}): string => handmadeToken({ alg: 'HS256', typ: 'at+jwt' }, claims(patch), ACCESS_SECRET);

    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let rs: Target;

    beforeAll(async () => {
      const accessToken = { algorithm: 'HS256' as const, secret: ACCESS_SECRET, ttl: '10m', issuer: ISSUER, audience: AUDIENCE };
      hs = await redisTarget({ accessToken });
      rs = await redisTarget({ accessToken: { algorithm: 'RS256', privateKey: rsa.privateKey, ttl: '10m' } });
    });

    test('control: a crafted HS256 token with the right key and claims is accepted, as is a real RS256 one', async () => {
      expect((await withAuthorization(hs.app, `Bearer ${hs256()}`)).status).toBe(200);
      expect((await withAuthorization(rs.app, `Bearer ${(await login(rs.app)).accessToken}`)).status).toBe(200);
      expect((await withAuthorization(rs.app, `Bearer ${signWith('RS256', rsa.privateKey, claims({ iss: undefined, aud: undefined }))}`)).status).toBe(200);
    });

    test('alg none, None, NONE and nOnE (with and without a signature)', async () => {
      const attempts = ['none', 'None', 'NONE', 'nOnE'].flatMap(
        (alg): Array<[string, string]> => [
          [`${alg}, empty signature`, handmadeToken({ alg, typ: 'at+jwt' }, claims(), null)],
          [`${alg}, HMAC signature`, handmadeToken({ alg, typ: 'at+jwt' }, claims(), ACCESS_SECRET)],
          [`${alg}, no signature segment`, handmadeToken({ alg, typ: 'at+jwt' }, claims(), null).slice(0, -1)],
        ],
      );
      await expectTokensRefused(hs, attempts);
      await expectTokensRefused(rs, attempts);
    });

    test('HS256 signed with the RS256 public key (algorithm confusion)', async () => {
      const payload = segment(claims({ iss: undefined, aud: undefined }));
      const header = segment({ alg: 'HS256', typ: 'at+jwt' });
      const keys: Array<[string, string | Buffer]> = [
        ['PEM', pem(rsa.publicKey)],
        ['PEM without the final newline', pem(rsa.publicKey).trim()],
        ['DER', rsa.publicKey.export({ type: 'spki', format: 'der' })],
        ['JWK JSON', JSON.stringify(rsa.publicKey.export({ format: 'jwk' }))],
      ];
      await expectTokensRefused(
        rs,
        keys.map(([label, key]) => [label, hmacJws(header, payload, key)]),
      );
    });

    test('a wrong algorithm, correctly signed for what its header says', async () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const noIssuer = claims({ iss: undefined, aud: undefined });
      await expectTokensRefused(hs, [
        ['HS384 with the right secret', signWith('HS384', ACCESS_SECRET, claims())],
        ['HS512 with the right secret', signWith('HS512', ACCESS_SECRET, claims())],
        ['hs256 spelt in lower case', hmacJws(segment({ alg: 'hs256', typ: 'at+jwt' }), segment(claims()), ACCESS_SECRET)],
        ['RS256 with some RSA key', signWith('RS256', attacker.privateKey, claims())],
        ['ES256 with some P-256 key', signWith('ES256', other.privateKey, claims())],
      ]);
      await expectTokensRefused(rs, [
        ['RS384 with the right key', signWith('RS384', rsa.privateKey, noIssuer)],
        ['RS512 with the right key', signWith('RS512', rsa.privateKey, noIssuer)],
        ['PS256 with the right key', signWith('PS256', rsa.privateKey, noIssuer)],
        ['ES256 with some P-256 key', signWith('ES256', other.privateKey, noIssuer)],
      ]);
    });

    test('jwk, jku, x5u and x5c headers naming the attacker key are never used, and never fetched', async () => {
      let hits = 0;
      const jwks = { keys: [{ ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: 'RS256', use: 'sig' }] };
      const server = createServer((_req, res) => {
        hits += 1;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(jwks));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
        const forge = (header: Json) => signWith('RS256', attacker.privateKey, claims({ iss: undefined, aud: undefined }), header);
        const jwk = attacker.publicKey.export({ format: 'jwk' });
        await expectTokensRefused(rs, [
          ['jwk', forge({ jwk })],
          ['jwk with its kid', forge({ jwk: { ...jwk, kid: 'attacker' }, kid: 'attacker' })],
          ['jku', forge({ jku: url })],
          ['jku with a kid it holds', forge({ jku: url, kid: 'attacker' })],
          ['x5u', forge({ x5u: url })],
          ['x5c', forge({ x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] })],
        ]);
        expect(hits).toBe(0);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    test('kid with path traversal, signed HS256 with what the named file would hold', async () => {
      // the classic attack: kid names /dev/null (or a public file) and the token is HMAC-keyed with its contents
      const kids: Array<[string, string | Buffer]> = [
        ['../../../../dev/null', ''],
        ['/dev/null', ''],
        ['..\\..\\..\\windows\\win.ini', ''],
        ['file:///dev/null', ''],
        ['../../../../proc/self/environ', Buffer.alloc(0)],
        ["x' UNION SELECT 'secret", 'secret'],
      ];
      const tokens = (extra: Json): Array<[string, string]> =>
        kids.map(([kid, key]) => [kid, hmacJws(segment({ alg: 'HS256', typ: 'at+jwt', kid }), segment(claims(extra)), key)]);
      await expectTokensRefused(hs, tokens({}));
      await expectTokensRefused(rs, tokens({ iss: undefined, aud: undefined }));
    });

    test('kid of 10 KB: the Authorization header is over the size limit, 400 invalid_request; a 4 KB kid under it is 401', async () => {
      const forge = (kid: string) => signWith('RS256', rsa.privateKey, claims({ iss: undefined, aud: undefined }), { kid });
      const huge = forge('k'.repeat(10 * 1024));
      expect(huge.length).toBeGreaterThan(13_000);
      await expectTokensRefused(rs, [['10 KB kid', huge]], INVALID_REQUEST);
      await expectTokensRefused(rs, [['4 KB kid', forge('k'.repeat(4 * 1024))]]);
    });

    test('exp and nbf edges', async () => {
      const now = nowSeconds();
      const cases: Array<[string, Json]> = [
        ['exp now', { exp: now }],
        ['exp a second ago', { exp: now - 1 }],
        ['exp 0', { exp: 0 }],
        ['exp -1', { exp: -1 }],
        ['exp as a string', { exp: String(now + 600) }],
        ['exp null', { exp: null }],
        ['no exp', { exp: undefined }],
        ['nbf a minute ahead', { nbf: now + 60 }],
        ['nbf as a string', { nbf: String(now - 60) }],
        ['nbf null', { nbf: null }],
      ];
      await expectTokensRefused(
        hs,
        cases.map(([label, patch]) => [label, hs256(patch)]),
      );
    });

    test('wrong or missing aud and iss', async () => {
      const cases: Array<[string, Json]> = [
        ['no iss', { iss: undefined }],
        ['no aud', { aud: undefined }],
        ['neither', { iss: undefined, aud: undefined }],
        ['another iss', { iss: 'https://evil.example' }],
        ['iss with a trailing slash', { iss: `${ISSUER}/` }],
        ['iss in upper case', { iss: ISSUER.toUpperCase() }],
        ['iss as an array', { iss: [ISSUER] }],
        ['another aud', { aud: 'other-api' }],
        ['aud as an array without ours', { aud: ['other-api', `${AUDIENCE}.evil`] }],
        ['aud as an object', { aud: { [AUDIENCE]: true } }],
        ['empty aud', { aud: '' }],
      ];
      await expectTokensRefused(
        hs,
        cases.map(([label, patch]) => [label, hs256(patch)]),
      );
    });

    test('array, string, number, null and non-JSON payloads signed with the right key', async () => {
      const header = segment({ alg: 'HS256', typ: 'at+jwt' });
      const raw = (text: string) => Buffer.from(text).toString('base64url');
      const payloads: Array<[string, string]> = [
        ['an array of the claims', segment([claims()])],
        ['an empty array', segment([])],
        ['a JSON string', raw(JSON.stringify(JSON.stringify(claims())))],
        ['a bare string', raw('user-alice')],
        ['a number', raw('1')],
        ['null', raw('null')],
        ['true', raw('true')],
        ['not JSON', raw('{"sub":')],
        ['empty', ''],
      ];
      await expectTokensRefused(
        hs,
        payloads.map(([label, payload]) => [label, hmacJws(header, payload, ACCESS_SECRET)]),
      );
    });

    test('2 or 4 segments (and 1 or 5)', async () => {
      const [h, p, s] = hs256().split('.') as [string, string, string];
      await expectTokensRefused(hs, [
        ['1 segment', h],
        ['2 segments: header.payload', `${h}.${p}`],
        ['2 segments: header.signature', `${h}.${s}`],
        ['4 segments: an extra signature', `${h}.${p}.${s}.${s}`],
        ['4 segments: an empty one', `${h}.${p}.${s}.`],
        ['4 segments: JWE-like', `${h}.${p}..${s}`],
        ['5 segments', `${h}.${p}.${s}.${s}.${s}`],
      ]);
    });
  });

  describe('requireAuth: the algorithm name is matched exactly', () => {
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
  });
});

// 2. Poisoning the verified-token cache: test/verified-token-cache.test.ts.
// 3. Stolen access token: "revocation reaches requireAuth" in test/require-auth.test.ts, and test/revocation-feed.test.ts.
// 4. Access token sent to another origin: test/browser/token-origins.test.ts.

// 5. Stolen refresh token, replayed: here; also "grace window (reuseGrace)" and "reuse detection" in test/rotation.test.ts.
describe('Stolen refresh token, replayed', () => {
  describe('grace-window retries only for the client that rotated', () => {
    let app: Express;
    let auth: Auth;
    let port: number;
    let close: () => Promise<void>;

    beforeAll(async () => {
      const store = new MemoryStore();
      ({ app, auth } = testApp(store, { refreshToken: { secret: REFRESH_SECRET, reuseGrace: '10s' } }));
      await new Promise<void>((resolve) => {
        const server = app.listen(0, '127.0.0.1', () => {
          port = (server.address() as AddressInfo).port;
          close = () => new Promise((done) => server.close(() => done()));
          resolve();
        });
      });
    });
    afterAll(() => close());

    test('the same client retrying gets the same successor', async () => {
      const session = await login(app, 'alice', 'same-browser');
      const rotated = await refreshFrom(port, '127.0.0.1', session.refreshToken);
      const retried = await refreshFrom(port, '127.0.0.1', session.refreshToken);
      expect([rotated.status, retried.status]).toEqual([200, 200]);
      expect(retried.cookie).toBe(rotated.cookie);
    });

    test('a replay inside the window from another address with the same User-Agent gets 401, never the successor, and revokes the family', async () => {
      const reuse: unknown[] = [];
      const listener = (event: unknown) => reuse.push(event);
      auth.events.on('reuse_detected', listener);
      const session = await login(app, 'alice', 'same-browser');
      const rotated = await refreshFrom(port, '127.0.0.1', session.refreshToken);
      expect(rotated.status).toBe(200);

      const thief = await refreshFrom(port, '127.0.0.2', session.refreshToken);
      expect(thief.status).toBe(401);
      expect(thief.cookie).not.toBe(rotated.cookie);
      expect(reuse).toHaveLength(1);
      // The family is gone: the victim's successor no longer works either.
      expect((await refreshFrom(port, '127.0.0.1', rotated.cookie as string)).status).toBe(401);
      auth.events.off('reuse_detected', listener);
    });

    test('a replay from the same address with another User-Agent is reuse too', async () => {
      const session = await login(app, 'alice', 'same-browser');
      const rotated = await refreshFrom(port, '127.0.0.1', session.refreshToken);
      const other = await refreshFrom(port, '127.0.0.1', session.refreshToken, 'another-browser');
      expect([rotated.status, other.status]).toEqual([200, 401]);
    });
  });
});

// 6. Forged refresh token: here.
describe('Forged refresh token', () => {
  describe('a forgery costs O(1) and revokes nothing', () => {
    // O(1) shown by structure, not by a stopwatch (timed assertions flake on a shared machine; the
    // bench measures speed): a forgery is refused on its MAC before the store is asked anything, so
    // its cost cannot depend on the family's history or on whether the session exists.
    test('after 1,000 rotations, 100 forged presentations never reach the store, like 100 of an unknown session, and revoke nothing', async () => {
      const { store } = await redisStore();
      const { app, auth } = testApp(store, { rateLimit: false }); // 1,000 refreshes from one address
      const reuse: unknown[] = [];
      auth.events.on('reuse_detected', (event) => reuse.push(event));
      const first = await login(app);
      let current = first.refreshToken;
      for (let i = 0; i < 1000; i++) current = refreshCookieOf(await refresh(app, current)) as string;
      const sessionId = sessionIdOfRefreshToken(current);

      const present = (token: string) => async (): Promise<void> => {
        const res = await refresh(app, token);
        if (res.status !== 401) throw new Error(`expected 401, got ${res.status}`);
      };
      const hundred = (makeToken: () => string) => async (): Promise<void> => {
        for (let i = 0; i < 100; i++) await present(makeToken())();
      };
      // The real store, watched: every presentation that reaches it is counted (and still runs).
      const presented = jest.spyOn(store, 'presentToken');
      await hundred(() => forgedRefreshToken(sessionId, 999))();
      await hundred(() => forgedRefreshToken(randomBytes(16).toString('base64url'), 999))();
      expect(presented).not.toHaveBeenCalled();
      // The watch works: an authentic token does reach the store.
      const control = await refresh(app, current);
      expect(control.status).toBe(200);
      expect(presented).toHaveBeenCalledTimes(1);
      presented.mockRestore();
      current = refreshCookieOf(control) as string;

      // Nothing was revoked: the session's current token still rotates, its access token still works.
      expect(reuse).toEqual([]);
      const still = await refresh(app, current);
      expect(still.status).toBe(200);
      expect((await me(app, still.body.accessToken as string)).status).toBe(200);

      // An authentic token from 1,000 rotations ago is proven earlier in one step: the family is revoked.
      expect((await refresh(app, first.refreshToken)).status).toBe(401);
      expect(reuse).toHaveLength(1);
      expect((await refresh(app, refreshCookieOf(still) as string)).status).toBe(401);
    }, 60_000);
  });

  describe('a refresh token is exactly the string issued', () => {
    test('another spelling of its MAC (the spare bits of the last base64url character) is refused and revokes nothing', async () => {
      const { app } = testApp(new MemoryStore());
      const { refreshToken } = await login(app);
      const [sessionId, generation, secret, mac] = refreshToken.split('.') as [string, string, string, string];
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(mac.slice(-1));
      const respelt = `${mac.slice(0, -1)}${alphabet[last ^ 1]}`;
      expect(Buffer.from(respelt, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true); // the same bytes
      expect((await refresh(app, `${sessionId}.${generation}.${secret}.${respelt}`)).status).toBe(401);
      expect((await refresh(app, refreshToken)).status).toBe(200);
    });

    test('a non-canonical base64url spelling of its secret is refused and revokes nothing', async () => {
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
  });
});

// 7. Two tabs, a lost response: "rotation is atomic" and "grace window (reuseGrace)" in test/rotation.test.ts; the tabs in
// test/browser/client.test.ts.
// 8. Forged tab messages: test/browser/tab-messages.test.ts.

// 9. CSRF on /login, /refresh, /logout: here; also test/csrf-and-cookies.test.ts.
describe('CSRF on /login, /refresh, /logout', () => {
  describe('router: cross-site requests to /login, /refresh and /logout are refused with 403 csrf_rejected', () => {
    let target: Target;
    let server: Server;
    let own: string;
    let refreshToken: string;

    beforeAll(async () => {
      target = await redisTarget({ csrf: { allowedOrigins: [ALLOWED_ORIGIN] } });
      server = createServer(target.app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      own = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      refreshToken = (await login(target.app)).refreshToken;
    });
    afterAll(async () => {
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    });

    /** The three cookie routes, each with the CSRF header, the refresh cookie and a login body, plus `headers`. */
    const threeRoutes = (label: string, headers: Record<string, string>): Array<[string, () => request.Test]> =>
      ['/login', '/refresh', '/logout'].map((path) => [
        `${label} on ${path}`,
        () => request(server).post(`/auth${path}`).set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`).set(headers).send(CREDENTIALS),
      ]);

    test('control: the own origin and the allowed origin may refresh', async () => {
      for (const origin of [own, ALLOWED_ORIGIN]) {
        const res = await request(server)
          .post('/auth/refresh')
          .set('X-Requested-With', 'fetch')
          .set('Origin', origin)
          .set('Cookie', `${COOKIE}=${refreshToken}`);
        expect(res.status).toBe(200);
        refreshToken = refreshCookieOf(res) as string;
      }
    });

    test('Origin: null', async () => {
      await expectRefused(target, threeRoutes('null', { Origin: 'null' }), CSRF_REJECTED);
    });

    test('look-alike origins', async () => {
      const port = Number(new URL(own).port);
      const origins = [
        `${ALLOWED_ORIGIN}.evil.test`,
        `${ALLOWED_ORIGIN}/`,
        `${ALLOWED_ORIGIN}:8443`,
        `${ALLOWED_ORIGIN}@evil.test`,
        'http://app.example',
        'https://evilapp.example',
        'https://app-example.evil.test',
        'https://xn--pp-example-v2c.test',
        'https://APP.EXAMPLE',
        `${own}.evil.test`,
        `${own}@evil.test`,
        `http://localhost:${port}`,
        `https://127.0.0.1:${port}`,
        `http://127.0.0.1:${port + 1}`,
        'http://127.0.0.1',
      ];
      await expectRefused(
        target,
        origins.flatMap((origin) => threeRoutes(origin, { Origin: origin })),
        CSRF_REJECTED,
      );
    });

    test('Sec-Fetch-Site: cross-site, with and without an Origin', async () => {
      await expectRefused(
        target,
        [...threeRoutes('no Origin', { 'Sec-Fetch-Site': 'cross-site' }), ...threeRoutes('own Origin', { 'Sec-Fetch-Site': 'cross-site', Origin: own })],
        CSRF_REJECTED,
      );
    });
  });

  describe('options: the CSRF header', () => {
    const started: Auth[] = [];
    afterAll(async () => {
      await Promise.all(started.map((auth) => auth.close()));
    });

    test.each(['Accept', 'Accept-Language', 'Content-Language', 'Content-Type', 'Range', 'content-type', 'ACCEPT'])(
      'csrf.headerName %p, a CORS-safelisted header a cross-site form or simple request can send, is refused at start-up',
      (headerName) => {
        const startUp = () => started.push(createAuth(authOptions(memoryStore(), { csrf: { headerName } })));
        expect(startUp).toThrow(TypeError);
        expect(startUp).toThrow(/csrf\.headerName/);
      },
    );
  });

  describe('router: several Origin headers', () => {
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
});

// 10. Cookie tossing: here; also a duplicated cookie name in test/routes.test.ts and test/cookie-parser.test.ts ("the
// refresh cookie as read with and without cookie-parser").
describe('Cookie tossing', () => {
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
});

// 11. XSS reading tokens: "tokens are out of reach of scripts" in test/browser/client.test.ts.
// 12. Presence cookie dating the login: the presence cookie's value under "POST /auth/login" in test/routes.test.ts.
// 13. Logout refused or failed: "POST /auth/logout" in test/routes.test.ts, "a logout during an outage" in
// test/store-outage.test.ts, test/browser/logout.test.ts and test/pending-logouts.test.ts.
// 14. Password change while an attacker is logged in: here; also "revokeUser ends logins in flight" in
// test/revocation-feed.test.ts.
describe('Password change while an attacker is logged in', () => {
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
});

// 15. Instances whose clocks differ: test/clock-skew.test.ts.
// 16. Redis stalled, restarted empty, unreachable: here; also test/store-outage.test.ts, test/revocation-feed.test.ts,
// test/error-codes.test.ts, and "a 503 and a store error say nothing of their cause" in test/error-messages.test.ts.
describe('Redis stalled, restarted empty, unreachable', () => {
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
});

// 17. Leaked Redis data: "what the throttling keeps in Redis" in test/login-throttling.test.ts, "Redis counters" in
// test/rate-limit.test.ts, and "Redis holds only hashes of secrets" in test/redis-store.test.ts.
// 18. Forged revocation-channel messages: test/revocation-channel-auth.test.ts.
// 19. Growing the revocation log from one account: test/revocation-log-bounds.test.ts, and "successful logins per user" in
// test/login-throttling.test.ts.
// 20. Guessing and spraying passwords on /login: test/login-throttling.test.ts and test/rate-limit.test.ts.
// 21. A client flooding /refresh from a shared address: test/refresh-throttling.test.ts.
// 22. A proxy without trust proxy: test/trust-proxy-warning.test.ts, and "with NODE_ENV=production" in
// test/example-app.test.ts.

// 23. Malformed input: here; also the refused bodies under "POST /auth/login" in test/routes.test.ts (other charsets, the
// body kept out of the cause).
describe('Malformed input', () => {
  describe('requireAuth: malformed bearer requests are refused with 400 invalid_request (RFC 6750 §3.1)', () => {
    let target: Target;
    let token: string;

    beforeAll(async () => {
      target = await redisTarget({}, (app, auth) => {
        // A form-body route as an app would write one: the body is parsed before requireAuth runs.
        app.post('/api/form', express.urlencoded({ extended: false }), auth.requireAuth(), (req, res) => res.json(req.auth));
      });
      token = (await login(target.app)).accessToken;
    });

    test('control: the same token alone in the header is accepted, on GET and on a form POST', async () => {
      expect((await withAuthorization(target.app, `Bearer ${token}`)).status).toBe(200);
      expect((await withAuthorization(target.app, `Bearer ${token}`, '/api/me?not_access_token=x&q=access_token%3Dy')).status).toBe(200);
      const form = await request(target.app).post('/api/form').set('Authorization', `Bearer ${token}`).type('form').send({ note: 'access_token' });
      expect(form.status).toBe(200);
    });

    test('an Authorization header over the size limit: 400 from requireAuth, 431 from Node past its header limit, never 500', async () => {
      const limit = 8192;
      expectAnswer(await withAuthorization(target.app, `Bearer ${'a'.repeat(limit - 'Bearer '.length)}`), INVALID_TOKEN, 'exactly at the limit (control)');
      await expectRefused(
        target,
        [
          ['one character over', () => withAuthorization(target.app, `Bearer ${'a'.repeat(limit - 'Bearer '.length + 1)}`)],
          ['12 KB of token characters', () => withAuthorization(target.app, `Bearer ${'a.'.repeat(6000)}`)],
          ['a real token padded to 10 KB with spaces', () => withAuthorization(target.app, `Bearer ${token}${' '.repeat(10_000)}x`)],
          ['another scheme, 10 KB', () => withAuthorization(target.app, `Basic ${'A'.repeat(10_000)}`)],
          ['on the optional route', () => withAuthorization(target.app, `Bearer ${'a'.repeat(10_000)}`, '/api/maybe')],
        ],
        INVALID_REQUEST,
      );
      await expectRefused(target, [['20 KB (Node answers before Express)', () => withAuthorization(target.app, `Bearer ${'a'.repeat(20_000)}`)]], {
        status: 431,
      });
    });

    test('a malformed Bearer header: no token, two tokens, characters outside b64token', async () => {
      const values: string[] = [
        'Bearer',
        'Bearer ',
        'bearer',
        'BEARER    ',
        `Bearer ${token} ${token}`,
        `Bearer ${token}, Bearer ${token}`,
        `Bearer ${token},${token}`,
        'Bearer a b',
        `Bearer\t${token}`,
        `Bearer "${token}"`,
        `Bearer ${token};`,
        `Bearer ${token.replace('.', '$')}`,
        `Bearer ${token}=x`,
        'Bearer =abc',
        `Bearer ${token}\u00a0`,
      ];
      await expectRefused(
        target,
        values.map((value) => [value, () => withAuthorization(target.app, value)]),
        INVALID_REQUEST,
      );
      await expectRefused(
        target,
        values.map((value) => [`optional: ${value}`, () => withAuthorization(target.app, value, '/api/maybe')]),
        INVALID_REQUEST,
      );
    });

    test('a token in both the header and the query string, or the header and a form body', async () => {
      const paths = [
        `/api/me?access_token=${token}`,
        '/api/me?access_token=',
        '/api/me?access_token',
        `/api/me?page=2&access_token=${token}`,
        `/api/me?access%5Ftoken=${token}`,
        `/api/me?%61ccess_token=${token}`,
        `/api/maybe?access_token=${token}`,
      ];
      await expectRefused(
        target,
        [
          ...paths.map((path): [string, () => request.Test] => [path, () => withAuthorization(target.app, `Bearer ${token}`, path)]),
          ['form body', () => request(target.app).post('/api/form').set('Authorization', `Bearer ${token}`).type('form').send({ access_token: token })],
          [
            'form body and query',
            () =>
              request(target.app).post(`/api/form?access_token=${token}`).set('Authorization', `Bearer ${token}`).type('form').send({ access_token: token }),
          ],
        ],
        INVALID_REQUEST,
      );
    });
  });

  describe('router: wrong methods and bodies', () => {
    let target: Target;
    let refreshToken: string;

    beforeAll(async () => {
      target = await redisTarget();
      refreshToken = (await login(target.app)).refreshToken;
    });

    const postLogin = () => request(target.app).post('/auth/login').set('X-Requested-With', 'fetch');
    /** `[label, send]` pairs posting a login as each username with alice's password. */
    const loginsAs = (usernames: unknown[]): Array<[string, () => request.Test]> =>
      usernames.map((username) => [JSON.stringify(username).slice(0, 40), () => postLogin().send({ username, password: 'alice-password' })]);

    test('GET on /refresh, /logout and /login answers 404 or 405, never runs the route', async () => {
      const before = await storeSnapshot(target);
      for (const path of ['/login', '/refresh', '/logout', '/logout-all']) {
        for (const method of ['get', 'head'] as const) {
          const res = await request(target.app)[method](`/auth${path}`).set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);
          expect({ path, method, status: [404, 405].includes(res.status), setCookie: res.headers['set-cookie'] }).toEqual({
            path,
            method,
            status: true,
            setCookie: undefined,
          });
        }
      }
      expect(await storeSnapshot(target)).toEqual(before);
    });

    test('form, text and other non-JSON bodies on /login answer 415', async () => {
      const bodies: Array<[string, () => request.Test]> = [
        ['form-encoded', () => postLogin().type('form').send(CREDENTIALS)],
        ['text/plain holding JSON (the form-post trick)', () => postLogin().set('Content-Type', 'text/plain').send(JSON.stringify(CREDENTIALS))],
        ['multipart', () => postLogin().field('username', 'alice').field('password', 'alice-password')],
        ['text/json', () => postLogin().set('Content-Type', 'text/json').send(JSON.stringify(CREDENTIALS))],
        ['application/json-seq', () => postLogin().set('Content-Type', 'application/json-seq').send(JSON.stringify(CREDENTIALS))],
        [
          'no Content-Type',
          () =>
            postLogin()
              .set('Content-Type', '')
              .send(Buffer.from(JSON.stringify(CREDENTIALS))),
        ],
      ];
      await expectRefused(target, bodies, UNSUPPORTED_MEDIA_TYPE);
    });

    test('bodies over the limit (16384 bytes) answer 413, including a small gzip that inflates past it', async () => {
      const padded = (bytes: number) => JSON.stringify({ ...CREDENTIALS, pad: 'x'.repeat(bytes) });
      const inflating = gzipSync(padded(1_000_000));
      expect(inflating.length).toBeLessThan(16_384);
      await expectRefused(
        target,
        [
          ['just over the limit', () => postLogin().set('Content-Type', 'application/json').send(padded(16_384))],
          ['1 MB', () => postLogin().set('Content-Type', 'application/json').send(padded(1_000_000))],
          // serialize() as is: superagent would JSON-encode a Buffer sent as application/json
          [
            'gzip inflating to 1 MB',
            () =>
              postLogin()
                .set('Content-Type', 'application/json')
                .set('Content-Encoding', 'gzip')
                .serialize((raw: Buffer) => raw as never)
                .send(inflating),
          ],
        ],
        PAYLOAD_TOO_LARGE,
      );
    });

    test('usernames with NUL, CRLF, an RTL override, 10k characters, numbers or none answer 401, never 500', async () => {
      const usernames: unknown[] = [
        'alice\u0000',
        '\u0000alice',
        'alice\r\nSet-Cookie: x=y',
        'alice\n',
        '\u202Eecila',
        'alice\u202E',
        'a'.repeat(10_000),
        42,
        0,
        null,
      ];
      await expectRefused(target, loginsAs(usernames), INVALID_CREDENTIALS);
    });

    test('usernames that are objects, arrays or booleans answer 400 before any password is checked (a lookup may read ["alice"] as alice)', async () => {
      const usernames: unknown[] = [{ $ne: null }, { toString: 'alice' }, ['alice'], [], true];
      await expectRefused(target, loginsAs(usernames), { status: 400, body: { error: 'invalid_request', message: expect.any(String) } });
    });
  });

  describe('deep, compressed, escaped and oversized input is a 4xx, never a 500', () => {
    test('a deeply nested login body (about 8 KB, under bodyLimit) answers 400, not a 500 from a stack overflow', async () => {
      const { app } = await redisApp();
      const depth = 4000;
      const hidden = `{"username":"alice","password":"alice-password","p":${'['.repeat(depth)}{"__proto__":{"isAdmin":true}}${']'.repeat(depth)}}`;
      expect(Buffer.byteLength(hidden)).toBeLessThan(16_384);
      const res = await loginRequest(app).set('Content-Type', 'application/json').send(hidden);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: expect.any(String) });
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    test.each(['gzip', 'deflate', 'br'])(
      'a login body with a corrupt Content-Encoding: %s answers 400 invalid_request (br on Express 4: 415), not 500',
      async (encoding) => {
        const { app } = await redisApp();
        const res = await loginRequest(app).set('Content-Type', 'application/json').set('Content-Encoding', encoding).send('this is not compressed');
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

    test('a __proto__ key spelt with a JSON unicode escape ("\\u005f_proto__") answers 400', async () => {
      const { app } = await redisApp();
      const res = await loginRequest(app)
        .set('Content-Type', 'application/json')
        .send('{"username":"alice","password":"alice-password","\\u005f_proto__":{"isAdmin":true}}');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: expect.stringMatching(/__proto__/) });
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
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
});

// 24. Claims that break a session: test/authenticate.test.ts, and a __proto__ claim in test/browser/client.test.ts.
// 25. A throwing event listener: test/events.test.ts.
