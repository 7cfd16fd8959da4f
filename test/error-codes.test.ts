// Stable error codes: every configuration mistake and every store failure carries an ERR_ code an app can switch on, besides its unchanged message and class.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import Redis, { type RedisOptions } from 'ioredis';
import request from 'supertest';
import {
  type Auth,
  AuthError,
  type AuthErrorCode,
  type AuthEventMap,
  type AuthOptions,
  type ConfigurationErrorCode,
  createAuth,
  type ErrorCode,
  ErrorCodes,
  type InvalidAccessTokenCode,
  MemoryStore,
  RedisStore,
  type StoreErrorCode,
  StoreUnavailableError,
} from '../lib';
import {
  ACCESS_SECRET,
  authOptions,
  COOKIE,
  closeAuths,
  closeMemoryStores,
  login,
  memoryStore,
  REFRESH_SECRET,
  recordingApp,
  redisUrl,
  testApp,
  uniquePrefix,
} from './support/harness';
import { freePort, startRedisServer } from './support/redis-process';
import { accessClaims, signHs256 } from './support/tokens';

const auths: Auth[] = [];
const clients: Redis[] = [];
const servers: Array<Awaited<ReturnType<typeof startRedisServer>>> = [];

afterAll(async () => {
  await Promise.all(auths.splice(0).map((auth) => auth.close()));
  await closeAuths();
  for (const client of clients.splice(0)) client.disconnect();
  for (const server of servers.splice(0)) {
    try {
      process.kill(server.process.pid as number, 'SIGCONT');
    } catch {
      // already gone
    }
    await server.stop();
  }
  await closeMemoryStores();
});

// ---------------------------------------------------------------------------------------------
// Configuration errors
// ---------------------------------------------------------------------------------------------

/** Valid createAuth options over a MemoryStore, with parts replaced. */
function options(overrides: Record<string, unknown> = {}): AuthOptions {
  return authOptions(memoryStore(), overrides as Partial<AuthOptions>);
}

const pem = (key: KeyObject, type: 'pkcs8' | 'spki'): string => key.export({ type, format: 'pem' }).toString();
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const otherP256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });

/** An ioredis client that never connects (no command is sent): enough for RedisStore's constructor. */
function idleClient(): Redis {
  const client = new Redis(redisUrl(), { lazyConnect: true });
  clients.push(client);
  return client;
}

/** What `run` throws, with its code (the test fails when it throws nothing). */
function thrownBy(run: () => unknown): Error & { code?: unknown } {
  try {
    run();
  } catch (error) {
    return error as Error & { code?: unknown };
  }
  throw new Error('expected a configuration error, but nothing was thrown');
}

type Case = [label: string, run: () => unknown, kind: typeof TypeError | typeof RangeError, message: RegExp];

