// Shared test harness: Redis clients on the private server, test apps, and refresh-cookie helpers.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { type Auth, AuthError, type AuthOptions, createAuth, InvalidAccessTokenError, MemoryStore, RedisStore, type SessionStore } from '../../lib';

/** Test secrets: 32+ random bytes each, different every run. */
export const ACCESS_SECRET = randomBytes(32).toString('base64url');
export const REFRESH_SECRET = randomBytes(32).toString('base64url');

/** The URL of the private redis-server (or of REDIS_URL) set by the global setup. */
export function redisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through jest (global setup starts redis-server)');
  return url;
}

/** A unique key prefix, so tests never see each other's keys (nor a shared REDIS_URL server's). */
export function uniquePrefix(): string {
  return `ert-test:${randomUUID()}:`;
}

const clients: Redis[] = [];

/** A connected ioredis client on the test server; closed by {@link closeClients}. */
export async function redisClient(): Promise<Redis> {
  const client = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  clients.push(client);
  await client.connect();
  return client;
}

const auths: Auth[] = [];

/** Closes every auth instance made by {@link testApp} (their revocation feeds' connections and timers). */
export async function closeAuths(): Promise<void> {
  await Promise.all(auths.splice(0).map((auth) => auth.close()));
}

/** Closes every client opened by {@link redisClient}, and every auth instance; call it in afterAll. */
export async function closeClients(): Promise<void> {
  await closeAuths();
  await Promise.all(clients.splice(0).map((client) => client.quit().catch(() => client.disconnect())));
}

const memoryStores: MemoryStore[] = [];

/** A MemoryStore whose sweep timer {@link closeMemoryStores} stops; call that in afterAll. */
export function memoryStore(): MemoryStore {
  const store = new MemoryStore();
  memoryStores.push(store);
  return store;
}

/** Closes every store made by {@link memoryStore}. */
export async function closeMemoryStores(): Promise<void> {
  await Promise.all(memoryStores.splice(0).map((store) => store.close()));
}

/** Closes everything the harness opened for a suite (auth instances, Redis clients, MemoryStores): `afterAll(closeAll)`. */
export async function closeAll(): Promise<void> {
  await closeClients();
  await closeMemoryStores();
}

/** A fresh RedisStore with its own prefix, plus the client and prefix for inspecting keys. */
export async function redisStore(): Promise<{ store: RedisStore; client: Redis; prefix: string }> {
  const client = await redisClient();
  const prefix = uniquePrefix();
  return { store: new RedisStore({ client, prefix }), client, prefix };
}

/** Every key under a prefix (SCAN, never KEYS). */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** The demo users every test app knows. */
export const USERS: Record<string, { id: string; password: string; role: string }> = {
  alice: { id: 'user-alice', password: 'alice-password', role: 'admin' },
  bob: { id: 'user-bob', password: 'bob-password', role: 'reader' },
};

/**
 * Options a test may override: any of createAuth's, and `logger: undefined` to leave the logger out
 * (createAuth's default, the console) instead of the harness' `false`.
 */
export type TestOverrides = Partial<Omit<AuthOptions, 'logger'>> & { logger?: AuthOptions['logger'] | undefined };

/** Valid options for createAuth around a store; override any part. */
export function authOptions(store: SessionStore, overrides: TestOverrides = {}): AuthOptions {
  const options: Omit<AuthOptions, 'logger'> & { logger?: AuthOptions['logger'] | undefined } = {
    store,
    accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: '10m' },
    refreshToken: { secret: REFRESH_SECRET, idleTtl: '14d', absoluteTtl: '30d', reuseGrace: '30s' },
    cookie: { secure: true, sameSite: 'strict' },
    // Outage suites change the instance's state on purpose; its log lines are proved in state-changes.test.ts.
    logger: false,
    authenticate: (req) => {
      const body = req.body as { username?: unknown; password?: unknown };
      const user = typeof body.username === 'string' && Object.hasOwn(USERS, body.username) ? USERS[body.username] : undefined;
      return user && user.password === body.password ? { userId: user.id, claims: { role: user.role } } : null;
    },
    ...overrides,
  };
  if (options.logger === undefined) delete options.logger;
  return options as AuthOptions;
}

