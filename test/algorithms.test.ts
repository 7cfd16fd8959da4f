// Access-token algorithms over HTTP: every supported algorithm signs and verifies, and tokens of other algorithms, keys or claims are refused.
import { constants, createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import type { Express } from 'express';
import jwt from 'jsonwebtoken';
import type { AccessTokenAlgorithm, AccessTokenOptions } from '../lib';
import { closeMemoryStores, login, me, refresh, refreshCookieOf, memoryStore as store, testApp } from './support/harness';

afterAll(closeMemoryStores);

const TTL_SECONDS = 300;
const ISSUER = 'https://app.example';
const AUDIENCE = 'api';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
const ed25519 = generateKeyPairSync('ed25519');

const privatePem = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();

type Json = Record<string, unknown>;
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const decodePart = (part: string | undefined): Json => JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Json;

function decode(token: string): { header: Json; payload: Json; signingInput: string; signature: Buffer } {
  const [h, p, s] = token.split('.');
  expect(token.split('.')).toHaveLength(3);
  return { header: decodePart(h), payload: decodePart(p), signingInput: `${h}.${p}`, signature: Buffer.from(s ?? '', 'base64url') };
}

/** Checks a JWS signature independently of the library, per RFC 7518. */
function signatureValid(algorithm: AccessTokenAlgorithm, token: string, key: KeyObject | Buffer | string): boolean {
  const { signingInput, signature } = decode(token);
  const data = Buffer.from(signingInput);
  const bits = algorithm.slice(2);
  switch (algorithm.slice(0, 2)) {
    case 'HS':
      return createHmac(`sha${bits}`, key as Buffer | string)
        .update(data)
        .digest()
        .equals(signature);
    case 'RS':
      return verify(`sha${bits}`, data, key as KeyObject, signature);
    case 'PS':
      return verify(
        `sha${bits}`,
        data,
        { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        signature,
      );
    case 'ES':
      return verify(`sha${bits}`, data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }, signature);
    default:
      return verify(null, data, key as KeyObject, signature);
  }
}

/** Signs a JWS by hand with an Ed25519 key (no library involved). */
function signEdDsa(header: Json, payload: Json, key: KeyObject = ed25519.privateKey): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

async function expectRejected(app: Express, token: string): Promise<void> {
  const res = await me(app, token);
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ error: 'invalid_token' });
  expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_token"');
}

interface AlgorithmCase {
  name: string;
  algorithm: AccessTokenAlgorithm;
  options: Partial<AccessTokenOptions>;
  /** The key an independent verifier uses. */
  verifyKey: KeyObject | Buffer | string;
  withIssuer: boolean;
}

function hmacCases(algorithm: 'HS256' | 'HS384' | 'HS512', bytes: number): AlgorithmCase[] {
  const text = randomBytes(bytes).toString('base64url'); // longer than `bytes`, which is fine
  const buffer = randomBytes(bytes);
  return [
    { name: `${algorithm}, string secret, issuer/audience`, algorithm, options: { secret: text }, verifyKey: text, withIssuer: true },
    { name: `${algorithm}, Buffer secret of exactly ${bytes} bytes`, algorithm, options: { secret: buffer }, verifyKey: buffer, withIssuer: false },
  ];
}

function keyCases(algorithm: AccessTokenAlgorithm, pair: { privateKey: KeyObject; publicKey: KeyObject }): AlgorithmCase[] {
  return [
    {
      name: `${algorithm}, PEM strings with publicKey, issuer/audience`,
      algorithm,
      options: { privateKey: privatePem(pair.privateKey), publicKey: publicPem(pair.publicKey) },
      verifyKey: pair.publicKey,
      withIssuer: true,
    },
    {
      name: `${algorithm}, private KeyObject only (publicKey derived)`,
      algorithm,
      options: { privateKey: pair.privateKey },
      verifyKey: pair.publicKey,
      withIssuer: false,
    },
    {
      name: `${algorithm}, KeyObjects for both keys`,
      algorithm,
      options: { privateKey: pair.privateKey, publicKey: pair.publicKey },
      verifyKey: pair.publicKey,
      withIssuer: false,
    },
  ];
}

