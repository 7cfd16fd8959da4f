// Access-token keys: rotation with `accessToken.keys`, kid selection and what it refuses, RFC 9068 typ, the JWKS, and other services checking our tokens with the verifier.
import { constants, createHash, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject, sign, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { type AccessTokenAlgorithm, type AccessTokenOptions, type Auth, type AuthOptions, createAuth, type SessionStore } from '../lib';
import { InvalidAccessTokenError } from '../lib/errors';
import { buildJwks, type Jwks, jwksHandler, PublishedKeys } from '../lib/http/jwks';
import { type AccessTokenKeyOptions, resolveOptions } from '../lib/options';
import { appClaims } from '../lib/shared/claims';
import { type AccessTokenCodec, createAccessTokenCodec } from '../lib/tokens/access-token';
import { jwkThumbprint } from '../lib/tokens/signing-keys';
import { createVerifier, type Verifier } from '../lib/verifier';
import {
  ACCESS_SECRET,
  authOptions,
  closeClients,
  closeMemoryStores,
  expectAccessRejected,
  login,
  me,
  memoryStore,
  redisClient,
  refresh,
  refreshCookieOf,
  uniquePrefix,
} from './support/harness';

const auths: Auth[] = [];
afterAll(async () => {
  await Promise.all(auths.splice(0).map((auth) => auth.close()));
  await closeMemoryStores();
});

const JWKS_PATH = '/auth/.well-known/jwks.json';

type Json = Record<string, unknown>;
type KeyPair = { privateKey: KeyObject; publicKey: KeyObject };

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const decodePart = (part: string | undefined): Json => JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Json;
const headerOf = (token: string): Json => decodePart(token.split('.')[0]);
const payloadOf = (token: string): Json => decodePart(token.split('.')[1]);

/** What the router wiring will do, done by hand: the router at /auth, the JWKS at /auth/.well-known/jwks.json, a protected /api/me. */
function keyApp(store: SessionStore, accessToken: AccessTokenOptions, overrides: Partial<AuthOptions> = {}): { app: Express; jwks: Jwks; auth: Auth } {
  const options = authOptions(store, { accessToken: { ttl: '10m', ...accessToken }, ...overrides });
  const auth = createAuth(options);
  auths.push(auth);
  const resolved = resolveOptions(options).accessToken;
  const jwks = buildJwks(resolved);
  const app = express();
  app.use('/auth', auth.router); // its Cache-Control: no-store must not stick to the JWKS
  app.get(JWKS_PATH, jwksHandler(new PublishedKeys(resolved)));
  app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
  return { app, jwks, auth };
}

/** The codec `requireAuth` uses, for the options given (to test it below the HTTP layer). */
function codecFor(accessToken: AccessTokenOptions): AccessTokenCodec {
  return createAccessTokenCodec(resolveOptions(authOptions(memoryStore(), { accessToken })).accessToken);
}

function expectCodecRefuses(codec: AccessTokenCodec, token: string, reason: RegExp): void {
  let caught: unknown;
  try {
    codec.verify(token);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidAccessTokenError);
  expect((caught as Error).message).toMatch(reason);
}

/**
 * A refusal over HTTP that may come before the codec: 401 invalid_token, or 400 invalid_request when
 * requireAuth refuses the Authorization header itself as too large. Never 431 or 500.
 */
async function expectBearerRefusal(app: Express, token: string): Promise<void> {
  const res = await me(app, token);
  expect([400, 401]).toContain(res.status);
  const error = res.status === 401 ? 'invalid_token' : 'invalid_request';
  // A malformed request also says what was wrong with it; a refused token says nothing more.
  expect(res.body).toEqual(res.status === 401 ? { error } : { error, message: 'The Authorization header is too large' });
  expect(res.headers['www-authenticate']).toBe(`Bearer realm="api", error="${error}"`);
}

/** Signs a JWS by hand (no library code), per RFC 7518, whatever the header says. */
function signJws(algorithm: AccessTokenAlgorithm, header: Json, payload: Json, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const data = Buffer.from(input);
  const digest = `sha${algorithm.slice(2)}`;
  let signature: Buffer;
  switch (algorithm.slice(0, 2)) {
    case 'RS':
      signature = sign(digest, data, key);
      break;
    case 'PS':
      signature = sign(digest, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
      break;
    case 'ES':
      signature = sign(digest, data, { key, dsaEncoding: 'ieee-p1363' });
      break;
    default:
      signature = sign(null, data, key);
  }
  return `${input}.${signature.toString('base64url')}`;
}

/** Checks a JWS signature by hand with a public key, per RFC 7518. */
function signatureValid(algorithm: AccessTokenAlgorithm, token: string, key: KeyObject): boolean {
  const [h, p, s] = token.split('.');
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s ?? '', 'base64url');
  const digest = `sha${algorithm.slice(2)}`;
  switch (algorithm.slice(0, 2)) {
    case 'RS':
      return verify(digest, data, key, signature);
    case 'PS':
      return verify(digest, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    case 'ES':
      return verify(digest, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    default:
      return verify(null, data, key, signature);
  }
}

/** The RFC 7638 thumbprint, computed here independently of lib/tokens/signing-keys. */
function thumbprintOf(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const members = ({ RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] } as Record<string, string[]>)[jwk.kty as string] ?? [];
  const canonical = `{${members.map((name) => `${JSON.stringify(name)}:${JSON.stringify(jwk[name])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** Claims for a crafted token: those of a real session's token, with a fresh jti and lifetime. */
function freshClaims(realToken: string, patch: Json = {}): Json {
  const now = Math.floor(Date.now() / 1000);
  return { ...payloadOf(realToken), jti: `crafted-${Math.random().toString(36).slice(2)}`, iat: now, exp: now + 120, ...patch };
}

const PAIRS: Record<'RS256' | 'ES256' | 'EdDSA', () => KeyPair> = {
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
  EdDSA: () => generateKeyPairSync('ed25519'),
};
const ROTATION_ALGORITHMS = Object.keys(PAIRS) as Array<keyof typeof PAIRS>;

describe.each(ROTATION_ALGORITHMS)('%s key rotation with accessToken.keys', (algorithm) => {
  const keyA = PAIRS[algorithm]();
  const keyB = PAIRS[algorithm]();

  test('tokens of key A still work after a restart with keys [B, A]; new and refreshed tokens carry kid B; dropping A refuses them', async () => {
    const store = memoryStore();
    const v1 = keyApp(store, { algorithm, keys: [{ kid: 'key-a', privateKey: keyA.privateKey }] });
    const first = await login(v1.app);
    expect(headerOf(first.accessToken)).toEqual({ alg: algorithm, typ: 'at+jwt', kid: 'key-a' });
    expect(signatureValid(algorithm, first.accessToken, keyA.publicKey)).toBe(true);
    expect((await me(v1.app, first.accessToken)).status).toBe(200);

    // Restart: B signs, A (public half only) still verifies.
    const v2 = keyApp(store, {
      algorithm,
      keys: [
        { kid: 'key-b', privateKey: keyB.privateKey },
        { kid: 'key-a', publicKey: keyA.publicKey },
      ],
    });
    expect((await me(v2.app, first.accessToken)).status).toBe(200);

    const second = await login(v2.app, 'bob');
    expect(headerOf(second.accessToken)).toEqual({ alg: algorithm, typ: 'at+jwt', kid: 'key-b' });
    expect(signatureValid(algorithm, second.accessToken, keyB.publicKey)).toBe(true);
    expect(signatureValid(algorithm, second.accessToken, keyA.publicKey)).toBe(false);
    expect((await me(v2.app, second.accessToken)).status).toBe(200);

    // The session started under A refreshes under B: nobody is logged out.
    const rotated = await refresh(v2.app, first.refreshToken);
    expect(rotated.status).toBe(200);
    expect(refreshCookieOf(rotated)).toBeTruthy();
    const refreshed = rotated.body.accessToken as string;
    expect(headerOf(refreshed).kid).toBe('key-b');
    expect((await me(v2.app, refreshed)).status).toBe(200);

    expect(v2.jwks.keys.map((key) => key.kid)).toEqual(['key-b', 'key-a']);

    // A retired for good: its tokens are refused, B's still work.
    const v3 = keyApp(store, { algorithm, keys: [{ kid: 'key-b', privateKey: keyB.privateKey }] });
    await expectAccessRejected(v3.app, first.accessToken);
    expect((await me(v3.app, second.accessToken)).status).toBe(200);
    expect((await me(v3.app, refreshed)).status).toBe(200);
    expect(v3.jwks.keys.map((key) => key.kid)).toEqual(['key-b']);
  });

  test('staged roll-out: instances with [A, B public] already accept the tokens of instances with [B, A]', async () => {
    const store = memoryStore();
    const staged = keyApp(store, {
      algorithm,
      keys: [
        { kid: 'key-a', privateKey: keyA.privateKey },
        { kid: 'key-b', publicKey: keyB.publicKey },
      ],
    });
    const switched = keyApp(store, {
      algorithm,
      keys: [
        { kid: 'key-b', privateKey: keyB.privateKey },
        { kid: 'key-a', publicKey: keyA.publicKey },
      ],
    });
    const old = keyApp(store, { algorithm, keys: [{ kid: 'key-a', privateKey: keyA.privateKey }] });

    const fromStaged = (await login(staged.app)).accessToken;
    const fromSwitched = (await login(switched.app)).accessToken;
    expect(headerOf(fromStaged).kid).toBe('key-a'); // staged instances still sign with A
    expect(headerOf(fromSwitched).kid).toBe('key-b');
    for (const app of [staged.app, switched.app]) {
      expect((await me(app, fromStaged)).status).toBe(200);
      expect((await me(app, fromSwitched)).status).toBe(200);
    }
    // Why the staging step matters: an instance that never heard of B refuses B's tokens.
    await expectAccessRejected(old.app, fromSwitched);
    expect(staged.jwks.keys.map((key) => key.kid)).toEqual(['key-a', 'key-b']);
  });

  test('a single privateKey gets its RFC 7638 thumbprint as kid; moved into keys without a kid, it keeps it', async () => {
    const store = memoryStore();
    const single = keyApp(store, { algorithm, privateKey: keyA.privateKey });
    const token = (await login(single.app)).accessToken;
    const thumbprint = thumbprintOf(keyA.publicKey);
    expect(headerOf(token)).toEqual({ alg: algorithm, typ: 'at+jwt', kid: thumbprint });
    expect(single.jwks.keys.map((key) => key.kid)).toEqual([thumbprint]);

    // Stable across restarts and instances, and the same whether the public key is given or derived.
    const again = keyApp(store, { algorithm, privateKey: keyA.privateKey, publicKey: keyA.publicKey });
    expect(headerOf((await login(again.app)).accessToken).kid).toBe(thumbprint);

    const rotated = keyApp(store, { algorithm, keys: [{ kid: 'key-b', privateKey: keyB.privateKey }, { publicKey: keyA.publicKey }] });
    expect((await me(rotated.app, token)).status).toBe(200);
    expect(rotated.jwks.keys.map((key) => key.kid)).toEqual(['key-b', thumbprint]);
  });

  test('a token without kid is checked against the signing key only (tokens issued before kids)', async () => {
    const store = memoryStore();
    const { app } = keyApp(store, {
      algorithm,
      keys: [
        { kid: 'key-b', privateKey: keyB.privateKey },
        { kid: 'key-a', publicKey: keyA.publicKey },
      ],
    });
    const real = (await login(app)).accessToken;
    expect((await me(app, signJws(algorithm, { alg: algorithm, typ: 'at+jwt' }, freshClaims(real), keyB.privateKey))).status).toBe(200);
    await expectAccessRejected(app, signJws(algorithm, { alg: algorithm, typ: 'at+jwt' }, freshClaims(real), keyA.privateKey));
  });
});

describe.each(ROTATION_ALGORITHMS)('%s: the kid picks the key, from the configured keys only', (algorithm) => {
  const keyA = PAIRS[algorithm]();
  const keyB = PAIRS[algorithm]();
  const attacker = PAIRS[algorithm]();
  let app: Express;
  let real: string;
  const codec = codecFor({
    algorithm,
    keys: [
      { kid: 'key-b', privateKey: keyB.privateKey },
      { kid: 'key-a', privateKey: keyA.privateKey },
    ],
  });

  const craft = (header: Json, key: KeyObject, patch: Json = {}): string =>
    signJws(algorithm, { alg: algorithm, typ: 'at+jwt', ...header }, freshClaims(real, patch), key);

  beforeAll(async () => {
    app = keyApp(memoryStore(), {
      algorithm,
      keys: [
        { kid: 'key-b', privateKey: keyB.privateKey },
        { kid: 'key-a', privateKey: keyA.privateKey },
      ],
    }).app;
    real = (await login(app)).accessToken;
  });

  test('hand-signed tokens naming the right key are accepted (control for the tests below)', async () => {
    expect((await me(app, craft({ kid: 'key-b' }, keyB.privateKey))).status).toBe(200);
    expect((await me(app, craft({ kid: 'key-a' }, keyA.privateKey))).status).toBe(200);
  });

  test('the codec says why: unknown kid, invalid kid', () => {
    expectCodecRefuses(codec, craft({ kid: 'key-c' }, keyB.privateKey), /^unknown kid$/);
    expectCodecRefuses(codec, craft({ kid: '../../etc/passwd' }, keyB.privateKey), /^unknown kid$/);
    expectCodecRefuses(codec, craft({ kid: 'k'.repeat(65) }, keyB.privateKey), /^invalid kid$/);
    expectCodecRefuses(codec, craft({ kid: 7 }, keyB.privateKey), /^invalid kid$/);
    expect(codec.verify(craft({ kid: 'key-a' }, keyA.privateKey)).sub).toBe('user-alice');
  });

  test('a token naming the other configured key is refused: keys are not tried in turn', async () => {
    await expectAccessRejected(app, craft({ kid: 'key-a' }, keyB.privateKey));
    await expectAccessRejected(app, craft({ kid: 'key-b' }, keyA.privateKey));
  });

  test.each<[string, unknown]>([
    ['an unknown kid', 'key-c'],
    ['a path as kid', '../../etc/passwd'],
    ['a URL as kid', 'https://evil.example/jwks.json'],
    ['an empty kid', ''],
    ['a 65-character kid', 'k'.repeat(65)],
    ['a numeric kid', 1],
    ['a null kid', null],
    ['an array kid', ['key-b']],
    ['an object kid', { kid: 'key-b' }],
    ['__proto__ as kid', '__proto__'],
    ['constructor as kid', 'constructor'],
    ['a kid differing only in case', 'KEY-B'],
  ])('%s is refused with 401 (signed with the signing key)', async (_label, kid) => {
    await expectAccessRejected(app, craft({ kid }, keyB.privateKey));
  });

  test.each([1024, 5000])('a %d-character kid is refused with 401 (the token still fits an ordinary Authorization header)', async (length) => {
    const token = craft({ kid: 'k'.repeat(length) }, keyB.privateKey);
    expect(token.length).toBeLessThan(8000);
    await expectAccessRejected(app, token);
  });

  test('a 10 KB kid is refused by the codec, and over HTTP is a 4xx bearer error, never 431 or 500', async () => {
    const token = craft({ kid: 'k'.repeat(10 * 1024) }, keyB.privateKey);
    expect(token.length).toBeGreaterThan(13_000);
    expectCodecRefuses(codec, token, /jwt header too large/);
    await expectBearerRefusal(app, token);
  });

  describe('jwk, jku, x5u and x5c headers are never used', () => {
    let hits = 0;
    let server: Server;
    let url: string;

    beforeAll(async () => {
      // The attacker's own key set: if the library ever fetched jku/x5u, it would find its key here.
      const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: algorithm, use: 'sig' };
      server = createServer((_req, res) => {
        hits += 1;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ keys: [attackerJwk] }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    test("a token signed by the attacker's key carrying that key as jwk is refused, whatever its kid", async () => {
      const jwk = attacker.publicKey.export({ format: 'jwk' });
      await expectAccessRejected(app, craft({ jwk }, attacker.privateKey));
      await expectAccessRejected(app, craft({ jwk, kid: 'key-b' }, attacker.privateKey));
      await expectAccessRejected(app, craft({ jwk: { ...jwk, kid: 'attacker' }, kid: 'attacker' }, attacker.privateKey));
      await expectAccessRejected(app, craft({ jwk, kid: thumbprintOf(attacker.publicKey) }, attacker.privateKey));
    });

    test('jku and x5u pointing at the attacker are never fetched, and the tokens are refused', async () => {
      await expectAccessRejected(app, craft({ jku: url }, attacker.privateKey));
      await expectAccessRejected(app, craft({ jku: url, kid: 'attacker' }, attacker.privateKey));
      await expectAccessRejected(app, craft({ jku: url, kid: 'key-b' }, attacker.privateKey));
      await expectAccessRejected(app, craft({ x5u: url, kid: 'key-b' }, attacker.privateKey));
      await expectAccessRejected(app, craft({ x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'], kid: 'key-b' }, attacker.privateKey));
      expect(hits).toBe(0);
      // The attacker's server does work (control): it is just never asked.
      expect((await fetch(url)).status).toBe(200);
      expect(hits).toBe(1);
    });

    test('those headers are ignored, not trusted: our own signature with them still verifies against our key', async () => {
      const jwk = attacker.publicKey.export({ format: 'jwk' });
      expect((await me(app, craft({ kid: 'key-b', jwk, jku: url, x5u: url }, keyB.privateKey))).status).toBe(200);
      expect(hits).toBe(1);
    });
  });

  test('the algorithm stays pinned: an HS256 token keyed with a published public key is refused', async () => {
    const publicJwk = JSON.stringify(keyB.publicKey.export({ format: 'jwk' }));
    const publicPem = keyB.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const secret of [publicJwk, publicPem]) {
      const forged = jwt.sign(freshClaims(real), secret, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt', kid: 'key-b' } });
      await expectAccessRejected(app, forged);
    }
  });

  test('a header with crit is refused (no critical extension is understood)', async () => {
    await expectAccessRejected(app, craft({ kid: 'key-b', crit: ['exp'] }, keyB.privateKey));
    await expectAccessRejected(app, craft({ kid: 'key-b', crit: ['b64'], b64: false }, keyB.privateKey));
  });

  test.each(['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+JWT', 'APPLICATION/AT+JWT'])('typ %p is accepted (RFC 9068 §4)', async (typ) => {
    expect((await me(app, craft({ kid: 'key-b', typ }, keyB.privateKey))).status).toBe(200);
  });

  test.each<unknown>([
    'JWT',
    'jwt',
    'application/jwt',
    'at+jwt; charset=utf-8',
    ' at+jwt',
    'application/at+jwt+x',
    'text/at+jwt',
    'at-jwt',
    '',
    1,
    null,
    ['at+jwt'],
  ])('typ %p is refused', async (typ) => {
    await expectAccessRejected(app, craft({ kid: 'key-b', typ }, keyB.privateKey));
  });

  test('a token without typ is refused', async () => {
    await expectAccessRejected(app, signJws(algorithm, { alg: algorithm, kid: 'key-b' }, freshClaims(real), keyB.privateKey));
  });
});

describe('HS256', () => {
  let app: Express;
  let jwks: Jwks;
  let real: string;
  beforeAll(async () => {
    ({ app, jwks } = keyApp(memoryStore(), { algorithm: 'HS256', secret: ACCESS_SECRET }));
    real = (await login(app)).accessToken;
  });

  const hs256 = (header: Json): string =>
    jwt.sign(freshClaims(real), ACCESS_SECRET, { algorithm: 'HS256', header: { alg: 'HS256', ...header } as jwt.JwtHeader });

  test("issue: the app's claims are in the payload beside the library's own, which win over a claim of the same name (as a store might hand back); a JSON-made __proto__ claim stays a claim, in the token and in req.auth.claims; no claims at all is none", () => {
    const codec = codecFor({ algorithm: 'HS256', secret: ACCESS_SECRET, issuer: 'https://issuer.test', audience: 'api' });
    const now = Date.now();
    const claims = JSON.parse('{"role":"admin","tier":3,"sub":"mallory","iss":"https://evil.test","__proto__":{"polluted":true}}') as Record<string, unknown>;
    const { token } = codec.issue({ userId: 'alice', sessionId: 'session-1', claims, now, sessionExpiresAt: now + 3_600_000, authTime: now - 5000 });
    const payload = payloadOf(token);
    expect(payload).toMatchObject({
      role: 'admin',
      tier: 3,
      sub: 'alice',
      sid: 'session-1',
      iss: 'https://issuer.test',
      aud: 'api',
      auth_time: (now - 5000) / 1000,
    });
    expect(Object.hasOwn(payload, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(payload, '__proto__')?.value).toEqual({ polluted: true });
    expect(codec.verify(token)).toMatchObject({ role: 'admin', sub: 'alice', iss: 'https://issuer.test' });
    // What requireAuth hands the app as req.auth.claims keeps it as a claim too, rather than as its prototype.
    const appOwn = appClaims(codec.verify(token));
    expect(Object.keys(appOwn)).toEqual(['role', 'tier', '__proto__']);
    expect(Object.getPrototypeOf(appOwn)).toBe(Object.prototype);
    // A custom SessionStore may hand back no claims at all (say, a NULL column): the token has none, as before.
    for (const none of [null, undefined]) {
      const bare = codec.issue({
        userId: 'bob',
        sessionId: 'session-2',
        claims: none as unknown as Record<string, unknown>,
        now,
        sessionExpiresAt: now + 3_600_000,
        authTime: now,
      });
      expect(Object.keys(payloadOf(bare.token)).sort()).toEqual(['aud', 'auth_time', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub']);
    }
  });

  test('tokens carry no kid, and the JWKS is empty, with the cache headers', async () => {
    expect(headerOf(real)).toEqual({ alg: 'HS256', typ: 'at+jwt' });
    expect(jwks).toEqual({ keys: [] });
    const res = await request(app).get(JWKS_PATH);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ keys: [] });
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.text).not.toContain(ACCESS_SECRET);
    expect(res.text).not.toContain(Buffer.from(ACCESS_SECRET).toString('base64url'));
  });

  test('application/at+jwt is accepted; a kid, never configured for HS256, is refused', async () => {
    expect((await me(app, hs256({ typ: 'at+jwt' }))).status).toBe(200);
    expect((await me(app, hs256({ typ: 'application/at+jwt' }))).status).toBe(200);
    expect((await me(app, hs256({ typ: 'Application/AT+JWT' }))).status).toBe(200);
    await expectAccessRejected(app, hs256({ typ: 'JWT' }));
    await expectAccessRejected(app, hs256({ typ: 'at+jwt', kid: 'any' }));
    await expectAccessRejected(app, hs256({ typ: 'at+jwt', kid: '../../etc/passwd' }));
    await expectAccessRejected(app, hs256({ typ: 'at+jwt', kid: 'k'.repeat(5000) }));
    const huge = hs256({ typ: 'at+jwt', kid: 'k'.repeat(10 * 1024) });
    expectCodecRefuses(codecFor({ algorithm: 'HS256', secret: ACCESS_SECRET }), huge, /jwt header too large/);
    await expectBearerRefusal(app, huge);
  });
});

const PRIVATE_MEMBERS = ['d', 'k', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

interface JwksCase {
  name: string;
  algorithm: AccessTokenAlgorithm;
  pair: () => KeyPair;
  kty: string;
  members: string[];
  crv?: string;
}

const JWKS_CASES: JwksCase[] = [
  { name: 'RS256', algorithm: 'RS256', pair: () => generateKeyPairSync('rsa', { modulusLength: 2048 }), kty: 'RSA', members: ['n', 'e'] },
  { name: 'RS512 (3072-bit)', algorithm: 'RS512', pair: () => generateKeyPairSync('rsa', { modulusLength: 3072 }), kty: 'RSA', members: ['n', 'e'] },
  { name: 'PS256 with an RSA key', algorithm: 'PS256', pair: () => generateKeyPairSync('rsa', { modulusLength: 2048 }), kty: 'RSA', members: ['n', 'e'] },
  {
    name: 'PS256 with an RSASSA-PSS key',
    algorithm: 'PS256',
    pair: () => generateKeyPairSync('rsa-pss', { modulusLength: 2048, hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256' }),
    kty: 'RSA',
    members: ['n', 'e'],
  },
  { name: 'ES256', algorithm: 'ES256', pair: () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), kty: 'EC', members: ['x', 'y'], crv: 'P-256' },
  { name: 'ES384', algorithm: 'ES384', pair: () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }), kty: 'EC', members: ['x', 'y'], crv: 'P-384' },
  { name: 'ES512', algorithm: 'ES512', pair: () => generateKeyPairSync('ec', { namedCurve: 'secp521r1' }), kty: 'EC', members: ['x', 'y'], crv: 'P-521' },
  { name: 'EdDSA with Ed25519', algorithm: 'EdDSA', pair: () => generateKeyPairSync('ed25519'), kty: 'OKP', members: ['x'], crv: 'Ed25519' },
  { name: 'EdDSA with Ed448', algorithm: 'EdDSA', pair: () => generateKeyPairSync('ed448'), kty: 'OKP', members: ['x'], crv: 'Ed448' },
];

describe('a retired key: accessToken.keys[].notAfter', () => {
  const keyA = PAIRS.ES256();
  const keyB = PAIRS.ES256();
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  test('until notAfter its tokens verify and it is published; from then on they are refused (even ones verified before) and it leaves the JWKS', async () => {
    const store = memoryStore();
    const old = keyApp(store, { algorithm: 'ES256', keys: [{ kid: 'key-a', privateKey: keyA.privateKey }] });
    const first = await login(old.app);
    const notAfter = new Date(Date.now() + 1500);
    const current = keyApp(store, {
      algorithm: 'ES256',
      keys: [
        { kid: 'key-b', privateKey: keyB.privateKey },
        { kid: 'key-a', publicKey: keyA.publicKey, notAfter },
      ],
    });
    expect((await me(current.app, first.accessToken)).status).toBe(200); // verified, and remembered
    const before = await request(current.app).get(JWKS_PATH);
    expect((before.body.keys as Json[]).map((key) => key.kid)).toEqual(['key-b', 'key-a']);
    expect(current.auth.jwks.keys.map((key) => key.kid)).toEqual(['key-b', 'key-a']);
    // No cache may keep the key past its notAfter: max-age ends with it.
    const maxAge = Number(/max-age=(\d+)/.exec(before.headers['cache-control'] as string)?.[1]);
    expect(maxAge).toBeLessThanOrEqual(2);

    await sleep(notAfter.getTime() - Date.now() + 20);
    await expectAccessRejected(current.app, first.accessToken);
    const crafted = signJws('ES256', headerOf(first.accessToken), freshClaims(first.accessToken), keyA.privateKey);
    await expectAccessRejected(current.app, crafted);
    const after = await request(current.app).get(JWKS_PATH);
    expect((after.body.keys as Json[]).map((key) => key.kid)).toEqual(['key-b']);
    expect(after.headers['cache-control']).toBe('public, max-age=300');
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect(current.auth.jwks.keys.map((key) => key.kid)).toEqual(['key-b']);
    // The session started under A goes on under B.
    const rotated = await refresh(current.app, first.refreshToken);
    expect(rotated.status).toBe(200);
    expect((await me(current.app, rotated.body.accessToken as string)).status).toBe(200);
  });

  test('the codec says why: retired kid', () => {
    const codec = codecFor({
      algorithm: 'ES256',
      keys: [
        { kid: 'key-b', privateKey: keyB.privateKey },
        { kid: 'key-a', publicKey: keyA.publicKey, notAfter: '2020-01-01T00:00:00Z' },
      ],
    });
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'user-alice', sid: 'a-session', jti: 'j', iat: now, exp: now + 60, auth_time: now };
    expectCodecRefuses(codec, signJws('ES256', { alg: 'ES256', typ: 'at+jwt', kid: 'key-a' }, claims, keyA.privateKey), /retired kid/);
    expect(codec.verify(signJws('ES256', { alg: 'ES256', typ: 'at+jwt', kid: 'key-b' }, claims, keyB.privateKey)).sub).toBe('user-alice');
  });

  test('a key whose notAfter passed before start-up is accepted as configuration (a restart never fails for time passing), never published, never trusted', async () => {
    const store = memoryStore();
    const old = keyApp(store, { algorithm: 'ES256', keys: [{ kid: 'key-a', privateKey: keyA.privateKey }] });
    const token = (await login(old.app)).accessToken;
    const current = keyApp(store, {
      algorithm: 'ES256',
      keys: [
        { kid: 'key-b', privateKey: keyB.privateKey },
        { kid: 'key-a', publicKey: keyA.publicKey, notAfter: new Date(Date.now() - 1000) },
      ],
    });
    await expectAccessRejected(current.app, token);
    expect(current.auth.jwks.keys.map((key) => key.kid)).toEqual(['key-b']);
    const res = await request(current.app).get(JWKS_PATH);
    expect((res.body.keys as Json[]).map((key) => key.kid)).toEqual(['key-b']);
    expect(res.headers['cache-control']).toBe('public, max-age=300');
  });
});

describe.each(JWKS_CASES)('GET /.well-known/jwks.json, $name', (c) => {
  const signing = c.pair();
  const retired = c.pair();
  let app: Express;
  let jwks: Jwks;

  beforeAll(() => {
    // Private keys for both, so the test proves the retired key's private half is not published either.
    ({ app, jwks } = keyApp(memoryStore(), {
      algorithm: c.algorithm,
      keys: [
        { kid: 'current', privateKey: signing.privateKey },
        { kid: 'retired', privateKey: retired.privateKey },
      ],
    }));
  });

  test('publishes every verifying key, signing one first, public members only, with kid, alg and use', async () => {
    const res = await request(app).get(JWKS_PATH);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(jwks)));
    const keys = res.body.keys as Json[];
    expect(keys.map((key) => key.kid)).toEqual(['current', 'retired']);
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'kid', 'kty', 'use', ...c.members, ...(c.crv ? ['crv'] : [])].sort());
      expect(key).toMatchObject({ kty: c.kty, alg: c.algorithm, use: 'sig', ...(c.crv ? { crv: c.crv } : {}) });
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
    }
    // Nothing of the private keys anywhere in the body.
    for (const pair of [signing, retired]) {
      const privateJwk = (c.kty === 'RSA' && pair.privateKey.asymmetricKeyType === 'rsa-pss' ? {} : pair.privateKey.export({ format: 'jwk' })) as Record<
        string,
        string
      >;
      for (const member of PRIVATE_MEMBERS) if (privateJwk[member]) expect(res.text).not.toContain(privateJwk[member]);
    }
    expect(res.text).not.toMatch(/"(d|k|p|q|dp|dq|qi)"/);
  });

  test("answers with Cache-Control: public, max-age=300 (not the router's no-store) and an ETag; If-None-Match gets 304", async () => {
    const res = await request(app).get(JWKS_PATH);
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    const etag = res.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await request(app).get(JWKS_PATH).set('If-None-Match', etag);
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const head = await request(app).head(JWKS_PATH);
    expect(head.status).toBe(200);
    expect(head.headers.etag).toBe(etag);
    expect((await request(app).post(JWKS_PATH)).status).toBe(404);
  });

  test('the published key verifies our tokens, and its kid is the one they carry', async () => {
    const token = (await login(app)).accessToken;
    expect(headerOf(token).kid).toBe('current');
    const published = jwks.keys.find((key) => key.kid === headerOf(token).kid) as JsonWebKey;
    const key = createPublicKey({ key: published, format: 'jwk' });
    expect(key.asymmetricKeyType).toBe(c.kty === 'RSA' ? 'rsa' : c.kty === 'EC' ? 'ec' : c.crv?.toLowerCase());
    expect(signatureValid(c.algorithm, token, key)).toBe(true);
    const retiredKey = createPublicKey({ key: jwks.keys[1] as JsonWebKey, format: 'jwk' });
    expect(signatureValid(c.algorithm, token, retiredKey)).toBe(false);
  });

  test('a default kid is the RFC 7638 thumbprint of the published key', () => {
    const { jwks: single } = keyApp(memoryStore(), { algorithm: c.algorithm, privateKey: signing.privateKey });
    const [published] = single.keys;
    expect(published?.kid).toBe(jwkThumbprint(createPublicKey(signing.privateKey)));
    expect(published?.kid).toBe(thumbprintOf(createPublicKey({ key: published as JsonWebKey, format: 'jwk' })));
  });
});

test('jwkThumbprint matches the RFC 7638 §3.1 example', () => {
  const key = createPublicKey({
    format: 'jwk',
    key: {
      kty: 'RSA',
      e: 'AQAB',
      n:
        '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMst' +
        'n64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n9' +
        '1CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    },
  });
  expect(jwkThumbprint(key)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
});

// ---------------------------------------------------------------------------------------------
// Another service checking our tokens from the published JWKS: express-refresh-tokens/verifier.
// ---------------------------------------------------------------------------------------------

describe.each(['RS256', 'ES256', 'PS256', 'EdDSA'] as const)('another service with the verifier and the JWKS, %s', (algorithm) => {
  const pair = (): KeyPair =>
    algorithm === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : algorithm === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyA = pair();
  const keyB = pair();
  const ISSUER = 'https://auth.example';
  const AUDIENCE = 'api';
  let server: Server;
  let jwksUrl: string;
  let current: Express;
  let feedKey: string;
  let jwksRequests = 0;
  let rotate: () => void;

  beforeAll(async () => {
    const store = memoryStore();
    const settings = { algorithm, issuer: ISSUER, audience: AUDIENCE };
    const before = keyApp(store, { ...settings, keys: [{ kid: 'key-a', privateKey: keyA.privateKey }] });
    const after = keyApp(store, {
      ...settings,
      keys: [
        { kid: 'key-b', privateKey: keyB.privateKey },
        { kid: 'key-a', publicKey: keyA.publicKey },
      ],
    });
    current = before.app;
    feedKey = before.auth.revocationFeedKey();
    // The auth service: whichever version is "deployed" answers; the JWKS requests are counted.
    server = createServer((req, res) => {
      if (req.url === JWKS_PATH) jwksRequests += 1;
      current(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${JWKS_PATH}`;
    rotate = () => {
      current = after.app;
    };
  });

  afterAll(async () => {
    await Promise.all(verifiers.splice(0).map((verifier) => verifier.close()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await closeClients();
  });

  const verifiers: Verifier[] = [];
  /** The other service: GET /orders behind the verifier (keys from the JWKS; its feed on a Redis of its own here). */
  async function otherService(keyRefetchCooldown: string | number): Promise<(token: string) => request.Test> {
    const verifier = createVerifier({
      jwksUri: jwksUrl,
      keyRefetchCooldown,
      algorithms: [algorithm],
      issuer: ISSUER,
      audience: AUDIENCE,
      redis: { client: await redisClient(), prefix: uniquePrefix() },
      revocation: { feedKey },
    });
    verifiers.push(verifier);
    await verifier.ready();
    const app = express();
    app.get('/orders', verifier.requireAuth(), (req, res) => res.json({ user: req.auth?.userId, iss: req.auth?.payload.iss }));
    return (token) => request(app).get('/orders').set('Authorization', `Bearer ${token}`);
  }

  test('verifies our tokens, refuses forged, tampered, HS-signed and untyped ones, and picks up a rotated key after one refetch', async () => {
    const orders = await otherService(0);
    const first = (await login(current)).accessToken;
    const fetchedAtStart = jwksRequests;
    expect((await orders(first)).body).toEqual({ user: 'user-alice', iss: ISSUER });
    expect((await orders(first)).status).toBe(200);
    expect(jwksRequests).toBe(fetchedAtStart); // the keys were fetched at start, and are kept

    // Forged with another key under our kid; tampered; the HS256 confusion; a plain JWT.
    const forger = pair();
    expect((await orders(signJws(algorithm, headerOf(first), payloadOf(first), forger.privateKey))).status).toBe(401);
    const [h, , s] = first.split('.');
    expect((await orders(`${h}.${b64({ ...payloadOf(first), sub: 'user-bob' })}.${s}`)).status).toBe(401);
    const hs = jwt.sign(payloadOf(first), 'secret', { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt', kid: 'key-a' } });
    expect((await orders(hs)).status).toBe(401);
    expect((await orders(signJws(algorithm, { ...headerOf(first), typ: 'JWT' }, payloadOf(first), keyA.privateKey))).status).toBe(401);

    // The service rotates to B: the first B token makes one refetch, and passes; A's tokens still do.
    rotate();
    const second = (await login(current)).accessToken;
    expect(headerOf(second).kid).toBe('key-b');
    const beforeRotation = jwksRequests;
    expect((await orders(second)).status).toBe(200);
    expect(jwksRequests).toBe(beforeRotation + 1);
    expect((await orders(first)).status).toBe(200);
  });

  test('unknown kids do not hammer the JWKS: within the cooldown they are refused without a fetch', async () => {
    const orders = await otherService('30s');
    const token = (await login(current)).accessToken;
    expect((await orders(token)).status).toBe(200);
    const requests = jwksRequests;
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => orders(signJws(algorithm, { ...headerOf(token), kid: `nope-${i}` }, payloadOf(token), keyB.privateKey))),
    );
    expect(answers.map((res) => res.status)).toEqual([401, 401, 401, 401, 401]);
    expect(jwksRequests).toBe(requests);
  });
});

// ---------------------------------------------------------------------------------------------
// Option errors
// ---------------------------------------------------------------------------------------------

function thrown(accessToken: Record<string, unknown>): Error {
  try {
    createAuth(authOptions(memoryStore(), { accessToken: accessToken as AccessTokenOptions }));
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('createAuth did not throw');
}

function expectOptionError(
  accessToken: Record<string, unknown>,
  kind: typeof TypeError | typeof RangeError,
  expected: { option: string; received: RegExp; fix: RegExp; secrets?: string[] },
): void {
  const error = thrown(accessToken);
  expect(error.constructor).toBe(kind);
  expect(error.message).toMatch(/^createAuth: /);
  expect(error.message).toContain(`\`${expected.option}\``);
  expect(error.message).toMatch(expected.received);
  expect(error.message).toMatch(expected.fix);
  for (const secret of expected.secrets ?? []) expect(error.message).not.toContain(secret);
}

describe('accessToken.keys option errors', () => {
  const es = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const es2 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const esPem = es.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pemBody = esPem.split('\n')[1] as string;
  const withKeys = (keys: unknown, extra: Json = {}): Json => ({ algorithm: 'ES256', keys, ...extra });

  test('valid keys resolve: kids in order, the first signs', () => {
    const config = resolveOptions(
      authOptions(memoryStore(), {
        accessToken: {
          algorithm: 'ES256',
          keys: [
            { kid: 'new', privateKey: esPem },
            { kid: 'old', publicKey: es2.publicKey },
          ],
        },
      }),
    ).accessToken;
    expect(config.kid).toBe('new');
    expect([...config.verifyingKeys.keys()]).toEqual(['new', 'old']);
    expect(config.signingKey.type).toBe('private');
    expect(config.verifyingKey.equals(createPublicKey(esPem))).toBe(true);
    const keys: AccessTokenKeyOptions[] = [{ kid: 'x', privateKey: es.privateKey }];
    expect(() => createAuth(authOptions(memoryStore(), { accessToken: { algorithm: 'ES256', keys } }))).not.toThrow();
  });

  test('keys with HS256 is refused: a shared secret cannot be published', () => {
    expectOptionError({ algorithm: 'HS256', secret: ACCESS_SECRET, keys: [{ kid: 'a', privateKey: es.privateKey }] }, TypeError, {
      option: 'accessToken.keys',
      received: /cannot be used with HS256/,
      fix: /Pass `secret`, or choose RS256\/ES256\/EdDSA/,
      secrets: [ACCESS_SECRET],
    });
  });

  test('keys together with privateKey or publicKey is refused', () => {
    expectOptionError(withKeys([{ kid: 'a', privateKey: es.privateKey }], { privateKey: es.privateKey }), TypeError, {
      option: 'accessToken.keys',
      received: /cannot be used with `accessToken\.privateKey`/,
      fix: /Move that key into `keys`/,
    });
    expectOptionError(withKeys([{ kid: 'a', privateKey: es.privateKey }], { publicKey: es.publicKey }), TypeError, {
      option: 'accessToken.keys',
      received: /cannot be used with `accessToken\.publicKey`/,
      fix: /Move that key into `keys`/,
    });
  });

  test('keys together with a secret is refused for an asymmetric algorithm', () => {
    expectOptionError(withKeys([{ kid: 'a', privateKey: es.privateKey }], { secret: ACCESS_SECRET }), TypeError, {
      option: 'accessToken.secret',
      received: /cannot be used with ES256, which takes `privateKey`\/`publicKey` or `keys`/,
      fix: /Pass keys/,
      secrets: [ACCESS_SECRET],
    });
  });

  test.each<[string, unknown, RegExp]>([
    ['an empty array', [], /received an array of 0/],
    ['an object', { kid: 'a', privateKey: 'x' }, /received an object \(Object\)/],
    ['a single KeyObject', es.privateKey, /received an object \(PrivateKeyObject\)|received an object/],
    ['a string', esPem, /received a string of \d+ bytes/],
  ])('keys as %s is refused', (_label, keys, received) => {
    expectOptionError(withKeys(keys), TypeError, {
      option: 'accessToken.keys',
      received: /must be a non-empty array/,
      fix: /\[\{ kid: '2025-06', privateKey \}/,
    });
    expect(thrown(withKeys(keys)).message).toMatch(received);
  });

  test('a PEM passed as keys, or as a key entry, is not echoed', () => {
    expect(thrown(withKeys(esPem)).message).not.toContain(pemBody);
    expect(thrown(withKeys(esPem)).message).not.toContain('PRIVATE KEY');
    expect(thrown(withKeys([esPem])).message).not.toContain(pemBody);
    expect(thrown(withKeys([esPem])).message).not.toContain('PRIVATE KEY');
  });

  test.each<[string, unknown]>([
    ['null', null],
    ['a string', 'kid-a'],
    ['a KeyObject', es.privateKey],
    ['an array', [{ kid: 'a' }]],
  ])('a key entry that is %s names accessToken.keys[1]', (_label, entry) => {
    expectOptionError(withKeys([{ kid: 'a', privateKey: es.privateKey }, entry]), TypeError, {
      option: 'accessToken.keys[1]',
      received: /must be an object \{ kid\?, privateKey\?, publicKey\? \}/,
      fix: /the first signs/,
    });
  });

  test('an unknown member of a key entry suggests the right one', () => {
    expectOptionError(withKeys([{ kid: 'a', privatekey: es.privateKey }]), TypeError, {
      option: 'accessToken.keys[0].privatekey',
      received: /is not an option/,
      fix: /Did you mean `accessToken\.keys\[0\]\.privateKey`\?/,
    });
    expectOptionError(withKeys([{ kid: 'a', privateKey: es.privateKey, alg: 'ES256' }]), TypeError, {
      option: 'accessToken.keys[0].alg',
      received: /is not an option/,
      fix: /Known options here: kid, privateKey, publicKey/,
    });
  });

  test.each<[string, unknown, RegExp]>([
    ['empty', '', /received the string ""/],
    ['a number', 7, /received number 7/],
    ['null', null, /received null/],
    ['with a newline', 'key\na', /received the string "key\\na"/],
    ['with a non-ASCII character', 'clé', /received the string "clé"/],
  ])('a kid that is %s is a TypeError naming accessToken.keys[i].kid', (_label, kid, received) => {
    expectOptionError(
      withKeys([
        { kid: 'a', privateKey: es.privateKey },
        { kid, publicKey: es2.publicKey },
      ]),
      TypeError,
      {
        option: 'accessToken.keys[1].kid',
        received,
        fix: /Name each key, e\.g\. \{ kid: '2025-06', privateKey \}/,
      },
    );
    expect(
      thrown(
        withKeys([
          { kid: 'a', privateKey: es.privateKey },
          { kid, publicKey: es2.publicKey },
        ]),
      ).message,
    ).toMatch(/1 to 64 printable ASCII characters/);
  });

  test('a kid longer than 64 characters is a RangeError', () => {
    expectOptionError(withKeys([{ kid: 'k'.repeat(65), privateKey: es.privateKey }]), RangeError, {
      option: 'accessToken.keys[0].kid',
      received: /must be at most 64 characters; received a string of 65 characters/,
      fix: /short name/,
    });
    expect(() =>
      createAuth(authOptions(memoryStore(), { accessToken: { algorithm: 'ES256', keys: [{ kid: 'k'.repeat(64), privateKey: es.privateKey }] } })),
    ).not.toThrow();
  });

  test('a duplicate kid names both entries', () => {
    expectOptionError(
      withKeys([
        { kid: 'a', privateKey: es.privateKey },
        { kid: 'a', publicKey: es2.publicKey },
      ]),
      TypeError,
      {
        option: 'accessToken.keys[1].kid',
        received: /is "a", already the kid of `accessToken\.keys\[0\]`/,
        fix: /its own kid/,
      },
    );
    // A given kid clashing with another key's default (thumbprint) kid is a duplicate too.
    const thumbprint = thumbprintOf(es.publicKey);
    expectOptionError(withKeys([{ privateKey: es.privateKey }, { kid: thumbprint, publicKey: es2.publicKey }]), TypeError, {
      option: 'accessToken.keys[1].kid',
      received: /already the kid of `accessToken\.keys\[0\]`/,
      fix: /its own kid/,
    });
  });

  test('the same key listed twice is refused', () => {
    expectOptionError(
      withKeys([
        { kid: 'a', privateKey: es.privateKey },
        { kid: 'b', publicKey: es.publicKey },
      ]),
      TypeError,
      {
        option: 'accessToken.keys[1]',
        received: /holds the same key as `accessToken\.keys\[0\]` \(kid "b"\)/,
        fix: /List each key once/,
      },
    );
  });

  test('the first key must have a privateKey', () => {
    expectOptionError(
      withKeys([
        { kid: 'old', publicKey: es.publicKey },
        { kid: 'new', privateKey: es2.privateKey },
      ]),
      TypeError,
      {
        option: 'accessToken.keys[0].privateKey',
        received: /is required \(kid "old"\): the first key signs new tokens/,
        fix: /Put the key that signs first/,
      },
    );
  });

  test('a later key needs at least a publicKey', () => {
    expectOptionError(withKeys([{ kid: 'a', privateKey: es.privateKey }, { kid: 'b' }]), TypeError, {
      option: 'accessToken.keys[1].publicKey',
      received: /is required when there is no `accessToken\.keys\[1\]\.privateKey` \(kid "b"\)/,
      fix: /Pass the public key/,
    });
  });

  test('a key of the wrong type or curve names its entry', () => {
    expectOptionError(
      withKeys([
        { kid: 'a', privateKey: es.privateKey },
        { kid: 'b', publicKey: rsa.publicKey },
      ]),
      TypeError,
      {
        option: 'accessToken.keys[1].publicKey',
        received: /is a rsa key, which ES256 cannot use/,
        fix: /change `accessToken\.algorithm`/,
      },
    );
    expectOptionError(withKeys([{ kid: 'a', privateKey: p384.privateKey }]), TypeError, {
      option: 'accessToken.keys[0].privateKey',
      received: /curve secp384r1, but ES256 needs prime256v1/,
      fix: /matching curve/,
    });
    expectOptionError(
      {
        algorithm: 'RS256',
        keys: [
          { kid: 'a', privateKey: rsa.privateKey },
          { kid: 'b', publicKey: rsa1024.publicKey },
        ],
      },
      RangeError,
      {
        option: 'accessToken.keys[1].publicKey',
        received: /1024-bit RSA key/,
        fix: /at least 2048 bits/,
      },
    );
  });

  test('a public key that does not match its private key is refused', () => {
    expectOptionError(withKeys([{ kid: 'a', privateKey: es.privateKey, publicKey: es2.publicKey }]), TypeError, {
      option: 'accessToken.keys[0].publicKey',
      received: /does not match `accessToken\.keys\[0\]\.privateKey`/,
      fix: /public key of the same key pair, or omit it/,
    });
  });

  test('unreadable or misplaced key material names its entry and is not echoed', () => {
    const garbage = 'not-a-key-but-maybe-sensitive-0123456789';
    expectOptionError(
      withKeys([
        { kid: 'a', privateKey: es.privateKey },
        { kid: 'b', publicKey: garbage },
      ]),
      TypeError,
      {
        option: 'accessToken.keys[1].publicKey',
        received: /could not be read as a public key/,
        fix: /PEM-encoded key/,
        secrets: [garbage],
      },
    );
    expectOptionError(withKeys([{ kid: 'a', privateKey: es.publicKey }]), TypeError, {
      option: 'accessToken.keys[0].privateKey',
      received: /received a public KeyObject/,
      fix: /Pass the private key/,
    });
    expectOptionError(withKeys([{ kid: 'a', privateKey: 42 }]), TypeError, {
      option: 'accessToken.keys[0].privateKey',
      received: /must be a PEM string, Buffer or KeyObject; received a number/,
      fix: /Pass the private key/,
    });
  });

  test('notAfter: a Date or an ISO 8601 date-time with a time zone, resolved to epoch milliseconds by kid', () => {
    const config = resolveOptions(
      authOptions(memoryStore(), {
        accessToken: {
          algorithm: 'ES256',
          keys: [
            { kid: 'new', privateKey: es.privateKey },
            { kid: 'old', publicKey: es2.publicKey, notAfter: new Date('2030-01-01T00:00:00Z') },
            { kid: 'older', publicKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey, notAfter: '2030-01-01T02:00:00+02:00' },
          ],
        },
      }),
    ).accessToken;
    expect([...config.keyNotAfter]).toEqual([
      ['old', Date.UTC(2030, 0, 1)],
      ['older', Date.UTC(2030, 0, 1)],
    ]);
  });

  test('notAfter on the first key is refused: it signs new tokens', () => {
    expectOptionError(withKeys([{ kid: 'a', privateKey: es.privateKey, notAfter: '2030-01-01T00:00:00Z' }]), TypeError, {
      option: 'accessToken.keys[0].notAfter',
      received: /the first key signs new tokens/,
      fix: /Put notAfter on a key that only verifies/,
    });
    expect((thrown(withKeys([{ kid: 'a', privateKey: es.privateKey, notAfter: '2030-01-01T00:00:00Z' }])) as { code?: string }).code).toBe(
      'ERR_INCOMPATIBLE_OPTIONS',
    );
  });

  test.each<[string, unknown]>([
    ['a date without a time', '2030-01-01'],
    ['a local time without a zone', '2030-01-01T00:00:00'],
    ['words', 'next week'],
    ['a day that does not exist', '2030-02-30T00:00:00Z'],
    ['a number (seconds or milliseconds?)', 1_893_456_000_000],
    ['an invalid Date', new Date('nope')],
    ['null', null],
  ])('notAfter as %s is refused, saying what to pass', (_label, notAfter) => {
    const keys = [
      { kid: 'a', privateKey: es.privateKey },
      { kid: 'b', publicKey: es2.publicKey, notAfter },
    ];
    expectOptionError(withKeys(keys), TypeError, {
      option: 'accessToken.keys[1].notAfter',
      received: /must be a Date or an ISO 8601 date-time with a time zone/,
      fix: /'2030-01-01T00:00:00Z'/,
    });
    expect((thrown(withKeys(keys)) as { code?: string }).code).toBe('ERR_INVALID_OPTION');
  });

  test('without keys or privateKey, the error mentions keys too', () => {
    expectOptionError({ algorithm: 'ES256' }, TypeError, {
      option: 'accessToken.privateKey',
      received: /is required for ES256/,
      fix: /`keys` to rotate keys/,
    });
  });
});
