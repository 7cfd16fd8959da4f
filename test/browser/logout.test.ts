// Signing out in real Chromium against an app on a real private redis-server: the page says "signed out" exactly when
// the browser no longer holds the session (a confirmed logout, or a 503 that cleared the cookies), in every tab.
import express from 'express';
import Redis from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { type Auth, createAuth, RedisStore } from '../../lib';
import { launchChromium, serve } from '../support/browser';
import { USERS, uniquePrefix } from '../support/harness';
import { startRedisServer } from '../support/redis-process';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import {
  CONDITION_TIMEOUT_MS,
  clientPageAuthOptions,
  closeTestContexts,
  mountClientApp,
  newTestContext,
  openClientPage,
  type TestWindow,
  waitForClient,
} from './client-page';

declare const window: TestWindow;

const ALICE = { username: 'alice', password: (USERS.alice as { password: string }).password };
/** The refresh cookie's name with `cookie.secure: false`, and its script-readable presence cookie. */
const REFRESH_COOKIE = 'refresh';
const PRESENCE_COOKIE = 'refresh-present';
/** How long the store waits for a hung Redis before the route answers 503. */
const COMMAND_TIMEOUT_MS = 300;

/** What a rejected `logout()` looked like in the page. */
type Refusal = { name: string; status: number; code: string; message: string; retryAfter: number | undefined };

let browser: Browser;
let redis: Awaited<ReturnType<typeof startRedisServer>>;
let client: Redis;
let auth: Auth;
let app: express.Express;
let server: { origin: string; close(): Promise<void> };
/** The page reaches the app through this proxy, so a test can take the server off the network and bring it back. */
let proxy: TcpProxy;
let origin: string;
/** Every POST /auth/logout answer: its status and whether it cleared the refresh cookie. */
let logouts: { status: number; cleared: boolean }[] = [];
/** Every POST /auth/refresh the app received. */
let refreshes = 0;
/** When set, POST /auth/logout is answered by this (as an older server or a proxy might), leaving the cookies alone. */
let refuseLogout: { status: number; error: string; retryAfter?: string } | undefined;