const CASES: AlgorithmCase[] = [
  ...hmacCases('HS256', 32),
  ...hmacCases('HS384', 48),
  ...hmacCases('HS512', 64),
  ...keyCases('RS256', rsa),
  ...keyCases('RS384', rsa),
  ...keyCases('RS512', rsa),
  ...keyCases('PS256', rsa),
  ...keyCases('PS384', rsa),
  ...keyCases('PS512', rsa),
  ...keyCases('ES256', p256),
  ...keyCases('ES384', p384),
  ...keyCases('ES512', p521),
  ...keyCases('EdDSA', ed25519),
];

function appFor(c: AlgorithmCase): { app: Express } {
  const accessToken: AccessTokenOptions = { algorithm: c.algorithm, ttl: TTL_SECONDS, ...c.options };
  if (c.withIssuer) Object.assign(accessToken, { issuer: ISSUER, audience: AUDIENCE });
  return testApp(store(), { accessToken });
}

describe.each(CASES)('$name', (c) => {
  test('login, then GET /api/me with the access token succeeds; the JWT is what was configured', async () => {
    const { app } = appFor(c);
    const { accessToken } = await login(app);
    const { header, payload } = decode(accessToken);

    expect(header.alg).toBe(c.algorithm);
    expect(header.typ).toBe('at+jwt');
    expect(signatureValid(c.algorithm, accessToken, c.verifyKey)).toBe(true);

    expect(payload.sub).toBe('user-alice');
    expect(typeof payload.sid).toBe('string');
    expect(payload.sid).not.toBe('');
    expect(typeof payload.jti).toBe('string');
    expect(payload.jti).not.toBe('');
    expect(Number.isInteger(payload.iat)).toBe(true);
    expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThan(5);
    expect((payload.exp as number) - (payload.iat as number)).toBe(TTL_SECONDS);
    expect(payload.role).toBe('admin');
    if (c.withIssuer) {
      expect(payload.iss).toBe(ISSUER);
      expect(payload.aud).toBe(AUDIENCE);
    } else {
      expect(payload).not.toHaveProperty('iss');
      expect(payload).not.toHaveProperty('aud');
    }

    const res = await me(app, accessToken);
    expect(res.status).toBe(200);
    expect(res.body.userId).toBe('user-alice');
    expect(res.body.sessionId).toBe(payload.sid);
    expect(res.body.claims).toEqual({ role: 'admin' });
    expect(res.body.payload).toEqual(payload);
  });

  test('a refreshed access token is signed the same way and accepted; jti differs', async () => {
    const { app } = appFor(c);
    const first = await login(app);
    const rotated = await refresh(app, first.refreshToken);
    expect(rotated.status).toBe(200);
    expect(refreshCookieOf(rotated)).toMatch(/^[A-Za-z0-9_-]{22}\.[0-9a-z]+\./); // a new token, not a cleared cookie
    const second = rotated.body.accessToken as string;
    expect(decode(second).header).toEqual({ alg: c.algorithm, typ: 'at+jwt', ...(c.algorithm.startsWith('HS') ? {} : { kid: expect.any(String) }) });
    expect(decode(second).payload.jti).not.toBe(decode(first.accessToken).payload.jti);
    expect(signatureValid(c.algorithm, second, c.verifyKey)).toBe(true);
    expect((await me(app, second)).status).toBe(200);
  });

  test('an unsigned (alg: none) token with the same claims is refused', async () => {
    const { app } = appFor(c);
    const { accessToken } = await login(app);
    const { payload } = decode(accessToken);
    await expectRejected(app, `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(payload)}.`);
  });
});

