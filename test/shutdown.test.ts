// Shutting down without losing a rotation: auth.close() lets the logins, refreshes and logouts under way finish, refuses new ones with a clean 503, and the example app's SIGTERM does so under load and exits 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import Redis from 'ioredis';
import request from 'supertest';
import { type AuthEventMap, type AuthOptions, RedisStore } from '../lib';
import { PRESENT_TOKEN } from '../lib/store/redis-scripts';
import { ACCESS_SECRET, COOKIE, closeAll, login, REFRESH_SECRET, refresh, refreshCookieOf, testApp, uniquePrefix } from './support/harness';
import { closePrivateInstances, privateServer, proxyTo, readyInstanceOn, splitClient } from './support/private-instances';
import { sidOf } from './support/tokens';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** No throttling, and no reuse grace: a refresh cookie whose rotation was lost would be refused as reused, not answered as a retry. */
const STRICT: Partial<AuthOptions> = { rateLimit: false, refreshToken: { secret: REFRESH_SECRET, reuseGrace: 0 } };

const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }
  await closePrivateInstances();
  await closeAll();
});

describe('auth.close()', () => {
  test('resolves only after a refresh under way (held at Redis) has finished; one that arrives meanwhile answers 503 and keeps its cookie', async () => {
    const server = await privateServer();
    const proxy = await proxyTo(server.port);
    const prefix = uniquePrefix();
    // Commands through the proxy, the revocation feed's subscription straight to Redis.
    const client = splitClient(proxy.port, server.port);
    const { app, auth } = testApp(new RedisStore({ client, prefix, commandTimeoutMs: 3000 }), STRICT);
    await auth.ready();
    const underWay = await login(app, 'alice');
    const late = await login(app, 'bob');
    const storeErrors: Array<AuthEventMap['store_error'][0]> = [];
    auth.events.on('store_error', (event) => storeErrors.push(event));

    // The refresh reaches Redis and is held there: it is under way when close() begins.
    proxy.holdUpstreamWhen((chunk) => chunk.includes(createHash('sha1').update(PRESENT_TOKEN).digest('hex')));
    const answer = refresh(app, underWay.refreshToken).then((res) => res);
    await sleep(200);
    let closed = false;
    const closing = auth.close().then(() => {
      closed = true;
    });
    await sleep(300);
    expect(closed).toBe(false);

    const refused = await refresh(app, late.refreshToken);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ error: 'temporarily_unavailable' });
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect(storeErrors.map(({ operation, error }) => [operation, error.code])).toEqual([['refresh', 'ERR_SHUTTING_DOWN']]);
    expect(closed).toBe(false);

    proxy.releaseUpstream();
    const rotated = await answer;
    expect(rotated.status).toBe(200);
    await closing;
    // What the SIGTERM recipe does next: nothing of the instance uses the client any more.
    await client.quit();

    // Both cookies work on a fresh instance on the same Redis: the one rotated and answered, and the one refused untouched.
    const fresh = await readyInstanceOn(server.port, prefix, STRICT);
    expect((await refresh(fresh.app, refreshCookieOf(rotated) as string)).status).toBe(200);
    expect((await refresh(fresh.app, late.refreshToken)).status).toBe(200);
  }, 20_000);

  test('once it has begun, a login answers 503 too, and a logout answers 503 with its session reported abandoned', async () => {
    const { app, auth } = testApp();
    const session = await login(app);
    const abandoned: Array<AuthEventMap['logout_abandoned'][0]> = [];
    auth.events.on('logout_abandoned', (event) => abandoned.push(event));
    await auth.close();

    const loginAnswer = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'alice-password' });
    expect(loginAnswer.status).toBe(503);
    expect(loginAnswer.body).toEqual({ error: 'temporarily_unavailable' });
    expect(refreshCookieOf(loginAnswer)).toBeUndefined();

    const logoutAnswer = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${session.refreshToken}`);
    expect(logoutAnswer.status).toBe(503);
    expect(logoutAnswer.body.error).toBe('temporarily_unavailable');
    expect(abandoned).toEqual([expect.objectContaining({ sessionId: sidOf(session.accessToken), reason: 'closed' })]);
  });
});

// ---------------------------------------------------------------------------------------------
// The example app under load, stopped by SIGTERM
// ---------------------------------------------------------------------------------------------

/** What one HTTP request came to: an answer, or none (the connection was refused or reset). */
type Outcome =
  | { answered: true; status: number; headers: IncomingHttpHeaders; body: string; sentAt: number }
  | { answered: false; error: string; sentAt: number };

/** POSTs `path` on 127.0.0.1:`port` over `agent` (keep-alive: a browser's connection), with a JSON `body` when given. */
function post(agent: Agent, port: number, path: string, headers: Record<string, string>, body = ''): Promise<Outcome> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        headers: { 'X-Requested-With': 'fetch', 'Content-Length': String(Buffer.byteLength(body)), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ answered: true, status: res.statusCode ?? 0, headers: res.headers, body: text, sentAt }));
        res.on('error', (error) => resolve({ answered: false, error: error.message, sentAt }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ answered: false, error: error.code ?? error.message, sentAt }));
    req.end(body);
  });
}

/** The example app's refresh cookie (named `refresh` without `secure`) that an answer sets, if any. */
function setRefreshCookie(outcome: Outcome): string | undefined {
  if (!outcome.answered) return undefined;
  const line = (outcome.headers['set-cookie'] ?? []).find((cookie) => cookie.startsWith('refresh='));
  return line?.slice('refresh='.length).split(';')[0];
}

/** The example app's server.js as `npm start` runs it, on `redisUrl`; resolves with its port once it has said all it says at a start. */
function startExampleServer(redisUrl: string): Promise<{ child: ChildProcess; port: number; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'example-app', 'server.js')], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      PORT: '0',
      REDIS_URL: redisUrl,
      ACCESS_TOKEN_SECRET: ACCESS_SECRET,
      REFRESH_TOKEN_SECRET: REFRESH_SECRET,
      REFRESH_REUSE_GRACE: '0',
      METRICS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server.js did not start within 10 s:\n${output}`)), 10_000);
    const onData = (chunk: Buffer): void => {
      output += chunk;
      const started = /example app on http:\/\/localhost:(\d+)[\s\S]*Access tokens live/.exec(output);
      if (!started) return;
      clearTimeout(timer);
      resolve({ child, port: Number(started[1]), output: () => output, exited });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server.js exited (${code}) before listening:\n${output}`));
    });
  });
}

/** Resolves once `text()` matches `pattern`, or rejects after `timeoutMs`. */
async function untilMatches(text: () => string, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(text())) {
    if (Date.now() > deadline) throw new Error(`never said ${pattern}:\n${text()}`);
    await sleep(10);
  }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createExampleApp } = require('../example-app/app.js') as {
  createExampleApp(options: { redisClient: Redis; secure: boolean; accessTokenSecret: string; refreshTokenSecret: string; refreshReuseGrace: number }): {
    app: import('express').Express;
    auth: { ready(): Promise<void> };
    close(): Promise<void>;
  };
};

const CLIENTS = 16;
/** How long the process may take from SIGTERM to its exit. */
const EXIT_BOUND_MS = 5000;

test('the example app stopped by SIGTERM under refresh load: every request under way is answered, every answer is 200 or a clean 503, every latest cookie still works, and it exits 0', async () => {
  const redis = await privateServer();
  // Redis behind a proxy, to hold every command at the moment of the SIGTERM: requests are then surely under way.
  const proxy = await proxyTo(redis.port);
  const app = await startExampleServer(`redis://127.0.0.1:${proxy.port}`);

  const clients = [];
  for (let index = 0; index < CLIENTS; index += 1) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const loggedIn = await post(
      agent,
      app.port,
      '/auth/login',
      { 'Content-Type': 'application/json' },
      JSON.stringify({ username: 'demo', password: 'demo-password' }),
    );
    expect(loggedIn.answered && loggedIn.status).toBe(200);
    clients.push({ agent, cookie: setRefreshCookie(loggedIn) as string, outcomes: [] as Outcome[], pending: undefined as Promise<Outcome> | undefined });
  }

  // Each client refreshes in a chain, always with the latest cookie it was given, until a request gets no answer.
  const chains = clients.map(async (client) => {
    for (;;) {
      client.pending = post(client.agent, app.port, '/auth/refresh', { Cookie: `refresh=${client.cookie}` });
      const outcome = await client.pending;
      client.outcomes.push(outcome);
      if (!outcome.answered) return;
      const next = setRefreshCookie(outcome);
      if (next !== undefined) client.cookie = next;
    }
  });

  await sleep(300);
  proxy.holdUpstream();
  await sleep(150);
  const underWay = clients.map((client) => client.pending as Promise<Outcome>);
  const sigtermAt = Date.now();
  process.kill(app.child.pid as number, 'SIGTERM');
  await untilMatches(app.output, /SIGTERM: finishing the requests under way/, 2000);
  await sleep(200);
  expect(app.child.exitCode).toBeNull(); // still draining: the refreshes under way have not finished
  proxy.releaseUpstream();

  const code = await app.exited;
  const exitMs = Date.now() - sigtermAt;
  await Promise.all(chains);
  for (const client of clients) client.agent.destroy();

  expect(code).toBe(0);
  expect(exitMs).toBeLessThan(EXIT_BOUND_MS);
  expect(app.output()).not.toMatch(/unhandled|\n\s+at /i);

  // Every request under way at the SIGTERM finished with its rotation answered.
  for (const outcome of await Promise.all(underWay)) expect(outcome.answered && outcome.status).toBe(200);
  const outcomes = clients.flatMap((client) => client.outcomes);
  expect(outcomes.filter((outcome) => outcome.answered && outcome.status === 200 && outcome.sentAt < sigtermAt).length).toBeGreaterThan(CLIENTS);
  for (const outcome of outcomes) {
    if (!outcome.answered) {
      // No answer only once the process was stopping: such a request never rotated (checked below).
      expect(outcome.sentAt).toBeGreaterThanOrEqual(sigtermAt);
      continue;
    }
    const body = JSON.parse(outcome.body) as Record<string, unknown>;
    if (outcome.status === 200) {
      expect(body).toMatchObject({ accessToken: expect.any(String), tokenType: 'Bearer' });
      expect(setRefreshCookie(outcome)).toMatch(/.{20,}/);
    } else {
      expect({ status: outcome.status, body }).toEqual({ status: 503, body: { error: 'temporarily_unavailable' } });
      expect(outcome.headers['retry-after']).toBe('5');
      expect(setRefreshCookie(outcome)).toBeUndefined();
    }
  }

  // A second, fresh instance on the same Redis takes every client's latest cookie: no rotation went unanswered.
  const client = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true });
  const fresh = createExampleApp({
    redisClient: client,
    secure: false,
    accessTokenSecret: ACCESS_SECRET,
    refreshTokenSecret: REFRESH_SECRET,
    refreshReuseGrace: 0,
  });
  try {
    await fresh.auth.ready();
    for (const { cookie } of clients) {
      const res = await request(fresh.app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', `refresh=${cookie}`);
      expect(res.status).toBe(200);
    }
  } finally {
    await fresh.close();
    client.disconnect();
  }
}, 30_000);
