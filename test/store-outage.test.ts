// Store outages with real redis-server processes: start-up, unreachable, hung (SIGSTOP), held and killed Redis give prompt 503s, never 500, and never a late effect.
import { createHash } from 'node:crypto';
import type { Express } from 'express';
import Redis, { type RedisOptions } from 'ioredis';
import request from 'supertest';
import { type Auth, type AuthEventMap, MemoryStore, RedisStore, StoreUnavailableError } from '../lib';
import { PRESENT_TOKEN } from '../lib/store/redis-scripts';
import { COOKIE, closeAuths, login, REFRESH_SECRET, refresh, refreshCookieOf, testApp, uniquePrefix } from './support/harness';
import { recordWarnings, stopRecordingWarnings } from './support/process-warnings';
import { freePort, startRedisServer } from './support/redis-process';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { sessionIdOfRefreshToken, sidOf } from './support/tokens';

/** Hang guard only: an outage must be answered promptly, not after ioredis' retries. */
const PROMPT_MS = 2000;

const openClients: Redis[] = [];
const servers: Array<Awaited<ReturnType<typeof startRedisServer>>> = [];
const memoryStores: MemoryStore[] = [];
const proxies: TcpProxy[] = [];

afterAll(async () => {
  await closeAuths();
  for (const client of openClients.splice(0)) client.disconnect();
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
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

/** A private redis-server this test may stop, freeze or kill, and a connected client on it. */
async function privateRedis(): Promise<{ server: (typeof servers)[number]; pid: number; c: Redis }> {
  const server = await startRedisServer();
  servers.push(server);
  const c = client(server.port, { maxRetriesPerRequest: null });
  await ready(c);
  return { server, pid: server.process.pid as number, c };
}

/** Sessions issued by a healthy app with the same secrets (the harness's), so they are valid everywhere. */
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

/** Polls `check` every 50 ms until it holds; fails after `timeoutMs`. */
async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
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

/**
 * The contract for a logout during an outage: 503 with Retry-After like any outage, but both cookies
 * cleared (the browser is signed out whatever the store does), and words saying the rest is pending.
 */
function expectLogoutPending(res: request.Response): void {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: 'temporarily_unavailable', message: expect.stringMatching(/signed out.*retried/is) });
  expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  expect(res.headers['cache-control']).toBe('no-store');
  for (const name of [COOKIE, `${COOKIE}-present`]) expect(refreshCookieOf(res, name)).toBe('');
  expect(res.text).not.toMatch(/at .*\.(ts|js):\d+|StoreUnavailableError|ECONNREFUSED/);
}

const loginRequest = (app: Express): request.Test =>
  request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'alice-password' });
const logoutRequest = (app: Express, refreshToken: string): request.Test =>
  request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);
