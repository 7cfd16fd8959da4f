// createAuth start-up validation: every bad option fails with a TypeError/RangeError that names it, and good ones resolve.
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import request from 'supertest';
import { type AccessTokenOptions, type AuthOptions, createAuth, type RefreshTokenOptions } from '../lib';
import { parseDuration } from '../lib/duration';
import { resolveOptions } from '../lib/options';
import { ACCESS_SECRET, authOptions, buildApp, closeMemoryStores, login, REFRESH_SECRET, memoryStore as store } from './support/harness';

afterAll(closeMemoryStores);

/** Valid options (HS256, harness secrets) with parts replaced. */
function options(overrides: Partial<AuthOptions> = {}): AuthOptions {
  return authOptions(store(), overrides);
}

/** Valid options with `accessToken` fields merged in (undefined values remove a field). */
function withAccess(patch: Record<string, unknown>, overrides: Partial<AuthOptions> = {}): AuthOptions {
  const accessToken = { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: '10m', ...patch } as Record<string, unknown>;
  for (const key of Object.keys(accessToken)) if (accessToken[key] === undefined) delete accessToken[key];
  return options({ accessToken: accessToken as AccessTokenOptions, ...overrides });
}

/** Valid options with `refreshToken` fields merged in. */
function withRefresh(patch: Record<string, unknown>): AuthOptions {
  return options({
    refreshToken: { secret: REFRESH_SECRET, idleTtl: '14d', absoluteTtl: '30d', reuseGrace: '30s', ...patch } as RefreshTokenOptions,
  });
}

/** Calls createAuth and returns what it threw (fails the test when it did not throw). */
function thrown(opts: unknown): Error {
  let caught: unknown;
  try {
    createAuth(opts as AuthOptions);
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof Error)) throw new Error('createAuth did not throw');
  return caught;
}

interface Expected {
  /** The option the message must name, in backticks. */
  option: string;
  /** What the message must say was received. */
  received: RegExp;
  /** How the message must say to fix it. */
  fix: RegExp;
  /** Values the message must never contain. */
  secrets?: Array<string | Buffer>;
}

function expectOptionError(opts: unknown, kind: typeof TypeError | typeof RangeError, expected: Expected): string {
  const error = thrown(opts);
  expect(error).toBeInstanceOf(kind);
  expect(error.constructor).toBe(kind); // a RangeError where a TypeError is expected (or vice versa) fails
  const { message } = error;
  expect(message).toContain(`\`${expected.option}\``);
  expect(message).toMatch(expected.received);
  expect(message).toMatch(expected.fix);
  for (const secret of expected.secrets ?? []) {
    const text = Buffer.isBuffer(secret) ? secret.toString('utf8') : secret;
    expect(message).not.toContain(text);
    expect(message).not.toContain(text.slice(0, 12));
    if (Buffer.isBuffer(secret)) {
      expect(message).not.toContain(secret.toString('hex').slice(0, 16));
      expect(message).not.toContain(secret.toString('base64').slice(0, 16));
    }
  }
  return message;
}

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
const pem = (key: KeyObject, type: 'pkcs8' | 'spki'): string => key.export({ type, format: 'pem' }).toString();
const rsaPrivatePem = pem(rsa2048.privateKey, 'pkcs8');