describe('tokens from another algorithm or key', () => {
  const esApp = testApp(store(), { accessToken: { algorithm: 'ES256', privateKey: p256.privateKey } }).app;
  const rsApp = testApp(store(), { accessToken: { algorithm: 'RS256', privateKey: rsa.privateKey } }).app;

  test('each app accepts its own tokens (control)', async () => {
    expect((await me(esApp, (await login(esApp)).accessToken)).status).toBe(200);
    expect((await me(rsApp, (await login(rsApp)).accessToken)).status).toBe(200);
  });

  test('an ES256 token is refused by an RS256 app', async () => {
    await expectRejected(rsApp, (await login(esApp)).accessToken);
  });

  test('an RS256 token is refused by an ES256 app', async () => {
    await expectRejected(esApp, (await login(rsApp)).accessToken);
  });

  test('an ES256 token signed with another P-256 key is refused', async () => {
    const other = testApp(store(), { accessToken: { algorithm: 'ES256', privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey } }).app;
    await expectRejected(esApp, (await login(other)).accessToken);
  });

  test('an HS256 token keyed with the RS256 public key PEM (algorithm confusion) is refused', async () => {
    const { payload } = decode((await login(rsApp)).accessToken);
    const input = `${b64({ alg: 'HS256', typ: 'at+jwt' })}.${b64(payload)}`;
    const forged = `${input}.${createHmac('sha256', publicPem(rsa.publicKey)).update(input).digest('base64url')}`;
    await expectRejected(rsApp, forged);
  });

  test('a PS256 token is refused by an RS256 app with the same key', async () => {
    const psApp = testApp(store(), { accessToken: { algorithm: 'PS256', privateKey: rsa.privateKey } }).app;
    await expectRejected(rsApp, (await login(psApp)).accessToken);
  });

  test('a correctly signed RS256 token whose typ is not at+jwt is refused', async () => {
    const { payload } = decode((await login(rsApp)).accessToken);
    await expectRejected(rsApp, jwt.sign(payload, rsa.privateKey, { algorithm: 'RS256', header: { alg: 'RS256', typ: 'JWT' } }));
  });

  test('a correctly signed RS256 at+jwt token without exp is refused', async () => {
    const { payload } = decode((await login(rsApp)).accessToken);
    delete payload.exp;
    await expectRejected(rsApp, jwt.sign(payload, rsa.privateKey, { algorithm: 'RS256', header: { alg: 'RS256', typ: 'at+jwt' } }));
  });
});