const meRequest = (app: Express, accessToken: string): request.Test => request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);

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

  test('logout answers 503 promptly, clears both cookies all the same and says the server-side end is pending', async () => {
    const { res, ms } = await timed(() => logoutRequest(app, tokens.refreshToken));
    expectLogoutPending(res);
    expect(ms).toBeLessThan(PROMPT_MS);
    expect(storeErrors.at(-1)?.operation).toBe('logout');
  });

  test('a valid access token gets 503 from requireAuth, never 200: "could not check" is not "not revoked"', async () => {
    const { res, ms } = await timed(() => meRequest(app, tokens.accessToken));
    expect(res.status).not.toBe(200);
    expectUnavailable(res);
    expect(ms).toBeLessThan(PROMPT_MS);
    expect(storeErrors.at(-1)?.operation).toBe('requireAuth');
  });

  test('requests that need no store are still answered normally (401s, 204 logout without cookie)', async () => {
    const before = storeErrors.length;
    const anonymous = await request(app).get('/api/me');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="api"');
    const garbage = await meRequest(app, 'not.a.jwt');
    expect(garbage.status).toBe(401);
    expect(garbage.body).toEqual({ error: 'invalid_token' });
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

describe('serving from the first request', () => {
  test('a request sent right after createAuth with a brand-new client succeeds (it waits for the connection)', async () => {
    const { server } = await privateRedis();
    const fresh = client(server.port, {});
    expect(fresh.status).not.toBe('ready');
    const { app } = testApp(new RedisStore({ client: fresh, prefix: uniquePrefix() }));
    const { accessToken, refreshToken } = await login(app);
    expect((await meRequest(app, accessToken)).status).toBe(200);
    expect((await refresh(app, refreshToken)).status).toBe(200);
  });

  test('a lazyConnect client is connected by the first command, as ioredis intends', async () => {
    const { server } = await privateRedis();
    const lazy = client(server.port, { lazyConnect: true });
    const { app } = testApp(new RedisStore({ client: lazy, prefix: uniquePrefix() }));
    const { accessToken } = await login(app);
    expect(lazy.status).toBe('ready');
    expect((await meRequest(app, accessToken)).status).toBe(200);
  });

  test('a dead port still answers 503 within commandTimeoutMs', async () => {
    const COMMAND_TIMEOUT_MS = 300;
    const { app } = testApp(new RedisStore({ client: client(await freePort()), prefix: uniquePrefix(), commandTimeoutMs: COMMAND_TIMEOUT_MS }));
    const { res, ms } = await timed(() => loginRequest(app));
    expectUnavailable(res);
    expect(ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20);
    expect(ms).toBeLessThan(COMMAND_TIMEOUT_MS + 400);
  });
});

describe('a Redis that hangs (SIGSTOP)', () => {
  const COMMAND_TIMEOUT_MS = 300;

  test('refresh answers 503 after commandTimeoutMs and leaves the cookie; access tokens are served until the feed is stale, then 503; all recovers after SIGCONT', async () => {
    const { server, pid, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: COMMAND_TIMEOUT_MS }), {
      revocation: { maxStaleness: '1s' },
    });
    const storeErrors = collectStoreErrors(auth);
    const reuse: unknown[] = [];
    auth.events.on('reuse_detected', (event) => reuse.push(event));
    const { accessToken, refreshToken } = await login(app);

    process.kill(pid, 'SIGSTOP');
    try {
      // The feed was confirmed moments ago: no store round trip is needed to accept the token.
      expect((await meRequest(app, accessToken)).status).toBe(200);
      const hung = await timed(() => refresh(app, refreshToken));
      expectUnavailable(hung.res);
      expect(hung.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20); // it did wait for Redis...
      expect(hung.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 1200); // ...but no longer than the timeout
      expect(storeErrors.at(-1)?.operation).toBe('refresh');
      // Past maxStaleness the feed cannot vouch for what it holds: fail closed.
      await waitFor(async () => (await meRequest(app, accessToken)).status === 503, 3000);
      expectUnavailable(await meRequest(app, accessToken));
      expect(storeErrors.at(-1)?.operation).toBe('requireAuth');
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    await waitFor(async () => (await meRequest(app, accessToken)).status === 200, 3000);
    const resumed = await refresh(app, refreshToken);
    expect(resumed.status).toBe(200);
    expect(reuse).toEqual([]);
    await server.stop();
  });

  test('after the first timeout, requests fail fast (the circuit is open) and nothing piles up in the queue; it closes by itself after SIGCONT', async () => {
    const { pid, c } = await privateRedis();
    const { app } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: COMMAND_TIMEOUT_MS }));
    const { refreshToken } = await login(app);
    const evalshaCalls = async (): Promise<number> => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await c.info('commandstats'))?.[1] ?? 0);
    const before = await evalshaCalls();

    const pingCalls = async (): Promise<number> => Number(/cmdstat_ping:calls=(\d+)/.exec(await c.info('commandstats'))?.[1] ?? 0);
    const pingsBefore = await pingCalls();
    process.kill(pid, 'SIGSTOP');
    const durations: number[] = [];
    try {
      const first = await timed(() => refresh(app, refreshToken));
      expectUnavailable(first.res);
      expect(first.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20);
      for (let i = 0; i < 100; i++) {
        const { res, ms } = await timed(() => refresh(app, refreshToken));
        expectUnavailable(res);
        durations.push(ms);
      }
      await new Promise((r) => setTimeout(r, 6 * COMMAND_TIMEOUT_MS)); // the probe keeps trying meanwhile
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    durations.sort((x, y) => x - y);
    const median = durations[durations.length / 2] as number;
    expect(median).toBeLessThan(COMMAND_TIMEOUT_MS / 4);

    await waitFor(async () => (await refresh(app, refreshToken)).status === 200, 3000);
    // 101 refreshes were answered during the stall, but only the first reached the connection,
    // and the probe never had more than one PING waiting (two counting the INFO's own round trip).
    expect((await evalshaCalls()) - before).toBeLessThan(10);
    expect((await pingCalls()) - pingsBefore).toBeLessThanOrEqual(2);
  });

  test.each([
    ['a login, whose throttling counter', 'a refresh', loginRequest, 'refresh'],
    ['a refresh', "a login's throttling counter", (app: Express, refreshToken: string) => refresh(app, refreshToken), 'login'],
  ] as const)('sessions and throttling share one circuit: after %s times out, %s fails fast', async (_first, _then, timesOut, failsFastOperation) => {
    const { pid, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: COMMAND_TIMEOUT_MS }));
    const storeErrors = collectStoreErrors(auth);
    const { refreshToken } = await login(app);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the login's own marks, written after its answer

    process.kill(pid, 'SIGSTOP');
    try {
      const hung = await timed(() => timesOut(app, refreshToken));
      expectUnavailable(hung.res);
      expect(hung.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20);
      expect(storeErrors.at(-1)?.error.code).toBe('ERR_STORE_TIMEOUT');

      const other = failsFastOperation === 'refresh' ? () => refresh(app, refreshToken) : () => loginRequest(app);
      const fast = await timed(other);
      expectUnavailable(fast.res);
      expect(fast.ms).toBeLessThan(COMMAND_TIMEOUT_MS / 2);
      expect(storeErrors.at(-1)).toMatchObject({ operation: failsFastOperation, error: { code: 'ERR_STORE_CIRCUIT_OPEN' } });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});

