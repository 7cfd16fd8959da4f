// Store outages with real redis-server processes: unreachable, hung (SIGSTOP) and killed Redis give prompt 503s, never 200/500, and keep families intact.
import type { Express } from 'express';
import Redis, { type RedisOptions } from 'ioredis';
import request from 'supertest';
import { MemoryStore, RedisStore, StoreUnavailableError, type Auth, type AuthEventMap } from '../lib';
import { COOKIE, login, REFRESH_SECRET, refresh, refreshCookieOf, testApp, uniquePrefix } from './support/harness';
import { freePort, startRedisServer } from './support/redis-process';
import { sessionIdOfRefreshToken } from './support/tokens';

/** Hang guard only: an outage must be answered promptly, not after ioredis' retries. */
const PROMPT_MS = 2000;

const openClients: Redis[] = [];
const servers: Array<Awaited<ReturnType<typeof startRedisServer>>> = [];
const memoryStores: MemoryStore[] = [];

afterAll(async () => {
  for (const client of openClients.splice(0)) client.disconnect();
  for (const server of servers.splice(0)) {
    const pid = server.process.pid;
    if (pid !== undefined && server.process.exitCode === null && server.process.signalCode === null) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    await server.stop();
  }
  await Promise.all(memoryStores.splice(0).map((s) => s.close()));
});

/**
 * An ioredis client as a user would create it; errors are expected here, so they are swallowed, not
 * printed. `disconnectTimeout` only shortens ioredis' 2 s timer on disconnect() of an already-dead
 * socket, so jest can exit promptly; it plays no part while the tests run.
 */
function client(port: number, options: RedisOptions = {}): Redis {
  const c = new Redis({ port, host: '127.0.0.1', disconnectTimeout: 100, ...options });
  c.on('error', () => undefined);
  openClients.push(c);
  return c;
}