beforeAll(async () => {
  redis = await startRedisServer();
  client = new Redis({ port: redis.port, host: '127.0.0.1', disconnectTimeout: 100, maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  auth = createAuth(clientPageAuthOptions(new RedisStore({ client, prefix: uniquePrefix(), commandTimeoutMs: COMMAND_TIMEOUT_MS }), 60));
  app = express();
  app.use((req, res, next) => {
    if (req.method === 'POST' && req.path === '/auth/refresh') refreshes += 1;
    if (req.method !== 'POST' || req.path !== '/auth/logout') return next();
    res.on('finish', () => {
      const setCookie = ([] as string[]).concat((res.getHeader('Set-Cookie') as string[] | string | undefined) ?? []);
      logouts.push({ status: res.statusCode, cleared: setCookie.some((line) => line.startsWith(`${REFRESH_COOKIE}=;`)) });
    });
    if (!refuseLogout) return next();
    if (refuseLogout.retryAfter) res.set('Retry-After', refuseLogout.retryAfter);
    res.status(refuseLogout.status).json({ error: refuseLogout.error });
  });
  mountClientApp(app, auth);
  server = await serve(app);
  proxy = await startTcpProxy(Number(new URL(server.origin).port));
  origin = `http://127.0.0.1:${proxy.port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await server?.close();
  await auth?.close();
  client?.disconnect();
  await redis?.stop();
});

beforeEach(() => {
  logouts = [];
  refreshes = 0;
  refuseLogout = undefined;
});

afterEach(closeTestContexts);

/** Two tabs of one browser, signed in as alice in the first; the second has the session from the first. */
async function twoSignedInTabs(): Promise<{ context: BrowserContext; tabA: Page; tabB: Page }> {
  const context = await newTestContext(browser);
  const tabA = await openClientPage(context, `${origin}/`);
  const tabB = await openClientPage(context, `${origin}/`);
  await tabA.evaluate((credentials) => window.auth.login(credentials), ALICE);
  expect(await tabB.evaluate(() => window.auth.restore())).toMatchObject({ signedIn: true, user: { userId: 'user-alice' } });
  expect((await context.cookies()).map((cookie) => cookie.name).sort()).toEqual([REFRESH_COOKIE, PRESENCE_COOKIE]);
  return { context, tabA, tabB };
}

/** Calls `logout()` in a tab: what it resolved to, or how it was refused. */
function logout(tab: Page): Promise<{ resolved: unknown } | { refused: Refusal }> {
  return tab.evaluate(async () => {
    try {
      return { resolved: await window.auth.logout() };
    } catch (caught) {
      const { name, status, code, message, retryAfter } = caught as Refusal;
      return { refused: { name, status, code, message, retryAfter } };
    }
  });
}

/** Waits until a tab's client has reported signed out. */
async function signedOutIn(tab: Page): Promise<void> {
  await tab.waitForFunction(() => window.sessionEvents.at(-1)?.signedIn === false, undefined, { polling: 20, timeout: CONDITION_TIMEOUT_MS });
  expect(await tab.evaluate(() => window.auth.getSession())).toEqual({ signedIn: false });
}

/** Asserts that a tab still reports alice signed in, and that its token still works. */
async function stillSignedIn(tab: Page): Promise<void> {
  expect(await tab.evaluate(() => window.auth.getSession())).toMatchObject({ signedIn: true, user: { userId: 'user-alice' } });
  expect(await tab.evaluate(() => window.sessionEvents.map((state) => state.signedIn))).toEqual([true]);
  expect(await tab.evaluate(() => window.fetchJson('/api/me'))).toMatchObject({ status: 200, body: { userId: 'user-alice' } });
}

/** After a reload the page asks nothing: there is no presence cookie. */
async function reloadStaysSignedOut(tab: Page): Promise<void> {
  const before = refreshes;
  await tab.reload();
  await waitForClient(tab);
  expect(await tab.evaluate(() => window.auth.restore())).toEqual({ signedIn: false });
  expect(refreshes).toBe(before);
}

describe('logout() reports signed out when the browser no longer holds the session', () => {
  test('a logout the server confirms resolves { serverSessionEnded: true }: both cookies go, every tab signs out, the refresh token is dead', async () => {
    const { context, tabA, tabB } = await twoSignedInTabs();
    const refreshToken = (await context.cookies()).find((cookie) => cookie.name === REFRESH_COOKIE)?.value as string;

    expect(await logout(tabA)).toEqual({ resolved: { serverSessionEnded: true } });
    expect(logouts).toEqual([{ status: 204, cleared: true }]);
    expect(await context.cookies()).toEqual([]);
    await signedOutIn(tabA);
    await signedOutIn(tabB);
    const refused = await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', `${REFRESH_COOKIE}=${refreshToken}`);
    expect(refused.status).toBe(401);
    await reloadStaysSignedOut(tabA);
  });

  test('with Redis hung, the logout answers 503 and clears the cookies: it resolves { serverSessionEnded: false } and every tab signs out', async () => {
    const { context, tabA, tabB } = await twoSignedInTabs();
    const pid = redis.process.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      expect(await logout(tabA)).toEqual({ resolved: { serverSessionEnded: false } });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(logouts).toEqual([{ status: 503, cleared: true }]);
    expect(await context.cookies()).toEqual([]);
    await signedOutIn(tabA);
    await signedOutIn(tabB);
    await reloadStaysSignedOut(tabB);
  });
});

describe('a logout that did not complete is refused, and every tab stays signed in', () => {
  test('the server unreachable: network_error saying the sign-out did not complete; cookies kept; a retry once it is back signs out', async () => {
    const { context, tabA, tabB } = await twoSignedInTabs();
    const cookies = await context.cookies();
    proxy.cut();
    let outcome: Awaited<ReturnType<typeof logout>>;
    try {
      outcome = await logout(tabA);
    } finally {
      await proxy.restore();
    }
    expect(outcome).toEqual({
      refused: {
        name: 'AuthClientError',
        status: 0,
        code: 'network_error',
        message: 'Sign-out did not complete: you are still signed in. Could not reach the server. Check your connection and try again.',
        retryAfter: undefined,
      },
    });
    expect(logouts).toEqual([]);
    expect(await context.cookies()).toEqual(cookies);
    await stillSignedIn(tabA);
    await stillSignedIn(tabB);

    expect(await logout(tabA)).toEqual({ resolved: { serverSessionEnded: true } });
    await signedOutIn(tabA);
    await signedOutIn(tabB);
    expect(await context.cookies()).toEqual([]);
  });

  test.each([
    ['429 that leaves the cookies (an older server throttling logouts)', { status: 429, error: 'too_many_requests', retryAfter: '30' }, 30],
    ['403 from something in front of the router', { status: 403, error: 'csrf_rejected' }, undefined],
  ])('a %s: refused with the server code, still signed in everywhere; a retry signs out', async (_name, answer, retryAfter) => {
    const { context, tabA, tabB } = await twoSignedInTabs();
    const cookies = await context.cookies();
    refuseLogout = answer;
    const outcome = await logout(tabA);
    refuseLogout = undefined;
    expect(outcome).toEqual({
      refused: {
        name: 'AuthClientError',
        status: answer.status,
        code: answer.error,
        message: expect.stringMatching(/^Sign-out did not complete: you are still signed in\. \S/),
        retryAfter,
      },
    });
    expect(logouts).toEqual([{ status: answer.status, cleared: false }]);
    expect(await context.cookies()).toEqual(cookies);
    await stillSignedIn(tabA);
    await stillSignedIn(tabB);

    expect(await logout(tabB)).toEqual({ resolved: { serverSessionEnded: true } });
    await signedOutIn(tabA);
    await signedOutIn(tabB);
  });
});