describe('a logout during an outage', () => {
  test('on a stalled Redis it answers 503 with both cookies cleared, and once Redis resumes the family is ended in the background, with no further request', async () => {
    const { server, pid, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }));
    const logouts: Array<AuthEventMap['logout'][0]> = [];
    auth.events.on('logout', (event) => logouts.push(event));
    const { accessToken, refreshToken } = await login(app);

    process.kill(pid, 'SIGSTOP');
    try {
      expectLogoutPending(await logoutRequest(app, refreshToken).set('User-Agent', 'leaving-browser'));
      await new Promise((r) => setTimeout(r, 1500)); // a stall across several retries
      expect(logouts).toEqual([]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    // Not one request from here until the retry has ended the family by itself.
    await waitFor(async () => logouts.length > 0, 15_000);
    expect(logouts).toEqual([{ userId: 'user-alice', sessionId: sidOf(accessToken), ip: expect.any(String), userAgent: 'leaving-browser', deferred: true }]);
    expect(await auth.listSessions('user-alice')).toEqual([]);
    // A copy of the cookie the browser no longer holds, replayed, is refused; so is the access token.
    const replay = await refresh(app, refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ error: 'invalid_refresh_token' });
    await waitFor(async () => (await meRequest(app, accessToken)).status === 401, 3000);
    await server.stop();
  });

  test('auth.close() stops the retries and reports each logout still pending as abandoned', async () => {
    const { app, auth } = testApp(new RedisStore({ client: client(await freePort()), prefix: uniquePrefix(), commandTimeoutMs: 300 }));
    const abandoned: Array<AuthEventMap['logout_abandoned'][0]> = [];
    auth.events.on('logout_abandoned', (event) => abandoned.push(event));
    const { accessToken, refreshToken } = await healthyTokens();

    expectLogoutPending(await logoutRequest(app, refreshToken).set('User-Agent', 'leaving-browser'));
    await new Promise((r) => setTimeout(r, 600)); // a retry or two, still failing
    expect(abandoned).toEqual([]);
    await auth.close();
    expect(abandoned).toEqual([{ sessionId: sidOf(accessToken), ip: expect.any(String), userAgent: 'leaving-browser', reason: 'closed' }]);
  });

  test('with no listener for logout_abandoned, an abandoned logout is a process warning (ERT_LOGOUT_ABANDONED) naming no session', async () => {
    const { app, auth } = testApp(new RedisStore({ client: client(await freePort()), prefix: uniquePrefix(), commandTimeoutMs: 300 }));
    const { accessToken, refreshToken } = await healthyTokens();
    expectLogoutPending(await logoutRequest(app, refreshToken));
    const warnings = recordWarnings('ERT_LOGOUT_ABANDONED');
    try {
      await auth.close();
    } finally {
      stopRecordingWarnings();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/logout_abandoned/);
    expect(warnings[0]).not.toContain(sidOf(accessToken));
  });
});