const CASES: Record<Exclude<ConfigurationErrorCode, 'ERR_INVALID_ARGUMENT' | 'ERR_INVALID_AUTHENTICATE_RESULT'>, Case[]> = {
  ERR_MISSING_OPTION: [
    ['createAuth() without options', () => createAuth(undefined as never), TypeError, /^createAuth: `options` must be an object/],
    ['createAuth without store', () => createAuth(options({ store: undefined })), TypeError, /^createAuth: `store` must be a SessionStore/],
    ['createAuth without authenticate', () => createAuth(options({ authenticate: undefined })), TypeError, /^createAuth: `authenticate` must be a function/],
    ['createAuth without accessToken', () => createAuth(options({ accessToken: undefined })), TypeError, /^createAuth: `accessToken` must be an object/],
    [
      'createAuth without refreshToken.secret',
      () => createAuth(options({ refreshToken: {} })),
      TypeError,
      /^createAuth: `refreshToken.secret` must be a string or Buffer/,
    ],
    [
      'RS256 without privateKey',
      () => createAuth(options({ accessToken: { algorithm: 'RS256' } })),
      TypeError,
      /`accessToken.privateKey` is required for RS256/,
    ],
    ['RedisStore without client', () => new RedisStore({} as never), TypeError, /^RedisStore: `client` must be an ioredis/],
  ],
  ERR_UNKNOWN_OPTION: [
    [
      'a misspelt top-level option',
      () => createAuth(options({ maxSessionPerUser: 5 })),
      TypeError,
      /^createAuth: `maxSessionPerUser` is not an option\. Did you mean `maxSessionsPerUser`\?/,
    ],
    [
      'a misspelt accessToken option',
      () => createAuth(options({ accessToken: { secret: ACCESS_SECRET, tll: '5m' } })),
      TypeError,
      /`accessToken.tll` is not an option/,
    ],
    ['a misspelt rateLimit option', () => createAuth(options({ rateLimit: { login: { maxx: 3 } } })), TypeError, /`rateLimit.login.maxx` is not an option/],
    [
      'a misspelt RedisStore option',
      () => new RedisStore({ client: idleClient(), prefx: 'auth:' } as never),
      TypeError,
      /^RedisStore: `prefx` is not an option\. Did you mean `prefix`\?/,
    ],
    ['an unknown MemoryStore option', () => new MemoryStore({ sweepEvery: 1000 } as never), TypeError, /^MemoryStore: `sweepEvery` is not an option/],
  ],
  ERR_INVALID_OPTION: [
    [
      "algorithm 'none'",
      () => createAuth(options({ accessToken: { algorithm: 'none', secret: ACCESS_SECRET } })),
      TypeError,
      /`accessToken.algorithm` is 'none'/,
    ],
    ['a store that is not a SessionStore', () => createAuth(options({ store: {} })), TypeError, /`store` must be a SessionStore/],
    [
      'an unknown cookie.sameSite',
      () => createAuth(options({ cookie: { sameSite: 'sometimes' } })),
      TypeError,
      /`cookie.sameSite` must be 'strict', 'lax' or 'none'/,
    ],
    ['a bodyLimit out of range', () => createAuth(options({ bodyLimit: 10 })), RangeError, /`bodyLimit` must be a whole number of bytes/],
    [
      'rateLimit.refresh.max 0',
      () => createAuth(options({ rateLimit: { refresh: { max: 0 } } })),
      RangeError,
      /`rateLimit.refresh.max` must be a whole number/,
    ],
    [
      'a RedisStore prefix with hash-tag braces (Cluster)',
      () => new RedisStore({ client: idleClient(), prefix: 'auth{1}:' }),
      TypeError,
      /`prefix` must not contain '\{' or '\}'/,
    ],
    [
      'a URL as RedisStore client',
      () => new RedisStore({ client: 'redis://localhost' as never }),
      TypeError,
      /`client` must be an ioredis Redis or Cluster instance/,
    ],
    [
      'RedisStore commandTimeoutMs 0',
      () => new RedisStore({ client: idleClient(), commandTimeoutMs: 0 }),
      RangeError,
      /`commandTimeoutMs` must be a positive whole number/,
    ],
    [
      "MemoryStore sweepIntervalMs '60s'",
      () => new MemoryStore({ sweepIntervalMs: '60s' as never }),
      RangeError,
      /^MemoryStore: `sweepIntervalMs` must be a positive whole number/,
    ],
  ],
  ERR_INVALID_DURATION: [
    [
      "accessToken.ttl 'ten minutes'",
      () => createAuth(options({ accessToken: { secret: ACCESS_SECRET, ttl: 'ten minutes' } })),
      TypeError,
      /`accessToken.ttl` must be a duration/,
    ],
    [
      "accessToken.ttl '0s'",
      () => createAuth(options({ accessToken: { secret: ACCESS_SECRET, ttl: '0s' } })),
      RangeError,
      /`accessToken.ttl` must be at least 1s/,
    ],
    [
      'a refreshToken.absoluteTtl over ten years',
      () => createAuth(options({ refreshToken: { secret: REFRESH_SECRET, absoluteTtl: '11y' } })),
      RangeError,
      /`refreshToken.absoluteTtl` must be at most ten years/,
    ],
    [
      "revocation.maxStaleness '10m'",
      () => createAuth(options({ revocation: { maxStaleness: '10m' } })),
      RangeError,
      /`revocation.maxStaleness` must be from 200ms to 1m/,
    ],
    [
      "rateLimit.login.window '2d'",
      () => createAuth(options({ rateLimit: { login: { window: '2d' } } })),
      RangeError,
      /`rateLimit.login.window` must be from 1s to 1d/,
    ],
  ],
  ERR_INVALID_KEY: [
    [
      'an access secret of 16 bytes',
      () => createAuth(options({ accessToken: { secret: 'x'.repeat(16) } })),
      RangeError,
      /`accessToken.secret` must be at least 32 bytes/,
    ],
    [
      'a refresh secret that is a number',
      () => createAuth(options({ refreshToken: { secret: 12345 } })),
      TypeError,
      /`refreshToken.secret` must be a string or Buffer/,
    ],
    [
      'a 1024-bit RSA key',
      () => createAuth(options({ accessToken: { algorithm: 'RS256', privateKey: pem(rsa1024.privateKey, 'pkcs8') } })),
      RangeError,
      /`accessToken.privateKey` is a 1024-bit RSA key/,
    ],
    [
      'a P-384 key for ES256',
      () => createAuth(options({ accessToken: { algorithm: 'ES256', privateKey: p384.privateKey } })),
      TypeError,
      /`accessToken.privateKey` is on curve secp384r1/,
    ],
    [
      'a privateKey that is not PEM',
      () => createAuth(options({ accessToken: { algorithm: 'ES256', privateKey: 'not a key' } })),
      TypeError,
      /`accessToken.privateKey` could not be read/,
    ],
    [
      'a publicKey of another pair',
      () => createAuth(options({ accessToken: { algorithm: 'ES256', privateKey: p256.privateKey, publicKey: pem(otherP256.publicKey, 'spki') } })),
      TypeError,
      /`accessToken.publicKey` does not match/,
    ],
  ],
  ERR_INCOMPATIBLE_OPTIONS: [
    [
      'absoluteTtl shorter than idleTtl',
      () => createAuth(options({ refreshToken: { secret: REFRESH_SECRET, idleTtl: '14d', absoluteTtl: '1d' } })),
      RangeError,
      /`refreshToken.absoluteTtl` \(86400s\) must not be shorter/,
    ],
    [
      'an access ttl longer than idleTtl',
      () => createAuth(options({ accessToken: { secret: ACCESS_SECRET, ttl: '20d' } })),
      RangeError,
      /`accessToken.ttl` \(1728000s\) must not be longer/,
    ],
    [
      'a secret with ES256',
      () => createAuth(options({ accessToken: { algorithm: 'ES256', secret: ACCESS_SECRET, privateKey: p256.privateKey } })),
      TypeError,
      /`accessToken.secret` cannot be used with ES256/,
    ],
    [
      "sameSite 'none' without secure",
      () => createAuth(options({ cookie: { sameSite: 'none', secure: false } })),
      TypeError,
      /`cookie.sameSite` is 'none' with `cookie.secure: false`/,
    ],
    [
      'the same secret for both tokens',
      () => createAuth(options({ refreshToken: { secret: ACCESS_SECRET } })),
      TypeError,
      /`refreshToken.secret` is the same as `accessToken.secret`/,
    ],
  ],
};