describe('secrets', () => {
  test('an access secret shorter than 32 bytes is a RangeError naming accessToken.secret, without its value', () => {
    const secret = 'too-short-access-secret-abc'; // 27 bytes
    const message = expectOptionError(withAccess({ secret }), RangeError, {
      option: 'accessToken.secret',
      received: /received 27 bytes/,
      fix: /randomBytes\(32\)/,
      secrets: [secret],
    });
    expect(message).toMatch(/at least 32 bytes/);
  });

  test('a short access secret given as a Buffer is measured in bytes and not printed', () => {
    const secret = randomBytes(20);
    expectOptionError(withAccess({ secret }), RangeError, {
      option: 'accessToken.secret',
      received: /received 20 bytes/,
      fix: /randomBytes/,
      secrets: [secret],
    });
  });

  test('multi-byte characters count as bytes, not characters', () => {
    // 16 characters, 32 bytes in UTF-8: accepted.
    expect(() => createAuth(withAccess({ secret: 'é'.repeat(16) }))).not.toThrow();
    // 31 bytes: refused.
    expectOptionError(withAccess({ secret: `${'é'.repeat(15)}x` }), RangeError, {
      option: 'accessToken.secret',
      received: /received 31 bytes/,
      fix: /randomBytes/,
    });
  });

  test('a refresh secret shorter than 32 bytes is a RangeError naming refreshToken.secret, without its value', () => {
    const secret = 'short-refresh-secret-XYZ';
    expectOptionError(withRefresh({ secret }), RangeError, {
      option: 'refreshToken.secret',
      received: new RegExp(`received ${Buffer.byteLength(secret)} bytes`),
      fix: /randomBytes\(32\)/,
      secrets: [secret],
    });
  });

  test('a missing refresh secret is a TypeError naming refreshToken.secret', () => {
    expectOptionError(withRefresh({ secret: undefined }), TypeError, {
      option: 'refreshToken.secret',
      received: /received undefined/,
      fix: /randomBytes/,
    });
  });

  test('a secret of the wrong type is described by its type only', () => {
    expectOptionError(withAccess({ secret: 123456789012345 }), TypeError, {
      option: 'accessToken.secret',
      received: /received a number/,
      fix: /randomBytes/,
      secrets: ['123456789012345'],
    });
  });

  test.each([
    ['HS384', 48, 32],
    ['HS512', 64, 48],
  ] as const)('%s needs a %i-byte secret: %i bytes is refused, the full length accepted', (algorithm, needed, short) => {
    const secret = randomBytes(short / 2).toString('hex'); // `short` bytes of text
    const message = expectOptionError(withAccess({ algorithm, secret }), RangeError, {
      option: 'accessToken.secret',
      received: new RegExp(`received ${short} bytes`),
      fix: /randomBytes/,
      secrets: [secret],
    });
    expect(message).toMatch(new RegExp(`at least ${needed} bytes`));
    expect(() => createAuth(withAccess({ algorithm, secret: randomBytes(needed) }))).not.toThrow();
  });

  test('32 bytes are enough for HS256', () => {
    expect(() => createAuth(withAccess({ secret: randomBytes(16).toString('hex') }))).not.toThrow();
  });

  test('the refresh secret may not equal the access secret', () => {
    const shared = randomBytes(32).toString('base64url');
    expectOptionError(
      options({
        accessToken: { algorithm: 'HS256', secret: shared },
        refreshToken: { secret: shared },
      }),
      TypeError,
      { option: 'refreshToken.secret', received: /same as `accessToken\.secret`/, fix: /two different secrets/, secrets: [shared] },
    );
  });

  test('equal secrets are caught even when one is a string and the other a Buffer', () => {
    const shared = randomBytes(32).toString('base64url');
    expectOptionError(options({ accessToken: { secret: Buffer.from(shared) }, refreshToken: { secret: shared } }), TypeError, {
      option: 'refreshToken.secret',
      received: /same as/,
      fix: /different secrets/,
      secrets: [shared],
    });
  });
});