describe('a command that timed out never takes effect later', () => {
  test('a refresh answered 503 on a stalled Redis does not rotate when Redis resumes: the kept cookie works past the grace window, with no reuse event', async () => {
    const { server, pid, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }), {
      refreshToken: { secret: REFRESH_SECRET, reuseGrace: '1s' },
    });
    const reuse: unknown[] = [];
    const refreshes: boolean[] = [];
    auth.events.on('reuse_detected', (event) => reuse.push(event));
    auth.events.on('refresh', (event) => refreshes.push(event.retried));
    const { refreshToken } = await login(app);

    process.kill(pid, 'SIGSTOP');
    try {
      expectUnavailable(await refresh(app, refreshToken));
    } finally {
      await new Promise((r) => setTimeout(r, 1300)); // a stall longer than reuseGrace
      process.kill(pid, 'SIGCONT');
    }
    await c.ping(); // everything queued before it has now run (and refused to: past its deadline)

    const kept = await refresh(app, refreshToken);
    expect(kept.status).toBe(200);
    expect(refreshes).toEqual([false]); // a rotation of the current token, not a grace-window retry
    expect(reuse).toEqual([]);
    expect((await refresh(app, refreshCookieOf(kept) as string)).status).toBe(200);
    await server.stop();
  });

  test('an auth.revokeSession that answered 503 on a stalled Redis does not end the session when Redis resumes', async () => {
    const { server, pid, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }));
    const { accessToken, refreshToken } = await login(app);

    process.kill(pid, 'SIGSTOP');
    try {
      await expect(auth.revokeSession(sidOf(accessToken))).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await c.ping(); // what was queued has now reached Redis, past its deadline
    await waitFor(async () => (await refresh(app, refreshToken)).status !== 503, 3000);
    expect((await auth.listSessions('user-alice')).map((s) => s.sessionId)).toEqual([sidOf(accessToken)]);
    expect((await meRequest(app, accessToken)).status).toBe(200);
    await server.stop();
  });

  test('a login that timed out leaves no session behind', async () => {
    const { server, pid, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }));
    await login(app);

    process.kill(pid, 'SIGSTOP');
    try {
      expectUnavailable(await loginRequest(app));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await c.ping();
    await waitFor(async () => (await auth.listSessions('user-alice').catch(() => null)) !== null, 3000);
    expect(await auth.listSessions('user-alice')).toHaveLength(1);
    await server.stop();
  });

  test('a re-login answered 503 while its revocation of the old family was held in the network leaves the old session alive', async () => {
    const { server } = await privateRedis();
    const proxy = await startTcpProxy(server.port);
    proxies.push(proxy);
    const c = client(proxy.port, { maxRetriesPerRequest: null });
    await ready(c);
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }));
    const reuse: unknown[] = [];
    auth.events.on('reuse_detected', (event) => reuse.push(event));
    const old = await login(app);

    // Let the new family be created, then hold everything from the presentation of the old cookie on.
    const presentSha = createHash('sha1').update(PRESENT_TOKEN).digest('hex');
    proxy.holdUpstreamWhen((chunk) => chunk.includes(presentSha));
    const res = await loginRequest(app).set('Cookie', `${COOKIE}=${old.refreshToken}`);
    expectUnavailable(res);
    proxy.releaseUpstream();
    await c.ping();

    const kept = await refresh(app, old.refreshToken);
    expect(kept.status).toBe(200);
    expect(reuse).toEqual([]);
    // And the half-made new family was discarded behind it: only the old session is listed.
    expect((await auth.listSessions('user-alice')).map((s) => s.sessionId)).toEqual([sessionIdOfRefreshToken(old.refreshToken)]);
  });
});