describe('configuration errors carry a stable code, and keep their class and message', () => {
  const rows = Object.entries(CASES).flatMap(([code, cases]) => cases.map(([label, run, kind, message]) => [code, label, run, kind, message] as const));

  test.each(rows)('%s: %s', (code, _label, run, kind, message) => {
    const error = thrownBy(run);
    expect(error.constructor).toBe(kind); // exactly TypeError/RangeError, as before: no subclass
    expect(error.name).toBe(kind.name);
    expect(error.message).toMatch(message);
    expect(error.code).toBe(code);
    expect(error.code).toBe(ErrorCodes[code as keyof typeof ErrorCodes]);
  });

  test('every configuration code of ErrorCodes is thrown by at least one mistake above (bad options or bad arguments)', async () => {
    // The configuration codes, as lib/errors.ts defines ConfigurationErrorCode: every code that is
    // neither a store code (ERR_STORE_*, ERR_REVOCATION_FEED_*, ERR_SHUTTING_DOWN) nor an access-token code (ERR_ACCESS_TOKEN_*).
    const configurationCodes = (Object.values(ErrorCodes) as ErrorCode[]).filter(
      (code) => !/^ERR_(STORE|REVOCATION_FEED|ACCESS_TOKEN)_/.test(code) && code !== 'ERR_SHUTTING_DOWN',
    );
    const thrown = new Set<unknown>();
    for (const [, run] of Object.values(CASES).flat()) thrown.add(thrownBy(run).code);
    // ERR_INVALID_ARGUMENT comes from the auth instance's methods, which reject rather than throw.
    const auth = createAuth(options());
    auths.push(auth);
    thrown.add(
      await auth.revokeSession('').then(
        () => undefined,
        (error: { code?: unknown }) => error.code,
      ),
    );
    // ERR_INVALID_AUTHENTICATE_RESULT is the cause of the 500 a login answers when authenticate returned what cannot make a session.
    const badResult = createAuth(options({ authenticate: () => ({ userId: 'user-alice', claims: { sub: 'someone-else' } }) }));
    auths.push(badResult);
    const { app, errors } = recordingApp(badResult);
    expect((await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({})).status).toBe(500);
    thrown.add(((errors.at(-1) as AuthError).cause as { code?: unknown }).code);
    expect([...thrown].sort()).toEqual([...configurationCodes].sort());
  });

  test('requireAuth(): an unknown option is ERR_UNKNOWN_OPTION, a bad one ERR_INVALID_OPTION (same TypeErrors and messages)', () => {
    const auth = createAuth(options());
    auths.push(auth);
    const unknown = thrownBy(() => auth.requireAuth({ optinal: true } as never));
    expect(unknown.constructor).toBe(TypeError);
    expect(unknown.message).toBe('requireAuth: `optinal` is not an option. Did you mean `optional`?');
    expect(unknown.code).toBe(ErrorCodes.ERR_UNKNOWN_OPTION);
    const invalid = thrownBy(() => auth.requireAuth({ optional: 'yes' } as never));
    expect(invalid.constructor).toBe(TypeError);
    expect(invalid.message).toBe('requireAuth: `optional` must be a boolean; received the string "yes".');
    expect(invalid.code).toBe(ErrorCodes.ERR_INVALID_OPTION);
    const notObject = thrownBy(() => auth.requireAuth('optional' as never));
    expect(notObject.code).toBe(ErrorCodes.ERR_INVALID_OPTION);
  });

  test('auth.revokeSession, revokeUser and listSessions reject a bad id with ERR_INVALID_ARGUMENT', async () => {
    const auth = createAuth(options());
    auths.push(auth);
    const calls: Array<() => Promise<unknown>> = [
      () => auth.revokeSession(''),
      () => auth.revokeUser(42 as never),
      () => auth.listSessions(undefined as never),
    ];
    for (const call of calls) {
      // Called directly, not inside a .then: a method that threw synchronously would fail here.
      let returned: Promise<unknown> | undefined;
      expect(() => {
        returned = call();
      }).not.toThrow();
      expect(returned).toBeInstanceOf(Promise);
      const rejected = await (returned as Promise<unknown>).then(
        () => undefined,
        (error: unknown) => error as Error & { code?: unknown },
      );
      expect(rejected).toBeInstanceOf(TypeError);
      expect(rejected?.message).toMatch(/^auth\.\w+: `\w+` must be a non-empty string/);
      expect(rejected?.code).toBe(ErrorCodes.ERR_INVALID_ARGUMENT);
    }
  });

  test('good options still construct (the checks refuse only mistakes)', () => {
    expect(() => new MemoryStore({ sweepIntervalMs: 1000 }).close()).not.toThrow();
    expect(() => new RedisStore({ client: idleClient(), prefix: 'auth:', commandTimeoutMs: 500 })).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// Store errors
// ---------------------------------------------------------------------------------------------

/** createAuth over `store` (closed after the run), its store_error events, and a recording app. */
function storeApp(store: RedisStore, overrides: Partial<AuthOptions> = {}) {
  const auth = createAuth(authOptions(store, overrides));
  auths.push(auth);
  const storeErrors: Array<AuthEventMap['store_error'][0]> = [];
  auth.events.on('store_error', (event) => storeErrors.push(event));
  const { app, errors: seen } = recordingApp(auth);
  return { auth, storeErrors, app, seen };
}

/** The 503 the client sees is the contract's, unchanged: no ERR_ code, no message. */
function expectUnavailable(res: request.Response): void {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: 'temporarily_unavailable' });
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  expect(res.text).not.toMatch(/ERR_|StoreUnavailableError/);
}

/** The store error behind the last 503 the app's error handler saw: the AuthError's `cause`. */
function causeOfLast503(seen: unknown[]): StoreUnavailableError {
  const error = seen.at(-1);
  expect(error).toBeInstanceOf(AuthError);
  expect(error).toMatchObject({ status: 503, code: 'temporarily_unavailable' });
  const cause = (error as AuthError).cause;
  expect(cause).toBeInstanceOf(StoreUnavailableError);
  return cause as StoreUnavailableError;
}

const loginRequest = (app: Express): request.Test =>
  request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'alice-password' });
