// Store failures name their real cause (a refused connection, a password Redis wants, a server that stopped answering) in the
// store_error event, in auth.ready()'s rejection and as `cause`; the 503 a client gets still says nothing of it.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import Redis, { type RedisOptions } from 'ioredis';
import request from 'supertest';
import { type Auth, type AuthError, type AuthEventMap, type AuthOptions, createAuth, ErrorCodes, RedisStore, StoreUnavailableError } from '../lib';
import { authOptions, COOKIE, login, uniquePrefix } from './support/harness';
import { freePort, startRedisServer } from './support/redis-process';

const auths: Auth[] = [];
const clients: Redis[] = [];
const servers: Array<Awaited<ReturnType<typeof startRedisServer>>> = [];
const spies: jest.SpyInstance[] = [];

afterEach(async () => {
  for (const spy of spies.splice(0)) spy.mockRestore();
  await Promise.all(auths.splice(0).map((auth) => auth.close()));
  for (const c of clients.splice(0)) c.disconnect();
  for (const server of servers.splice(0)) {
    try {
      process.kill(server.process.pid as number, 'SIGCONT');
    } catch {
      // already gone
    }
    await server.stop();
  }
});

/**
 * An ioredis client as the README's Quick start makes one: no `error` listener of the app's own
 * unless `listen` is given. `disconnectTimeout` only lets jest exit promptly after disconnect().
 */
function userClient(port: number, options: RedisOptions = {}, listen?: (error: Error) => void): Redis {
  const c = new Redis({ port, host: '127.0.0.1', disconnectTimeout: 100, ...options });
  if (listen) c.on('error', listen);
  clients.push(c);
  return c;
}

/** An app around a RedisStore on `c`, recording store_error events and what reached the app's error handler. */
function storeApp(c: Redis, overrides: Partial<AuthOptions> = {}) {
  const store = new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 });
  const auth = createAuth(authOptions(store, { rateLimit: false, ...overrides }));
  auths.push(auth);
  const storeErrors: Array<AuthEventMap['store_error'][0]> = [];
  auth.events.on('store_error', (event) => storeErrors.push(event));
  const app = express();
  const seen: unknown[] = [];
  app.use('/auth', auth.router);
  app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
  app.use((err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    seen.push(err);
    next(err);
  });
  return { auth, app, storeErrors, seen };
}

/** Process warnings by code, as process.emitWarning was given them (jest's sandboxed process does not receive 'warning' events). */
function recordWarnings(): Array<{ code: string | undefined; message: string }> {
  const seen: Array<{ code: string | undefined; message: string }> = [];
  spies.push(
    jest.spyOn(process, 'emitWarning').mockImplementation(((message: string | Error, options?: { code?: string }) => {
      seen.push({ code: options?.code, message: String(message) });
    }) as typeof process.emitWarning),
  );
  return seen;
}

/** What a person sees of a 503: the contract's body and nothing about Redis, its address or the cause. */
function expectBareUnavailable(res: request.Response, port: number): void {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: 'temporarily_unavailable' });
  expect(res.text).not.toMatch(new RegExp(`127\\.0\\.0\\.1|${port}|ECONN|NOAUTH|WRONGPASS|Redis|answer`, 'i'));
}

const loginRequest = (app: Express): request.Test =>
  request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'alice-password' });

/** The rejection of `promise`, which must reject. */
async function rejectionOf(promise: Promise<unknown>): Promise<StoreUnavailableError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(StoreUnavailableError);
  return outcome as StoreUnavailableError;
}

const delivered = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