describe('a Redis killed mid-run', () => {
  test('login, refresh and logout answer 503 (never 500) once the server is gone, and requireAuth once the feed is stale', async () => {
    const { server, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix() }), { revocation: { maxStaleness: '1s' } });
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
        ['logout', () => logoutRequest(app, current)],
        ['login', () => loginRequest(app)],
      ] as const) {
        const { res, ms } = await timed(send);
        expect({ name, status: res.status }).toEqual({ name, status: 503 });
        if (name === 'logout') expectLogoutPending(res);
        else expectUnavailable(res);
        expect(ms).toBeLessThan(PROMPT_MS);
      }
      if (round === 0) {
        const deadline = Date.now() + 3000;
        while (c.status === 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(c.status).not.toBe('ready');
      }
    }
    await waitFor(async () => (await meRequest(app, accessToken)).status === 503, 3000);
    expectUnavailable(await meRequest(app, accessToken));
    expect(new Set(storeErrors.map((e) => e.operation))).toEqual(new Set(['refresh', 'requireAuth', 'logout', 'login']));
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

describe('failures stay boring', () => {
  test("a stalled Redis with the ioredis client's default options answers 503 within 3 s", async () => {
    const { server, pid } = await privateRedis();
    const c = client(server.port); // ioredis defaults: offline queue, 20 retries per request
    await ready(c);
    const { app } = testApp(new RedisStore({ client: c, prefix: uniquePrefix() }));
    const { refreshToken } = await login(app);
    process.kill(pid, 'SIGSTOP');
    try {
      for (const [name, send] of [
        ['refresh', () => refresh(app, refreshToken)],
        ['login', () => loginRequest(app)],
        ['logout', () => logoutRequest(app, refreshToken)],
      ] as const) {
        const { res, ms } = await timed(send);
        if (name === 'logout') expectLogoutPending(res);
        else expectUnavailable(res);
        expect(ms).toBeLessThan(3000);
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  test('Redis killed under load and restarted empty: no 500, a revoked token is never accepted, 503 while it is down', async () => {
    const { server, c } = await privateRedis();
    const { app, auth } = testApp(new RedisStore({ client: c, prefix: uniquePrefix(), commandTimeoutMs: 300 }), {
      revocation: { maxStaleness: '1s' },
      rateLimit: false,
    });
    await auth.ready();
    const live = await login(app);
    const revoked = await login(app);
    expect((await logoutRequest(app, revoked.refreshToken)).status).toBe(204);

    const seen: Array<{ kind: string; status: number }> = [];
    let running = true;
    const worker = async (): Promise<void> => {
      let current = live.refreshToken;
      while (running) {
        const [good, bad, rotated] = await Promise.all([meRequest(app, live.accessToken), meRequest(app, revoked.accessToken), refresh(app, current)]);
        seen.push({ kind: 'live', status: good.status }, { kind: 'revoked', status: bad.status }, { kind: 'refresh', status: rotated.status });
        if (rotated.status === 200) current = refreshCookieOf(rotated) as string;
      }
    };
    const workers = [worker(), worker()];
    await new Promise((r) => setTimeout(r, 300));
    await server.stop(); // killed mid-load
    await new Promise((r) => setTimeout(r, 1500)); // down past maxStaleness
    const restarted = await startRedisServer(server.port); // back, empty
    servers.push(restarted);
    await new Promise((r) => setTimeout(r, 1500));
    running = false;
    await Promise.all(workers);

    const statuses = new Set(seen.map((entry) => entry.status));
    expect([...statuses].filter((status) => ![200, 401, 503].includes(status))).toEqual([]);
    expect(seen.filter((entry) => entry.kind === 'revoked' && entry.status === 200)).toEqual([]);
    expect(seen.some((entry) => entry.status === 503)).toBe(true); // it was down, and said so
    expect(seen.some((entry) => entry.kind === 'live' && entry.status === 200)).toBe(true);
  }, 20_000);
});
