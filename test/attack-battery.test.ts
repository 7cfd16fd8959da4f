// The attack battery: the threats of docs/security.md's table, in the table's order, one top-level describe (named
// like the row) for each row proven here. Each test asserts the status, the JSON body (and RFC 6750 challenge) and
// that nothing changed in the store: every Redis key, type, value and expiry. A row whose proof lives in a feature
// suite has a comment at its place instead, naming that suite.
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express, { type Express } from 'express';
import type Redis from 'ioredis';
import jwt, { type Algorithm } from 'jsonwebtoken';
import request from 'supertest';
import { type Auth, type AuthOptions, createAuth } from '../lib';
import {
  ACCESS_SECRET,
  authOptions,
  COOKIE,
  closeAll,
  keysUnder,
  login,
  memoryStore,
  REFRESH_SECRET,
  redisStore,
  refreshCookieOf,
  testApp,
} from './support/harness';
import { accessClaims, handmadeToken, nowSeconds, segment } from './support/tokens';

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
});

// 2. Poisoning the verified-token cache: test/verified-token-cache.test.ts, and "verified-token cache" in
// test/adversarial-review.test.ts.
// 3. Stolen access token: "revocation reaches requireAuth" in test/require-auth.test.ts, and test/revocation-feed.test.ts.
// 4. Access token sent to another origin: test/browser/token-origins.test.ts.
// 5. Stolen refresh token, replayed: "grace window (reuseGrace)" and "reuse detection" in test/rotation.test.ts, and
// "grace-window retries only for the client that rotated" in test/hardening.test.ts.
// 6. Forged refresh token: "a forged refresh token costs O(1) and revokes nothing" and "a refresh token is exactly the
// string issued" in test/hardening.test.ts.
// 7. Two tabs, a lost response: "rotation is atomic" and "grace window (reuseGrace)" in test/rotation.test.ts; the tabs in
// test/browser/client.test.ts.
// 8. Forged tab messages: test/browser/tab-messages.test.ts.

// 9. CSRF on /login, /refresh, /logout: here; also test/csrf-and-cookies.test.ts, and "CSRF: several Origin headers" in
// test/security-review.test.ts.
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
});

// 10. Cookie tossing: a duplicated cookie name in test/routes.test.ts and test/cookie-parser.test.ts, and "cookies: what
// held" in test/adversarial-review.test.ts.
// 11. XSS reading tokens: "tokens are out of reach of scripts" in test/browser/client.test.ts.
// 12. Presence cookie dating the login: the presence cookie's value under "POST /auth/login" in test/routes.test.ts.
// 13. Logout refused or failed: "POST /auth/logout" in test/routes.test.ts, "a logout during an outage" in
// test/store-outage.test.ts, test/browser/logout.test.ts and test/pending-logouts.test.ts.
// 14. Password change while an attacker is logged in: "revokeUser ends logins in flight" in test/revocation-feed.test.ts.
// 15. Instances whose clocks differ: test/clock-skew.test.ts.
// 16. Redis stalled, restarted empty, unreachable: test/store-outage.test.ts, test/revocation-feed.test.ts and
// test/error-codes.test.ts.
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
// body kept out of the cause), and "attacks found in review" in test/security-review.test.ts.
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
});

// 24. Claims that break a session: test/authenticate.test.ts, and a __proto__ claim in test/browser/client.test.ts.
// 25. A throwing event listener: "event listeners are isolated from requests" in test/hardening.test.ts, and "listeners
// that throw" in test/spec-gaps.test.ts.