describe('algorithm', () => {
  test.each(['none', 'NONE', 'None'])('algorithm %p is refused as unsigned', (algorithm) => {
    const message = expectOptionError(withAccess({ algorithm }), TypeError, {
      option: 'accessToken.algorithm',
      received: /'none'/,
      fix: /Use 'HS256'/,
      secrets: [ACCESS_SECRET],
    });
    expect(message).toMatch(/unsigned/);
  });

  test('an unknown algorithm lists the known ones and shows what was received', () => {
    const message = expectOptionError(withAccess({ algorithm: 'HS257' }), TypeError, {
      option: 'accessToken.algorithm',
      received: /received the string "HS257"/,
      fix: /Pick one/,
      secrets: [ACCESS_SECRET],
    });
    for (const known of ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA']) expect(message).toContain(known);
  });

  test('an algorithm that is not a string is refused', () => {
    expectOptionError(withAccess({ algorithm: 256 }), TypeError, {
      option: 'accessToken.algorithm',
      received: /received number 256/,
      fix: /Pick one/,
    });
  });

  test.each(['toString', 'constructor', '__proto__', 'hasOwnProperty'])('the Object.prototype name %p is not an algorithm', (algorithm) => {
    // With a 1-byte secret on top: neither may slip through start-up validation.
    expectOptionError(withAccess({ algorithm, secret: 'x' }), TypeError, {
      option: 'accessToken.algorithm',
      received: new RegExp(`received the string "${algorithm}"`),
      fix: /Pick one/,
    });
  });
});

describe('asymmetric keys', () => {
  test('RS256 without privateKey names accessToken.privateKey and how to pass it', () => {
    expectOptionError(withAccess({ algorithm: 'RS256', secret: undefined }), TypeError, {
      option: 'accessToken.privateKey',
      received: /is required for RS256/,
      fix: /Pass the PEM private key/,
    });
  });

  test('a secret given for RS256 is refused without printing it', () => {
    const message = expectOptionError(withAccess({ algorithm: 'RS256', privateKey: rsaPrivatePem }), TypeError, {
      option: 'accessToken.secret',
      received: /cannot be used with RS256/,
      fix: /Pass keys, or set `algorithm: 'HS256'`/,
      secrets: [ACCESS_SECRET],
    });
    expect(message).not.toContain('PRIVATE KEY');
  });

  test('a privateKey given for HS256 is refused', () => {
    expectOptionError(withAccess({ privateKey: rsaPrivatePem }), TypeError, {
      option: 'accessToken.privateKey',
      received: /cannot be used with HS256/,
      fix: /Pass `secret`/,
      secrets: [ACCESS_SECRET, rsaPrivatePem.split('\n')[1] as string],
    });
  });

  test('an RSA key for ES256 names the key type and the algorithm', () => {
    expectOptionError(withAccess({ algorithm: 'ES256', secret: undefined, privateKey: rsa2048.privateKey }), TypeError, {
      option: 'accessToken.privateKey',
      received: /rsa key, which ES256 cannot use/,
      fix: /Use a ec key|change `accessToken\.algorithm`/,
    });
  });

  test('a P-384 key for ES256 names the curves', () => {
    expectOptionError(withAccess({ algorithm: 'ES256', secret: undefined, privateKey: p384.privateKey }), TypeError, {
      option: 'accessToken.privateKey',
      received: /curve secp384r1/,
      fix: /matching curve/,
    });
  });

  test('a 1024-bit RSA key is a RangeError asking for 2048 bits', () => {
    expectOptionError(withAccess({ algorithm: 'RS256', secret: undefined, privateKey: pem(rsa1024.privateKey, 'pkcs8') }), RangeError, {
      option: 'accessToken.privateKey',
      received: /1024-bit RSA key/,
      fix: /at least 2048 bits/,
      secrets: [pem(rsa1024.privateKey, 'pkcs8').split('\n')[1] as string],
    });
  });

  test('a publicKey from another key pair is refused', () => {
    expectOptionError(
      withAccess({ algorithm: 'RS256', secret: undefined, privateKey: rsa2048.privateKey, publicKey: pem(otherRsa2048.publicKey, 'spki') }),
      TypeError,
      { option: 'accessToken.publicKey', received: /does not match `accessToken\.privateKey`/, fix: /public key of the same key pair, or omit it/ },
    );
  });

  test('a public key passed as privateKey is refused', () => {
    expectOptionError(withAccess({ algorithm: 'ES256', secret: undefined, privateKey: p256.publicKey }), TypeError, {
      option: 'accessToken.privateKey',
      received: /received a public KeyObject/,
      fix: /Pass the private key/,
    });
  });

  test('text that is not a PEM key is refused without being echoed', () => {
    const garbage = 'not-a-key-but-maybe-sensitive-0123456789';
    expectOptionError(withAccess({ algorithm: 'EdDSA', secret: undefined, privateKey: garbage }), TypeError, {
      option: 'accessToken.privateKey',
      received: /could not be read as a private key/,
      fix: /PEM-encoded key/,
      secrets: [garbage],
    });
  });
});

describe('unknown keys', () => {
  test('a misspelt top-level key suggests the right one', () => {
    const opts = options() as unknown as Record<string, unknown>;
    opts.stor = opts.store;
    delete opts.store;
    const message = expectOptionError(opts, TypeError, {
      option: 'stor',
      received: /is not an option/,
      fix: /Did you mean `store`\?/,
      secrets: [ACCESS_SECRET, REFRESH_SECRET],
    });
    expect(message).not.toMatch(/missing createSession/); // the typo is reported, not the consequence
  });

  test('a misspelt nested key suggests the right nested one', () => {
    expectOptionError(withAccess({ ttl: undefined, tll: '10m' }), TypeError, {
      option: 'accessToken.tll',
      received: /is not an option/,
      fix: /Did you mean `accessToken\.ttl`\?/,
      secrets: [ACCESS_SECRET],
    });
  });

  test('an unknown key with no close match lists the known ones', () => {
    expectOptionError({ ...options(), completelyDifferent: true }, TypeError, {
      option: 'completelyDifferent',
      received: /is not an option/,
      fix: /Known options here: store, accessToken, refreshToken/,
    });
  });

  test('unknown keys in cookie and csrf are caught too', () => {
    expectOptionError(options({ cookie: { samesite: 'lax' } as never }), TypeError, {
      option: 'cookie.samesite',
      received: /is not an option/,
      fix: /`cookie\.sameSite`/,
    });
    expectOptionError(options({ csrf: { allowedOrigin: [] } as never }), TypeError, {
      option: 'csrf.allowedOrigin',
      received: /is not an option/,
      fix: /`csrf\.allowedOrigins`/,
    });
  });
});

describe('durations and lifetimes', () => {
  test('absoluteTtl shorter than idleTtl is a RangeError showing both', () => {
    expectOptionError(withRefresh({ idleTtl: '14d', absoluteTtl: '7d' }), RangeError, {
      option: 'refreshToken.absoluteTtl',
      received: /604800s\).*`refreshToken\.idleTtl` \(1209600s\)/,
      fix: /Raise absoluteTtl or lower idleTtl/,
    });
  });

  test('absoluteTtl equal to idleTtl is fine', () => {
    expect(() => createAuth(withRefresh({ idleTtl: '7d', absoluteTtl: '1w' }))).not.toThrow();
  });

  test('reuseGrace equal to idleTtl is a RangeError', () => {
    expectOptionError(withRefresh({ idleTtl: '1h', reuseGrace: '60m' }), RangeError, {
      option: 'refreshToken.reuseGrace',
      received: /\(3600s\) must be shorter than `refreshToken\.idleTtl` \(3600s\)/,
      fix: /default is '10s'/,
    });
  });

  test('reuseGrace longer than idleTtl is a RangeError', () => {
    expectOptionError(withRefresh({ idleTtl: '1h', reuseGrace: '2h' }), RangeError, {
      option: 'refreshToken.reuseGrace',
      received: /7200s/,
      fix: /A few seconds is enough/,
    });
  });

  test('reuseGrace 0 (disabled) is accepted', () => {
    expect(resolveOptions(withRefresh({ reuseGrace: 0 })).refreshToken.reuseGraceMs).toBe(0);
  });

  test('an access token ttl longer than idleTtl is a RangeError', () => {
    const opts = withAccess({ ttl: '2h' });
    opts.refreshToken = { ...opts.refreshToken, idleTtl: '1h' };
    expectOptionError(opts, RangeError, {
      option: 'accessToken.ttl',
      received: /\(7200s\) must not be longer than `refreshToken\.idleTtl` \(3600s\)/,
      fix: /short-lived, e\.g\. '10m'/,
    });
  });

  test('an access token ttl under a second is a RangeError', () => {
    expectOptionError(withAccess({ ttl: '500ms' }), RangeError, {
      option: 'accessToken.ttl',
      received: /received 500ms/,
      fix: /'10m'/,
    });
  });

  test.each<[string, unknown, RegExp]>([
    ['a spelt-out number', 'ten minutes', /received the string "ten minutes"/],
    ['a negative number', -1, /received number -1/],
    ['an object', {}, /received an object \(Object\)/],
    ['a bare numeric string', '600', /received the string "600"/],
    ['NaN', Number.NaN, /received number NaN/],
    ['an unknown unit', '3 fortnights', /received the string "3 fortnights"/],
    ['a negative string', '-1s', /received the string "-1s"/],
  ])('a bad duration (%s) is a TypeError naming the option', (_label, value, received) => {
    const fix = /Pass seconds as a number, or a string like '30s', '10m', '14d'/;
    expectOptionError(withAccess({ ttl: value }), TypeError, { option: 'accessToken.ttl', received, fix });
    expectOptionError(withRefresh({ idleTtl: value }), TypeError, { option: 'refreshToken.idleTtl', received, fix });
    expectOptionError(withRefresh({ absoluteTtl: value }), TypeError, { option: 'refreshToken.absoluteTtl', received, fix });
    expectOptionError(withRefresh({ reuseGrace: value }), TypeError, { option: 'refreshToken.reuseGrace', received, fix });
  });
});