async function ready(c: Redis): Promise<void> {
  if (c.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis client not ready: ${c.status}`)), 5000);
    c.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Sessions issued by a healthy app with the same secrets (the harness's), so they are valid everywhere. */
/** A private redis-server this test may stop, freeze or kill, and a connected client on it. */
async function privateRedis(): Promise<{ server: (typeof servers)[number]; pid: number; c: Redis }> {
  const server = await startRedisServer();
  servers.push(server);
  const c = client(server.port, { maxRetriesPerRequest: null });
  await ready(c);
  return { server, pid: server.process.pid as number, c };
}

async function healthyTokens(): Promise<{ accessToken: string; refreshToken: string }> {
  const memory = new MemoryStore();
  memoryStores.push(memory);
  const { accessToken, refreshToken } = await login(testApp(memory).app);
  return { accessToken, refreshToken };
}

function collectStoreErrors(auth: Auth): Array<AuthEventMap['store_error'][0]> {
  const seen: Array<AuthEventMap['store_error'][0]> = [];
  auth.events.on('store_error', (event) => seen.push(event));
  return seen;
}

async function timed(run: () => PromiseLike<request.Response>): Promise<{ res: request.Response; ms: number }> {
  const started = performance.now();
  const res = await run();
  return { res, ms: performance.now() - started };
}

/** The contract for an outage: 503 temporarily_unavailable, Retry-After, no cookie change, no stack. */
function expectUnavailable(res: request.Response): void {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: 'temporarily_unavailable' });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  expect(res.headers['set-cookie']).toBeUndefined();
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.text).not.toMatch(/at .*\.(ts|js):\d+|StoreUnavailableError|ECONNREFUSED/);
}

const loginRequest = (app: Express): request.Test =>
  request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'alice-password' });
const logoutRequest = (app: Express, refreshToken: string): request.Test =>
  request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);
const meRequest = (app: Express, accessToken: string): request.Test =>
  request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);

describe.each<[string, RedisOptions]>([
  ['lazyConnect: false, maxRetriesPerRequest: null', { lazyConnect: false, maxRetriesPerRequest: null }],
  ['ioredis defaults', {}],
  ['enableOfflineQueue: false', { enableOfflineQueue: false }],
])('a RedisStore whose Redis is unreachable (%s)', (_label, redisOptions) => {
  let app: Express;
  let auth: Auth;
  let storeErrors: Array<AuthEventMap['store_error'][0]>;
  let tokens: { accessToken: string; refreshToken: string };

  beforeAll(async () => {
    const port = await freePort();
    ({ app, auth } = testApp(new RedisStore({ client: client(port, redisOptions), prefix: uniquePrefix() })));
    storeErrors = collectStoreErrors(auth);
    tokens = await healthyTokens();
  });

  test('login answers 503 promptly without a cookie', async () => {
    const { res, ms } = await timed(() => loginRequest(app));
    expectUnavailable(res);
    expect(ms).toBeLessThan(PROMPT_MS);
    expect(storeErrors.at(-1)?.operation).toBe('login');
    expect(storeErrors.at(-1)?.error).toBeInstanceOf(StoreUnavailableError);
  });

  test('refresh answers 503 promptly and leaves the cookie alone', async () => {
    const { res, ms } = await timed(() => refresh(app, tokens.refreshToken));
    expectUnavailable(res);
    expect(ms).toBeLessThan(PROMPT_MS);
    expect(storeErrors.at(-1)?.operation).toBe('refresh');
  });

  test('logout answers 503 promptly and leaves the cookie alone', async () => {
    const { res, ms } = await timed(() => logoutRequest(app, tokens.refreshToken));
    expectUnavailable(res);
    expect(ms).toBeLessThan(PROMPT_MS);
    expect(storeErrors.at(-1)?.operation).toBe('logout');
  });

  test('a valid access token gets 503 from requireAuth, never 200: "could not check" is not "not revoked"', async () => {
    const { res, ms } = await timed(() => meRequest(app, tokens.accessToken));
    expect(res.status).not.toBe(200);
    expectUnavailable(res);
    expect(ms).toBeLessThan(PROMPT_MS);
    expect(storeErrors.at(-1)?.operation).toBe('isRevoked');
  });

  test('requests that need no store are still answered normally (401s, 204 logout without cookie)', async () => {
    const before = storeErrors.length;
    const anonymous = await request(app).get('/api/me');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="api"');
    const garbage = await meRequest(app, 'not.a.jwt');
    expect(garbage.status).toBe(401);
    expect(garbage.body).toEqual({ error: 'invalid_token' });
    const wrongPassword = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'nope' });
    expect(wrongPassword.status).toBe(401);
    const logoutWithoutCookie = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch');
    expect(logoutWithoutCookie.status).toBe(204);
    expect(storeErrors.length).toBe(before);
  });

  test('the programmatic API rejects with StoreUnavailableError and reports store_error', async () => {
    const before = storeErrors.length;
    await expect(auth.revokeSession('some-session-id')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(auth.listSessions('user-alice')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(storeErrors.slice(before).map((e) => e.operation)).toEqual(['revokeSession', 'listSessions']);
  });
});

describe('a Redis that hangs (SIGSTOP)', () => {
  const COMMAND_TIMEOUT_MS = 300;

  test('refresh answers 503 after commandTimeoutMs, leaves the cookie, and the same token works once Redis resumes', async () => {
    const { server, pid, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: COMMAND_TIMEOUT_MS }));
    const storeErrors = collectStoreErrors(auth);
    const refreshes: boolean[] = [];
    auth.events.on('refresh', (event) => refreshes.push(event.retried));
    const reuse: unknown[] = [];
    auth.events.on('reuse_detected', (event) => reuse.push(event));

    const { accessToken, refreshToken } = await login(app);
    expect((await meRequest(app, accessToken)).status).toBe(200);

    process.kill(pid, 'SIGSTOP');
    try {
      const hung = await timed(() => refresh(app, refreshToken));
      expectUnavailable(hung.res);
      expect(hung.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20); // it did wait for Redis...
      expect(hung.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 1200); // ...but no longer than the timeout
      expect(storeErrors.at(-1)?.operation).toBe('refresh');

      const hungMe = await timed(() => meRequest(app, accessToken));
      expectUnavailable(hungMe.res);
      expect(hungMe.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 1200);

      const hungLogin = await timed(() => loginRequest(app));
      expectUnavailable(hungLogin.res);
      expect(hungLogin.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 1200);
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    // The outage did not burn the family: the very token the client still holds works.
    const resumed = await refresh(app, refreshToken);
    expect(resumed.status).toBe(200);
    expect(reuse).toEqual([]);
    const successor = refreshCookieOf(resumed);
    expect(successor).toBeDefined();
    expect(successor).not.toBe(refreshToken);
    expect((await meRequest(app, resumed.body.accessToken as string)).status).toBe(200);
    expect((await meRequest(app, accessToken)).status).toBe(200);

    // And the family goes on rotating normally from there.
    const next = await refresh(app, successor as string);
    expect(next.status).toBe(200);
    expect(refreshCookieOf(next)).not.toBe(successor);
    expect(refreshes.length).toBe(2);
    expect(reuse).toEqual([]);

    await server.stop();
    const afterKill = await timed(() => refresh(app, refreshCookieOf(next) as string));
    expectUnavailable(afterKill.res);
    expect(afterKill.ms).toBeLessThan(PROMPT_MS);
  });
});

describe('a Redis that hangs longer than reuseGrace', () => {
  // A command that timed out (503, "nothing happened, keep your cookie") is still queued on the
  // connection and runs when Redis resumes. The rotation must then be dated by when it ran, or the
  // client's retry with the cookie it was told to keep would fall outside the grace window.
  test('the cookie kept after a 503 still refreshes (no reuse alarm, family not revoked)', async () => {
    const { server, pid, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }), {
      refreshToken: { secret: REFRESH_SECRET, reuseGrace: '1s' },
    });
    const reuse: unknown[] = [];
    auth.events.on('reuse_detected', (event) => reuse.push(event));
    const { accessToken, refreshToken } = await login(app);

    process.kill(pid, 'SIGSTOP');
    try {
      expectUnavailable(await refresh(app, refreshToken));
    } finally {
      await new Promise((r) => setTimeout(r, 1300)); // a stall a little longer than reuseGrace
      process.kill(pid, 'SIGCONT');
    }

    const retried = await refresh(app, refreshToken);
    expect(reuse).toEqual([]);
    expect(retried.status).toBe(200);
    expect((await meRequest(app, accessToken)).status).toBe(200);
    await server.stop();
  });
});

describe('a login that timed out', () => {
  // Same root cause as above: the 503'd login's commands run when Redis resumes.
  test('leaves no session behind that the client never received', async () => {
    const { server, pid, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }));
    await login(app);

    process.kill(pid, 'SIGSTOP');
    try {
      expectUnavailable(await loginRequest(app));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await c.ping(); // everything queued before it has now run

    const sessions = await auth.listSessions('user-alice');
    expect(sessions).toHaveLength(1);
    await server.stop();
  });
});

describe('a Redis killed mid-run', () => {
  test('login, refresh, logout and requireAuth answer 503 (never 500) once the server is gone', async () => {
    const { server, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix() }));
    const storeErrors = collectStoreErrors(auth);

    const { accessToken, refreshToken } = await login(app);
    expect((await meRequest(app, accessToken)).status).toBe(200);
    const rotated = await refresh(app, refreshToken);
    expect(rotated.status).toBe(200);
    const current = refreshCookieOf(rotated) as string;

    await server.stop();

    // Straight after the kill (ioredis may not have noticed yet) and again once it has.
    for (let round = 0; round < 2; round++) {
      for (const [name, send] of [
        ['refresh', () => refresh(app, current)],
        ['me', () => meRequest(app, accessToken)],
        ['logout', () => logoutRequest(app, current)],
        ['login', () => loginRequest(app)],
      ] as const) {
        const { res, ms } = await timed(send);
        expect({ name, status: res.status }).toEqual({ name, status: 503 });
        expectUnavailable(res);
        expect(ms).toBeLessThan(PROMPT_MS);
      }
      if (round === 0) {
        const deadline = Date.now() + 3000;
        while (c.status === 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(c.status).not.toBe('ready');
      }
    }
    expect(new Set(storeErrors.map((e) => e.operation))).toEqual(new Set(['refresh', 'isRevoked', 'logout', 'login']));
    expect(storeErrors.every((e) => e.error instanceof StoreUnavailableError)).toBe(true);
  });
});

describe('a store outage during a login that holds an old refresh cookie', () => {
  /** A MemoryStore whose chosen method fails with an outage while armed. */
  class FaultyStore extends MemoryStore {
    failing: 'createSession' | 'presentToken' | undefined;
    override async createSession(...args: Parameters<MemoryStore['createSession']>): ReturnType<MemoryStore['createSession']> {
      if (this.failing === 'createSession') throw new StoreUnavailableError('injected outage');
      return super.createSession(...args);
    }
    override async presentToken(...args: Parameters<MemoryStore['presentToken']>): ReturnType<MemoryStore['presentToken']> {
      if (this.failing === 'presentToken') throw new StoreUnavailableError('injected outage');
      return super.presentToken(...args);
    }
  }

  // createSession failing proves the order (the old family is only ended once the new one exists);
  // presentToken failing proves the clean-up (the new family is dropped when the old cannot be ended).
  test.each(['createSession', 'presentToken'] as const)(
    'when %s fails: 503 without a cookie, no new family left, and the old cookie keeps working',
    async (failing) => {
      const store = new FaultyStore();
      memoryStores.push(store);
      const { app } = testApp(store);
      const old = await login(app);

      store.failing = failing;
      const res = await loginRequest(app).set('Cookie', `${COOKIE}=${old.refreshToken}`);
      store.failing = undefined;

      expectUnavailable(res);
      expect((await store.listSessions('user-alice')).map((s) => s.sessionId)).toEqual([sessionIdOfRefreshToken(old.refreshToken)]);
      expect((await refresh(app, old.refreshToken)).status).toBe(200);
    },
  );
});