const refreshRequest = (app: Express, refreshToken: string): request.Test =>
  request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);
const meRequest = (app: Express, accessToken: string): request.Test => request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);

/** An ioredis client whose errors are expected (and swallowed); disconnected after the run. */
function client(port: number, extra: RedisOptions = {}): Redis {
  const c = new Redis({ port, host: '127.0.0.1', disconnectTimeout: 100, ...extra });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

/** A private redis-server this test may freeze or reconfigure, and a ready client on it. */
async function privateRedis(): Promise<{ pid: number; c: Redis }> {
  const server = await startRedisServer();
  servers.push(server);
  const c = client(server.port, { maxRetriesPerRequest: null });
  await c.ping();
  return { pid: server.process.pid as number, c };
}

/** Resends `send` until the store error behind its 503 has `code`; every code on the way must be one of `allowed`. */
async function until503With(code: StoreErrorCode, allowed: StoreErrorCode[], send: () => request.Test, seen: unknown[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await send();
    if (res.status === 503) {
      const found = causeOfLast503(seen).code;
      if (found === code) return expectUnavailable(res);
      expect(allowed).toContain(found);
    }
    if (Date.now() > deadline) throw new Error(`no 503 with ${code} within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('store errors carry a stable code: the cause of the 503, and the store_error event', () => {
  test('a dead port: the revocation feed never loads (ERR_REVOCATION_FEED_NOT_LOADED); a command times out (ERR_STORE_TIMEOUT), then fails fast (ERR_STORE_CIRCUIT_OPEN)', async () => {
    const store = new RedisStore({ client: client(await freePort()), prefix: uniquePrefix(), commandTimeoutMs: 300 });
    const { app, auth, seen, storeErrors } = storeApp(store, { rateLimit: false });

    // Login, refresh and requireAuth (with a valid token) wait for the feed first: 503, never a pass.
    expectUnavailable(await loginRequest(app));
    expect(causeOfLast503(seen).code).toBe(ErrorCodes.ERR_REVOCATION_FEED_NOT_LOADED);
    expectUnavailable(await meRequest(app, signHs256(accessClaims())));
    expect(causeOfLast503(seen).code).toBe(ErrorCodes.ERR_REVOCATION_FEED_NOT_LOADED);
    const { refreshToken } = await login(testApp(memoryStore()).app); // a genuine cookie, from a healthy instance
    expectUnavailable(await refreshRequest(app, refreshToken));
    expect(causeOfLast503(seen).code).toBe(ErrorCodes.ERR_REVOCATION_FEED_NOT_LOADED);
    await expect(auth.ready()).rejects.toMatchObject({ name: 'StoreUnavailableError', code: ErrorCodes.ERR_REVOCATION_FEED_NOT_LOADED });

    // The programmatic API goes to the store straight away.
    await expect(auth.revokeSession('some-session')).rejects.toMatchObject({ name: 'StoreUnavailableError', code: ErrorCodes.ERR_STORE_TIMEOUT });
    await expect(auth.listSessions('user-alice')).rejects.toMatchObject({ name: 'StoreUnavailableError', code: ErrorCodes.ERR_STORE_CIRCUIT_OPEN });

    // The store_error event carries the same errors (auth.ready() reports nothing: it is no operation).
    expect(storeErrors.map((e) => [e.operation, e.error.code])).toEqual([
      ['login', 'ERR_REVOCATION_FEED_NOT_LOADED'],
      ['requireAuth', 'ERR_REVOCATION_FEED_NOT_LOADED'],
      ['refresh', 'ERR_REVOCATION_FEED_NOT_LOADED'],
      ['revokeSession', 'ERR_STORE_TIMEOUT'],
      ['listSessions', 'ERR_STORE_CIRCUIT_OPEN'],
    ]);
    expect(storeErrors.slice(0, 3).map((e) => e.error)).toEqual((seen as AuthError[]).map((e) => e.cause));
  });

  test("a dead port under the login throttling: the limiter's Redis timeout is ERR_STORE_TIMEOUT", async () => {
    const store = new RedisStore({ client: client(await freePort()), prefix: uniquePrefix(), commandTimeoutMs: 300 });
    const { app, seen, storeErrors } = storeApp(store); // rateLimit on (the default): counted in Redis
    expectUnavailable(await loginRequest(app));
    const cause = causeOfLast503(seen);
    expect(cause.message).toMatch(/^Rate limiter: /);
    expect(cause.code).toBe(ErrorCodes.ERR_STORE_TIMEOUT);
    expect(storeErrors.at(-1)?.error.code).toBe(ErrorCodes.ERR_STORE_TIMEOUT);
  });

  test('Redis answering an error (OOM under maxmemory) is ERR_STORE_UNAVAILABLE, with the reply as its cause', async () => {
    const { c } = await privateRedis();
    const { app, auth, seen, storeErrors } = storeApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 1000 }), { rateLimit: false });
    await auth.ready(); // loaded while Redis still takes writes
    await c.call('CONFIG', 'SET', 'maxmemory', '1');
    try {
      expectUnavailable(await loginRequest(app));
    } finally {
      await c.call('CONFIG', 'SET', 'maxmemory', '0');
    }
    const cause = causeOfLast503(seen);
    expect(cause.code).toBe(ErrorCodes.ERR_STORE_UNAVAILABLE);
    expect(String((cause.cause as Error | undefined)?.message)).toMatch(/OOM/);
    expect(storeErrors.at(-1)?.error.code).toBe(ErrorCodes.ERR_STORE_UNAVAILABLE);
    expect((await loginRequest(app)).status).toBe(200); // and it was only that
  });

  test('a client the app closed is ERR_STORE_CLIENT_CLOSED', async () => {
    const own = new Redis(redisUrl(), { lazyConnect: true });
    await own.connect();
    const { app, auth, seen } = storeApp(new RedisStore({ client: own, prefix: uniquePrefix(), commandTimeoutMs: 1000 }), { rateLimit: false });
    expect((await loginRequest(app)).status).toBe(200);
    await own.quit();
    expectUnavailable(await loginRequest(app));
    expect(causeOfLast503(seen).code).toBe(ErrorCodes.ERR_STORE_CLIENT_CLOSED);
    await expect(auth.listSessions('user-alice')).rejects.toMatchObject({ code: ErrorCodes.ERR_STORE_CLIENT_CLOSED });
  });

  test('a stalled Redis (SIGSTOP): a refresh times out (ERR_STORE_TIMEOUT), the next fails fast (ERR_STORE_CIRCUIT_OPEN), and once the feed is stale refreshes fail closed (ERR_REVOCATION_FEED_STALE)', async () => {
    const { pid, c } = await privateRedis();
    const { app, seen, storeErrors } = storeApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }), {
      revocation: { maxStaleness: '3s' },
    });
    const { refreshToken } = await login(app);
    process.kill(pid, 'SIGSTOP');
    try {
      expectUnavailable(await refreshRequest(app, refreshToken));
      expect(causeOfLast503(seen).code).toBe(ErrorCodes.ERR_STORE_TIMEOUT);
      expect(storeErrors.at(-1)).toMatchObject({ operation: 'refresh', error: { code: ErrorCodes.ERR_STORE_TIMEOUT } });
      // The feed was confirmed under a second ago, well within maxStaleness: this one reaches the gate.
      expectUnavailable(await refreshRequest(app, refreshToken));
      expect(causeOfLast503(seen).code).toBe(ErrorCodes.ERR_STORE_CIRCUIT_OPEN);
      await until503With(
        ErrorCodes.ERR_REVOCATION_FEED_STALE,
        [ErrorCodes.ERR_STORE_TIMEOUT, ErrorCodes.ERR_STORE_CIRCUIT_OPEN],
        () => refreshRequest(app, refreshToken),
        seen,
        5000,
      );
      expect(storeErrors.at(-1)?.error.code).toBe(ErrorCodes.ERR_REVOCATION_FEED_STALE);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  test('a stalled Redis (SIGSTOP): requireAuth serves from the feed, then answers 503 with ERR_REVOCATION_FEED_STALE', async () => {
    const { pid, c } = await privateRedis();
    const { app, seen, storeErrors } = storeApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }), {
      revocation: { maxStaleness: '1s' },
    });
    const { accessToken } = await login(app);
    process.kill(pid, 'SIGSTOP');
    try {
      expect((await meRequest(app, accessToken)).status).toBe(200);
      await until503With(ErrorCodes.ERR_REVOCATION_FEED_STALE, [], () => meRequest(app, accessToken), seen, 5000);
      expect(storeErrors.at(-1)).toMatchObject({ operation: 'requireAuth', error: { code: ErrorCodes.ERR_REVOCATION_FEED_STALE } });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The codes themselves, and their documentation
// ---------------------------------------------------------------------------------------------

/** Every HTTP-facing AuthError code and its status (a missing or extra code fails the type check). */
const HTTP_CODES: Record<AuthErrorCode, number> = {
  invalid_token: 401,
  invalid_credentials: 401,
  insufficient_user_authentication: 401,
  reauth_not_configured: 404,
  invalid_refresh_token: 401,
  invalid_dpop_proof: 401,
  use_dpop_nonce: 401,
  csrf_rejected: 403,
  session_not_found: 404,
  invalid_request: 400,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  temporarily_unavailable: 503,
  server_error: 500,
};

/** The codes of InvalidAccessTokenError (a code added there fails the type check until it is listed here). */
const ACCESS_TOKEN_CODES: Record<InvalidAccessTokenCode, true> = {
  ERR_ACCESS_TOKEN_EXPIRED: true,
  ERR_ACCESS_TOKEN_REVOKED: true,
  ERR_ACCESS_TOKEN_INVALID: true,
};

describe('ErrorCodes', () => {
  test('is frozen, and each name is its own value, ERR_ and capitals', () => {
    // The exact list (lib/errors.ts), so the checks below cannot pass on an empty object.
    expect(Object.keys(ErrorCodes).sort()).toEqual([
      'ERR_ACCESS_TOKEN_EXPIRED',
      'ERR_ACCESS_TOKEN_INVALID',
      'ERR_ACCESS_TOKEN_REVOKED',
      'ERR_INCOMPATIBLE_OPTIONS',
      'ERR_INVALID_ARGUMENT',
      'ERR_INVALID_AUTHENTICATE_RESULT',
      'ERR_INVALID_DURATION',
      'ERR_INVALID_KEY',
      'ERR_INVALID_OPTION',
      'ERR_MISSING_OPTION',
      'ERR_REVOCATION_FEED_NOT_LOADED',
      'ERR_REVOCATION_FEED_STALE',
      'ERR_SHUTTING_DOWN',
      'ERR_STORE_BAD_REPLY',
      'ERR_STORE_CIRCUIT_OPEN',
      'ERR_STORE_CLIENT_CLOSED',
      'ERR_STORE_DEADLINE_EXCEEDED',
      'ERR_STORE_TIMEOUT',
      'ERR_STORE_UNAVAILABLE',
      'ERR_UNKNOWN_OPTION',
    ]);
    expect(Object.isFrozen(ErrorCodes)).toBe(true);
    for (const [name, value] of Object.entries(ErrorCodes)) {
      expect(value).toBe(name);
      expect(value).toMatch(/^ERR_[A-Z_]+$/);
    }
    expect(() => {
      (ErrorCodes as Record<string, string>).ERR_STORE_TIMEOUT = 'changed';
    }).toThrow(TypeError);
  });

  test("lists InvalidAccessTokenError's codes (the reason behind a 401)", () => {
    for (const code of Object.keys(ACCESS_TOKEN_CODES)) expect(ErrorCodes).toHaveProperty(code, code);
  });

  test('every code, ERR_ and HTTP, is documented in docs/errors.md under "Error codes"', () => {
    const readme = readFileSync(join(__dirname, '..', 'docs', 'errors.md'), 'utf8');
    const start = readme.indexOf('\n## Error codes\n');
    expect(start).toBeGreaterThan(-1);
    const next = readme.indexOf('\n## ', start + 1);
    const section = readme.slice(start, next === -1 ? undefined : next);
    for (const code of Object.values(ErrorCodes) as ErrorCode[]) {
      expect({ code, row: new RegExp(`^\\| \`${code}\` \\|`, 'm').test(section) }).toEqual({ code, row: true });
    }
    for (const [code, status] of Object.entries(HTTP_CODES)) {
      expect({ code, row: new RegExp(`^\\| \`${code}\` \\| ${status} \\|`, 'm').test(section) }).toEqual({ code, row: true });
    }
  });
});