describe('required parts', () => {
  test('a missing authenticate is a TypeError naming it', () => {
    const opts = options() as Partial<AuthOptions>;
    delete opts.authenticate;
    expectOptionError(opts, TypeError, {
      option: 'authenticate',
      received: /received undefined/,
      fix: /Pass your credential check/,
    });
  });

  test('an authenticate that is not a function is refused', () => {
    expectOptionError(options({ authenticate: 'yes' as never }), TypeError, {
      option: 'authenticate',
      received: /received the string "yes"/,
      fix: /credential check/,
    });
  });

  test('a missing store is a TypeError naming it', () => {
    const opts = options() as Partial<AuthOptions>;
    delete opts.store;
    expectOptionError(opts, TypeError, {
      option: 'store',
      received: /received undefined/,
      fix: /new RedisStore\(\{ client \}\)` or `new MemoryStore\(\)/,
    });
  });

  test('an object that is not a store lists the missing methods', () => {
    const message = expectOptionError(options({ store: { createSession() {} } as never }), TypeError, {
      option: 'store',
      received: /received an object \(Object\)/,
      fix: /new MemoryStore\(\)/,
    });
    expect(message).toMatch(/missing presentToken, revokeSession, discardSession, revokeUser, getSession, listSessions, openRevocationFeed/);
    expect(message).not.toMatch(/missing createSession/);
  });

  test('an ioredis-like client passed directly as the store is refused', () => {
    expectOptionError(options({ store: { get() {}, set() {}, evalsha() {} } as never }), TypeError, {
      option: 'store',
      received: /missing createSession/,
      fix: /RedisStore/,
    });
  });

  test('a missing accessToken section is refused', () => {
    const opts = options() as Partial<AuthOptions>;
    delete opts.accessToken;
    expectOptionError(opts, TypeError, { option: 'accessToken', received: /must be an object; received undefined/, fix: /README/ });
  });

  test('options that are not an object are refused', () => {
    expectOptionError(undefined, TypeError, { option: 'options', received: /received undefined/, fix: /createAuth\(\{ store/ });
  });
});

describe('cookie, csrf, realm and bodyLimit', () => {
  test('a __Host- cookie name with secure:false is refused, naming the received name', () => {
    expectOptionError(options({ cookie: { name: '__Host-x', secure: false } }), TypeError, {
      option: 'cookie.name',
      // The message must say what was received: the name (or at least its __Host- prefix).
      received: /__Host-/,
      fix: /set `cookie\.secure: true`/,
    });
  });

  test('a __Secure- cookie name with secure:false is refused', () => {
    expectOptionError(options({ cookie: { name: '__Secure-refresh', secure: false } }), TypeError, {
      option: 'cookie.name',
      received: /`cookie\.secure` is false/,
      fix: /`cookie\.secure: true`/,
    });
  });

  test("sameSite 'none' with secure:false is refused", () => {
    expectOptionError(options({ cookie: { sameSite: 'none', secure: false } }), TypeError, {
      option: 'cookie.sameSite',
      received: /is 'none' with `cookie\.secure: false`/,
      fix: /Use 'strict' or 'lax'/,
    });
  });

  test("sameSite 'loose' is refused, listing the valid values", () => {
    expectOptionError(options({ cookie: { sameSite: 'loose' as never } }), TypeError, {
      option: 'cookie.sameSite',
      received: /must be 'strict', 'lax' or 'none'; received the string "loose"/,
      fix: /Leave it out for 'strict'/,
    });
  });

  test('a cookie name with a separator is refused', () => {
    expectOptionError(options({ cookie: { name: 'refresh;token' } }), TypeError, {
      option: 'cookie.name',
      received: /received the string "refresh;token"/,
      fix: /Leave it out/,
    });
  });

  test('an allowed origin with a path is refused', () => {
    expectOptionError(options({ csrf: { allowedOrigins: ['https://a.example/x'] } }), TypeError, {
      option: 'csrf.allowedOrigins',
      received: /received the string "https:\/\/a\.example\/x"/,
      fix: /Remove the path/,
    });
  });

  test('an allowed origin that is not a URL is refused', () => {
    expectOptionError(options({ csrf: { allowedOrigins: ['a.example'] } }), TypeError, {
      option: 'csrf.allowedOrigins',
      received: /received the string "a\.example"/,
      fix: /fix the URL/,
    });
  });

  test('allowedOrigins that is a string rather than an array is refused', () => {
    expectOptionError(options({ csrf: { allowedOrigins: 'https://a.example' as never } }), TypeError, {
      option: 'csrf.allowedOrigins',
      received: /received the string "https:\/\/a\.example"/,
      fix: /\['https:\/\/app\.example'\]/,
    });
  });

  test('a realm with a quote is refused', () => {
    expectOptionError(options({ realm: 'my "api"' }), TypeError, {
      option: 'realm',
      received: /received the string "my \\"api\\""/,
      fix: /Leave it out for 'api'/,
    });
  });

  test('a realm with a newline is refused', () => {
    expectOptionError(options({ realm: 'api\r\nX-Injected: 1' }), TypeError, {
      option: 'realm',
      received: /received the string/,
      fix: /Leave it out/,
    });
  });

  test.each([0, -1, 100, 1.5, 2_000_000])('bodyLimit %p is a RangeError', (bodyLimit) => {
    expectOptionError(options({ bodyLimit }), RangeError, {
      option: 'bodyLimit',
      received: new RegExp(`received number ${String(bodyLimit).replace('.', '\\.')}`),
      fix: /Leave it out for 16384/,
    });
  });
});

describe('revocation', () => {
  test.each([
    ['100ms', /received 100ms/],
    ['2m', /received 120s/],
  ])('revocation.maxStaleness %p is a RangeError', (maxStaleness, received) => {
    expectOptionError(options({ revocation: { maxStaleness } }), RangeError, { option: 'revocation.maxStaleness', received, fix: /Leave it out for '5s'/ });
  });

  test('a misspelt revocation option is named, with the right spelling', () => {
    expectOptionError(options({ revocation: { maxStalness: '5s' } as never }), TypeError, {
      option: 'revocation.maxStalness',
      received: /is not an option/,
      fix: /Did you mean `revocation.maxStaleness`\?/,
    });
  });

  test('maxStaleness defaults to 5 s, and the feed remembers user revocations as long as a session can live', () => {
    const config = resolveOptions(options());
    expect(config.revocation.maxStalenessMs).toBe(5000);
    expect(config.revocation.retainMs).toBe(30 * 86_400_000 + 10 * 60_000 + 5000);
    expect(resolveOptions(options({ revocation: { maxStaleness: '250ms' } })).revocation.maxStalenessMs).toBe(250);
  });
});

describe('defaults and accepted values', () => {
  test('defaults resolve', () => {
    const config = resolveOptions({
      store: store(),
      accessToken: { secret: ACCESS_SECRET },
      refreshToken: { secret: REFRESH_SECRET },
      authenticate: () => null,
    });
    expect(config.accessToken.algorithm).toBe('HS256');
    expect(config.accessToken.ttlMs).toBe(10 * 60_000);
    expect(config.accessToken.issuer).toBeUndefined();
    expect(config.accessToken.audience).toBeUndefined();
    expect(config.accessToken.signingKey.type).toBe('secret');
    expect(config.refreshToken.idleTtlMs).toBe(14 * 86_400_000);
    expect(config.refreshToken.absoluteTtlMs).toBe(30 * 86_400_000);
    expect(config.refreshToken.reuseGraceMs).toBe(10_000);
    expect(config.cookie).toEqual({ name: '__Host-refresh', sameSite: 'Strict', secure: true, hostPrefixed: true });
    expect(config.csrf.headerName).toBe('x-requested-with');
    expect([...config.csrf.allowedOrigins]).toEqual([]);
    expect(config.realm).toBe('api');
    expect(config.bodyLimit).toBe(16_384);
  });

  test("secure:false defaults the cookie name to 'refresh'", () => {
    const config = resolveOptions(options({ cookie: { secure: false } }));
    expect(config.cookie).toEqual({ name: 'refresh', sameSite: 'Strict', secure: false, hostPrefixed: false });
  });

  test('numbers are seconds', () => {
    const config = resolveOptions(withRefresh({ idleTtl: 3600, absoluteTtl: 7200, reuseGrace: 5 }));
    expect(config.refreshToken.idleTtlMs).toBe(3_600_000);
    expect(config.refreshToken.absoluteTtlMs).toBe(7_200_000);
    expect(config.refreshToken.reuseGraceMs).toBe(5000);
    expect(resolveOptions(withAccess({ ttl: 90 })).accessToken.ttlMs).toBe(90_000);
  });

  test('a numeric ttl shows up in seconds as expiresIn and in the token', async () => {
    const auth = createAuth(withAccess({ ttl: 90 }));
    const { res } = await login(buildApp(auth));
    expect(res.body.expiresIn).toBe(90);
    const payload = JSON.parse(Buffer.from((res.body.accessToken as string).split('.')[1] as string, 'base64url').toString()) as {
      iat: number;
      exp: number;
    };
    expect(payload.exp - payload.iat).toBe(90);
  });

  test.each<[string, number]>([
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['12h', 43_200_000],
    ['14d', 1_209_600_000],
    ['2w', 1_209_600_000],
  ])('createAuth accepts reuseGrace/idleTtl %p', (value, ms) => {
    const opts = withRefresh(ms < 60_000 ? { reuseGrace: value } : { idleTtl: value, absoluteTtl: '30d', reuseGrace: '1s' });
    const config = resolveOptions(opts);
    expect(ms < 60_000 ? config.refreshToken.reuseGraceMs : config.refreshToken.idleTtlMs).toBe(ms);
  });

  test('issuer and audience are kept; an empty issuer is refused', () => {
    const config = resolveOptions(withAccess({ issuer: 'https://app.example', audience: 'api' }));
    expect(config.accessToken.issuer).toBe('https://app.example');
    expect(config.accessToken.audience).toBe('api');
    expectOptionError(withAccess({ issuer: '' }), TypeError, {
      option: 'accessToken.issuer',
      received: /received the string ""/,
      fix: /Remove it or pass a string/,
    });
  });

  test('allowed origins are normalised (a trailing slash is fine)', () => {
    const config = resolveOptions(options({ csrf: { allowedOrigins: ['https://a.example/', 'http://localhost:3000'] } }));
    expect([...config.csrf.allowedOrigins]).toEqual(['https://a.example', 'http://localhost:3000']);
  });

  test('createAuth is synchronous: it returns a ready object, not a promise', async () => {
    const auth = createAuth(options());
    expect(auth).not.toBeInstanceOf(Promise);
    expect(typeof (auth as unknown as { then?: unknown }).then).toBe('undefined');
    expect(typeof auth.router).toBe('function');
    expect(typeof auth.requireAuth).toBe('function');
    // Usable immediately, with no await in between.
    const app = buildApp(auth);
    const res = await request(app).get('/api/me');
    expect(res.status).toBe(401);
  });

  test('a bad option throws synchronously, not as a rejected promise', () => {
    let result: unknown = 'not called';
    expect(() => {
      result = createAuth(withAccess({ algorithm: 'none' }));
    }).toThrow(TypeError);
    expect(result).toBe('not called');
  });
});

describe('parseDuration', () => {
  test.each<[unknown, number]>([
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['12h', 43_200_000],
    ['14d', 1_209_600_000],
    ['2w', 1_209_600_000],
    ['1.5s', 1500],
    [' 10m ', 600_000],
    ['0s', 0],
    [0, 0],
    [30, 30_000],
    [0.5, 500],
  ])('parseDuration(%p) is %p ms', (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  test.each<unknown>(['ten minutes', '10', '', 'm', '-1s', '10mo', '1e3s', -1, Number.NaN, Number.POSITIVE_INFINITY, {}, [], null, undefined, true])(
    'parseDuration(%p) is undefined',
    (value) => {
      expect(parseDuration(value)).toBeUndefined();
    },
  );
});

describe('sessionNetwork', () => {
  test("defaults to 'prefix' and accepts 'address' and 'off'", () => {
    expect(resolveOptions(authOptions(store())).sessionNetwork).toBe('prefix');
    for (const mode of ['prefix', 'address', 'off'] as const) expect(resolveOptions(authOptions(store(), { sessionNetwork: mode })).sessionNetwork).toBe(mode);
  });

  test.each([['full'], [true], [''], ['Prefix']])('refuses %p with a TypeError naming the option, the choices, the value and the fix', (value) => {
    const attempt = () => resolveOptions(authOptions(store(), { sessionNetwork: value as never }));
    expect(attempt).toThrow(TypeError);
    expect(attempt).toThrow(/createAuth: `sessionNetwork` must be 'prefix', 'address' or 'off'; received .+\. Leave it out for 'prefix'/);
    expect(attempt).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});