/** An Express app with the router at /auth and a protected GET /api/me, as a user would build it. */
export function buildApp(auth: Auth): Express {
  const app = express();
  app.use('/auth', auth.router);
  app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
  app.get('/api/maybe', auth.requireAuth({ optional: true }), (req, res) => res.json({ auth: req.auth ?? null }));
  return app;
}

/** An app and its auth instance over a store (MemoryStore unless given). */
export function testApp(store: SessionStore = memoryStore(), overrides: TestOverrides = {}): { app: Express; auth: Auth } {
  const auth = createAuth(authOptions(store, overrides));
  auths.push(auth);
  return { app: buildApp(auth), auth };
}

/** The refresh cookie's name for the default (secure) configuration. */
export const COOKIE = '__Host-refresh';

/** The value of the refresh cookie a response sets, or undefined. */
export function refreshCookieOf(res: request.Response, name = COOKIE): string | undefined {
  const header = res.headers['set-cookie'] as unknown as string[] | undefined;
  const line = header?.find((cookie) => cookie.startsWith(`${name}=`));
  return line === undefined ? undefined : line.slice(name.length + 1).split(';')[0];
}

/** Logs in over HTTP (to an app, or the URL of one in another process) and returns the access token and refresh token. */
export async function login(
  app: Express | string,
  username = 'alice',
  userAgent = 'jest',
): Promise<{ accessToken: string; refreshToken: string; res: request.Response }> {
  const user = USERS[username] as { password: string };
  const res = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').set('User-Agent', userAgent).send({ username, password: user.password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { accessToken: res.body.accessToken as string, refreshToken: refreshCookieOf(res) as string, res };
}

/** POSTs /auth/refresh with a refresh token in the cookie. */
export function refresh(app: Express | string, refreshToken: string): request.Test {
  return request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);
}

/** GET /api/me with an access token. */
export function me(app: Express | Server | string, accessToken: string): request.Test {
  return request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);
}

/** Asserts that a refresh token is dead: 401 `invalid_refresh_token`, cookie cleared. */
export async function expectRefreshRejected(app: Express | string, refreshToken: string): Promise<void> {
  const res = await refresh(app, refreshToken);
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ error: 'invalid_refresh_token' });
  expect(refreshCookieOf(res)).toBe('');
}

/** Asserts that requireAuth refuses an access token: 401 `invalid_token` with its RFC 6750 challenge. */
export async function expectAccessRejected(app: Express | string, accessToken: string): Promise<void> {
  const res = await me(app, accessToken);
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ error: 'invalid_token' });
  expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_token"');
}

/** Resends `send` every 20 ms until `wanted(status)` holds or `timeoutMs` has passed; resolves with the last status seen. */
export async function statusWithin(send: () => PromiseLike<request.Response>, wanted: (status: number) => boolean, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let status = (await send()).status;
  while (!wanted(status) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    status = (await send()).status;
  }
  return status;
}

/** Polls GET /api/me until it refuses the token (a revocation reaches other instances by pub/sub), then asserts the refusal as {@link expectAccessRejected} does. */
export async function expectAccessRejectedWithin(app: Express | string, accessToken: string, timeoutMs = 1000): Promise<void> {
  await statusWithin(
    () => me(app, accessToken),
    (status) => status !== 200,
    timeoutMs,
  );
  await expectAccessRejected(app, accessToken);
}

/**
 * An app around `auth` (router at /auth, GET and POST /api/me behind requireAuth, `before` mounted
 * first) whose error handler records what reached next(err), then passes it on to the library.
 */
export function recordingApp(auth: Auth, before: RequestHandler[] = []): { app: Express; errors: unknown[] } {
  const errors: unknown[] = [];
  const app = express();
  for (const handler of before) app.use(handler);
  app.use('/auth', auth.router);
  app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
  app.post('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
  const record: ErrorRequestHandler = (err, _req, _res, next) => {
    errors.push(err);
    next(err);
  };
  app.use(record);
  return { app, errors };
}

/** The InvalidAccessTokenError that caused the last 401 a {@link recordingApp} recorded. */
export function lastRefusal(errors: unknown[]): InvalidAccessTokenError {
  const err = errors.at(-1);
  expect(err).toBeInstanceOf(AuthError);
  expect((err as AuthError).status).toBe(401);
  const cause = (err as AuthError).cause;
  expect(cause).toBeInstanceOf(InvalidAccessTokenError);
  return cause as InvalidAccessTokenError;
}