describe('EdDSA verification (done without jsonwebtoken)', () => {
  const edApp = testApp(store(), {
    accessToken: { algorithm: 'EdDSA', privateKey: ed25519.privateKey, issuer: ISSUER, audience: AUDIENCE, ttl: TTL_SECONDS },
  }).app;
  const HEADER = { alg: 'EdDSA', typ: 'at+jwt' };
  let real: string;
  let claims: Json;

  beforeAll(async () => {
    real = (await login(edApp)).accessToken;
    claims = decode(real).payload;
  });

  /** Valid claims for the logged-in session, with parts replaced or (undefined) removed. */
  function claimsWith(patch: Json): Json {
    const now = Math.floor(Date.now() / 1000);
    const result: Json = { ...claims, jti: randomBytes(9).toString('base64url'), iat: now, exp: now + 60, ...patch };
    for (const key of Object.keys(result)) if (result[key] === undefined) delete result[key];
    return result;
  }

  test('a hand-signed token with every required claim is accepted (control for the tests below)', async () => {
    const res = await me(edApp, signEdDsa(HEADER, claimsWith({})));
    expect(res.status).toBe(200);
    expect(res.body.userId).toBe('user-alice');
  });

  test('a tampered payload is refused', async () => {
    const [h, , s] = real.split('.');
    await expectRejected(edApp, `${h}.${b64({ ...claims, sub: 'user-bob' })}.${s}`);
  });

  test('a tampered signature is refused', async () => {
    const [h, p, s] = real.split('.');
    const signature = Buffer.from(s as string, 'base64url');
    signature[0] = (signature[0] as number) ^ 0x01;
    await expectRejected(edApp, `${h}.${p}.${signature.toString('base64url')}`);
  });

  test.each<Json>([
    { alg: 'HS256', typ: 'at+jwt' },
    { alg: 'ES256', typ: 'at+jwt' },
    { alg: 'Ed25519', typ: 'at+jwt' },
    { alg: 'eddsa', typ: 'at+jwt' },
    { typ: 'at+jwt' },
  ])('a header with alg changed to %p is refused (original signature)', async (header) => {
    const [, p, s] = real.split('.');
    await expectRejected(edApp, `${b64(header)}.${p}.${s}`);
  });

  test.each<Json>([{ alg: 'Ed25519', typ: 'at+jwt' }, { alg: 'EdDSA', typ: 'JWT' }, { alg: 'EdDSA' }])(
    'a header %p re-signed with the right key is still refused',
    async (header) => {
      await expectRejected(edApp, signEdDsa(header, claimsWith({})));
    },
  );

  test('alg none with an empty signature is refused', async () => {
    await expectRejected(edApp, `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claimsWith({}))}.`);
  });

  test('an HS256 token keyed with the Ed25519 public key PEM is refused', async () => {
    const input = `${b64({ alg: 'HS256', typ: 'at+jwt' })}.${b64(claimsWith({}))}`;
    await expectRejected(edApp, `${input}.${createHmac('sha256', publicPem(ed25519.publicKey)).update(input).digest('base64url')}`);
  });

  test('a token signed by another Ed25519 key is refused', async () => {
    await expectRejected(edApp, signEdDsa(HEADER, claimsWith({}), generateKeyPairSync('ed25519').privateKey));
  });

  test.each<[string, Json]>([
    ['without iss', { iss: undefined }],
    ['without aud', { aud: undefined }],
    ['without iss and aud', { iss: undefined, aud: undefined }],
    ['with another iss', { iss: 'https://evil.example' }],
    ['with another aud', { aud: 'other-api' }],
  ])('with issuer/audience configured, a token %s is refused', async (_label, patch) => {
    await expectRejected(edApp, signEdDsa(HEADER, claimsWith(patch)));
  });

  test('a token from an EdDSA app with the same key but no issuer/audience is refused', async () => {
    const plain = testApp(store(), { accessToken: { algorithm: 'EdDSA', privateKey: ed25519.privateKey } }).app;
    const token = (await login(plain)).accessToken;
    expect((await me(plain, token)).status).toBe(200);
    await expectRejected(edApp, token);
  });

  test('an expired token is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRejected(edApp, signEdDsa(HEADER, claimsWith({ iat: now - 600, exp: now - 300 })));
    await expectRejected(edApp, signEdDsa(HEADER, claimsWith({ iat: now - 600, exp: now - 1 })));
  });

  test('a token without exp is refused', async () => {
    await expectRejected(edApp, signEdDsa(HEADER, claimsWith({ exp: undefined })));
  });

  test('a token with a non-numeric exp is refused', async () => {
    await expectRejected(edApp, signEdDsa(HEADER, claimsWith({ exp: '9999999999' })));
  });

  test('a token not yet valid (nbf in the future) is refused', async () => {
    await expectRejected(edApp, signEdDsa(HEADER, claimsWith({ nbf: Math.floor(Date.now() / 1000) + 300 })));
  });

  test('a token with a numeric nbf in the past is accepted (control for the test below)', async () => {
    expect((await me(edApp, signEdDsa(HEADER, claimsWith({ nbf: Math.floor(Date.now() / 1000) - 60 })))).status).toBe(200);
  });

  test.each<[string, unknown]>([
    ['a numeric string in the past', String(Math.floor(Date.now() / 1000) - 60)],
    ['a numeric string in the future', String(Math.floor(Date.now() / 1000) + 300)],
    ['null', null],
    ['true', true],
    ['an object', { seconds: 0 }],
  ])('a token whose nbf is %s (not a number) is refused, as jsonwebtoken refuses it for the other algorithms', async (_label, nbf) => {
    await expectRejected(edApp, signEdDsa(HEADER, claimsWith({ nbf })));
  });

  test.each<[string, Json]>([
    ['without sub', { sub: undefined }],
    ['without sid', { sid: undefined }],
    ['without jti', { jti: undefined }],
    ['without iat', { iat: undefined }],
  ])('a token %s is refused', async (_label, patch) => {
    await expectRejected(edApp, signEdDsa(HEADER, claimsWith(patch)));
  });
});