describe('a refused connection (nothing listens on the port)', () => {
  test('ready(), the store_error events and the API errors say "connection refused", with the ECONNREFUSED error as cause', async () => {
    const warnings = recordWarnings();
    const port = await freePort();
    const { auth, app, storeErrors } = storeApp(userClient(port));

    const notLoaded = await rejectionOf(auth.ready());
    expect(notLoaded.code).toBe(ErrorCodes.ERR_REVOCATION_FEED_NOT_LOADED);
    expect(notLoaded.message).toBe(`the revocation feed could not load from Redis within 300ms: connection refused (connect ECONNREFUSED 127.0.0.1:${port})`);
    expect(notLoaded.cause).toMatchObject({ code: 'ECONNREFUSED' });

    const res = await loginRequest(app);
    expectBareUnavailable(res, port);
    expect(storeErrors.at(-1)?.error.message).toMatch(/connection refused \(connect ECONNREFUSED/);
    expect(storeErrors.at(-1)?.error.cause).toMatchObject({ code: 'ECONNREFUSED' });

    const timedOut = await rejectionOf(auth.revokeSession('some-session'));
    expect(timedOut.code).toBe(ErrorCodes.ERR_STORE_TIMEOUT);
    expect(timedOut.message).toMatch(/^Redis did not answer within 300ms: connection refused \(connect ECONNREFUSED 127\.0\.0\.1:\d+\); the client is \w+$/);
    expect(timedOut.cause).toMatchObject({ code: 'ECONNREFUSED' });

    const failingFast = await rejectionOf(auth.listSessions('user-alice'));
    expect(failingFast.code).toBe(ErrorCodes.ERR_STORE_CIRCUIT_OPEN);
    expect(failingFast.message).toMatch(/^Redis stopped answering; failing fast until it answers a probe again \(connection refused \(connect ECONNREFUSED/);
    expect(failingFast.cause).toMatchObject({ code: 'ECONNREFUSED' });
    expect(storeErrors.map((event) => event.error.message)).toEqual(expect.arrayContaining([timedOut.message, failingFast.message]));

    // The library listens to the client's errors, so ioredis prints no "Unhandled error event" stacks; it says it once instead.
    await delivered();
    const unreachable = warnings.filter((warning) => warning.code === 'ERT_STORE_UNREACHABLE');
    expect(unreachable).toHaveLength(1);
    expect(unreachable[0]?.message).toMatch(/^RedisStore cannot reach Redis: connection refused \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)\./);
    expect(unreachable[0]?.message).toMatch(/503/);
    expect(unreachable[0]?.message).toMatch(/revocation\.maxStaleness/);
  });

  test("the login throttling's counter names it too", async () => {
    recordWarnings();
    const port = await freePort();
    const { app, storeErrors, seen } = storeApp(userClient(port), { rateLimit: {} }); // throttling on, as by default;
    expectBareUnavailable(await loginRequest(app), port);
    const cause = (seen.at(-1) as AuthError).cause as StoreUnavailableError;
    expect(cause.code).toBe(ErrorCodes.ERR_STORE_TIMEOUT);
    expect(cause.message).toMatch(/^Rate limiter: Redis did not answer within 300ms: connection refused \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
    expect(cause.cause).toMatchObject({ code: 'ECONNREFUSED' });
    expect(storeErrors.at(-1)?.error).toBe(cause);
  });

  test("an app with its own 'error' listener keeps every error and gets no warning from the library", async () => {
    const warnings = recordWarnings();
    const heard: Error[] = [];
    const { auth } = storeApp(userClient(await freePort(), {}, (error) => heard.push(error)));
    await rejectionOf(auth.ready());
    expect(heard.length).toBeGreaterThan(0);
    expect(heard[0]).toMatchObject({ code: 'ECONNREFUSED' });
    expect(warnings.filter((warning) => warning.code === 'ERT_STORE_UNREACHABLE')).toEqual([]);
  });

  test("stores on one client share one 'error' listener, taken off when the last of them closes", async () => {
    const c = userClient(await freePort(), { lazyConnect: true });
    const first = new RedisStore({ client: c, prefix: uniquePrefix() });
    const second = new RedisStore({ client: c, prefix: uniquePrefix() });
    expect(c.listenerCount('error')).toBe(1);
    await first.close();
    await first.close(); // twice changes nothing
    expect(c.listenerCount('error')).toBe(1);
    await second.close();
    expect(c.listenerCount('error')).toBe(0);
  });

  test('one warning per outage: again after Redis came back and went away', async () => {
    const warnings = recordWarnings();
    const port = await freePort();
    const c = userClient(port, { retryStrategy: () => 50 });
    storeApp(c);
    await new Promise((resolve) => setTimeout(resolve, 300)); // several refused reconnects
    const unreachable = () => warnings.filter((warning) => warning.code === 'ERT_STORE_UNREACHABLE');
    expect(unreachable()).toHaveLength(1);

    const server = await startRedisServer(port);
    servers.push(server);
    // The client retries every 50 ms, so it may be ready before the server's start-up wait returns.
    if (c.status !== 'ready') await new Promise<void>((resolve) => c.once('ready', () => resolve()));
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(unreachable()).toHaveLength(2);
  });
});

describe('Redis wants a password the client does not give (NOAUTH), or refuses the one it gives (WRONGPASS)', () => {
  test.each<[string, RedisOptions, RegExp]>([
    [
      'no password',
      {},
      /Redis wants a password the client does not send: put it in the Redis URL or the client's `password` option \(NOAUTH Authentication required\.\)/,
    ],
    ['a wrong password', { password: 'not-the-password' }, /Redis refused the username or password the client sends \(WRONGPASS/],
  ])('%s: ready(), the store_error event and the API name it, with the Redis error as cause', async (_label, options, words) => {
    recordWarnings();
    const server = await startRedisServer();
    servers.push(server);
    const admin = userClient(server.port);
    await admin.call('CONFIG', 'SET', 'requirepass', 'the-password');
    const { auth, app, storeErrors } = storeApp(userClient(server.port, options));

    const notLoaded = await rejectionOf(auth.ready());
    expect(notLoaded.message).toMatch(words);
    expect(notLoaded.cause).toBeInstanceOf(Error);
    expect((notLoaded.cause as Error).message).toMatch(/NOAUTH|WRONGPASS/);

    expectBareUnavailable(await loginRequest(app), server.port);
    expect(storeErrors.at(-1)?.error.message).toMatch(words);

    const timedOut = await rejectionOf(auth.revokeSession('some-session'));
    expect(timedOut.message).toMatch(/^Redis did not answer within 300ms: /);
    expect(timedOut.message).toMatch(words);
    expect((timedOut.cause as Error).message).toMatch(/NOAUTH|WRONGPASS/);
  });
});

describe('a server that stopped answering (SIGSTOP)', () => {
  test('a refresh times out saying no reply came; requireAuth then fails closed naming the timeout as the cause', async () => {
    recordWarnings();
    const server = await startRedisServer();
    servers.push(server);
    const c = userClient(server.port, { maxRetriesPerRequest: null }, () => undefined);
    const { auth, app, storeErrors, seen } = storeApp(c, { revocation: { maxStaleness: '1s' } });
    await auth.ready();
    const session = await login(app);

    process.kill(server.process.pid as number, 'SIGSTOP');
    const res = await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${session.refreshToken}`);
    expectBareUnavailable(res, server.port);
    const timeout = storeErrors.at(-1)?.error as StoreUnavailableError;
    expect(timeout.code).toBe(ErrorCodes.ERR_STORE_TIMEOUT);
    expect(timeout.message).toBe(
      'Redis did not answer within 300ms: the command went out on an open connection and no reply came (a stalled or overloaded server, or a network dropping packets)',
    );

    await new Promise((resolve) => setTimeout(resolve, 1300)); // past maxStaleness
    const me = await request(app).get('/api/me').set('Authorization', `Bearer ${session.accessToken}`);
    expectBareUnavailable(me, server.port);
    const stale = ((seen.at(-1) as AuthError).cause ?? {}) as StoreUnavailableError;
    expect(stale.code).toBe(ErrorCodes.ERR_REVOCATION_FEED_STALE);
    expect(stale.message).toMatch(
      /^the revocation feed has not heard from the store within revocation\.maxStaleness: Redis (did not answer|stopped answering)/,
    );
    expect(stale.cause).toBeInstanceOf(StoreUnavailableError);
    expect(storeErrors.at(-1)?.error).toBe(stale);

    // A new instance on the stopped server: its own connection was accepted, and nothing answers it.
    const late = storeApp(userClient(server.port, {}, () => undefined));
    const notLoaded = await rejectionOf(late.auth.ready());
    expect(notLoaded.message).toBe(
      'the revocation feed could not load from Redis within 300ms: Redis accepted the connection but has not answered its first command (a stalled server?)',
    );
  });
});
