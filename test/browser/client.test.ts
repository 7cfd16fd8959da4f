// The browser client (express-refresh-tokens/client) in real Chromium: silent and single-flight
// refresh, tabs sharing one refresh, restore after a reload, logout across tabs, a stolen refresh
// cookie, and where the tokens live (never in web storage or a script-readable cookie).
import type { Express } from 'express';
import type { BrowserContext, Page } from 'playwright-core';
import type { SessionEvent } from '../../lib';
import { ACCESS_SECRET, USERS } from '../support/harness';
import { accessClaims, handmadeToken } from '../support/tokens';
import {
  type AuthUser,
  type ClientSite,
  CONDITION_TIMEOUT_MS,
  closeTestContexts,
  type JsonAnswer,
  newTestContext,
  openClientPage,
  recordPageErrors,
  type SessionState,
  startClientSite,
  type TestWindow,
  waitForClient,
} from './client-page';

// The page globals the callbacks page.evaluate runs use (the test tsconfig has no DOM lib).
declare const window: TestWindow;
declare const document: { cookie: string; querySelector(selector: string): { textContent: string | null } | null };
declare const localStorage: { length: number };
declare const sessionStorage: { length: number };
declare const indexedDB: {
  databases(): Promise<unknown[]>;
  open(name: string): {
    result: {
      transaction(store: string): {
        objectStore(name: string): { getAll(): { result: Array<{ keys: { privateKey: { extractable: boolean } } }>; onsuccess: () => void } };
      };
    };
    onsuccess: () => void;
  };
};
declare function fetch(url: string, init?: { headers?: Record<string, string> }): Promise<{ status: number }>;

/** The refresh cookie's name with `cookie.secure: false`, and its script-readable presence cookie. */
const REFRESH_COOKIE = 'refresh';
const PRESENCE_COOKIE = 'refresh-present';
/** `refreshToken.reuseGrace`, and how long past it the stolen token is presented. */
const GRACE_MS = 2000;
const PAST_GRACE_MS = GRACE_MS + 500;
const ALICE = { username: 'alice', password: (USERS.alice as { password: string }).password };

let site: ClientSite;
/** Every POST /auth/refresh the server received (counted before the router), with its answer's status once sent. */
let refreshes: { status: number | undefined }[] = [];
/** The status of every GET /api/me the server answered. */
let apiCalls: number[] = [];
/** The `Retry-After` header of every POST /auth/login answer (`undefined` when it had none). */
let loginRetryAfters: (string | undefined)[] = [];
/** Every `reuse_detected` event of the auth instance. */
let reuses: SessionEvent[] = [];

beforeAll(async () => {
  site = await startClientSite(2, (app, auth) => {
    auth.events.on('reuse_detected', (event) => reuses.push(event));
    serveTestRoutes(app);
  });
});

afterAll(() => site?.close());

beforeEach(() => {
  loginRetryAfters = [];
  refreshes = [];
  apiCalls = [];
  reuses = [];
});

afterEach(closeTestContexts);

/** What this suite's app serves besides the fixture page, the router and /api/me: answers recorded, and routes that misbehave. */
function serveTestRoutes(app: Express): void {
  // No ETags: identical /api/me bodies would otherwise be revalidated as 304s, blurring the status log.
  app.set('etag', false);
  app.use((req, res, next) => {
    if (req.method === 'POST' && req.path === '/auth/refresh') {
      const entry: { status: number | undefined } = { status: undefined };
      refreshes.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
    }
    if (req.method === 'GET' && req.path === '/api/me') res.on('finish', () => apiCalls.push(res.statusCode));
    if (req.method === 'POST' && req.path === '/auth/login') res.on('finish', () => loginRetryAfters.push(res.getHeader('Retry-After')?.toString()));
    next();
  });
  // An upstream in front of the app (a proxy, a load balancer) that throttles by itself, with the Retry-After of UPSTREAM_RETRY_AFTER.
  app.post('/upstream/:kind/login', (req, res) => {
    const value = UPSTREAM_RETRY_AFTER[req.params.kind as string]?.();
    if (value !== undefined) res.set('Retry-After', value);
    res.status(429).json({ error: 'too_many_requests' });
  });
  // A page on the refresh cookie's own path (/auth), where document.cookie would show it if it were readable.
  app.get('/auth/probe', (_req, res) => res.type('html').send('<!doctype html><title>probe</title>'));
  // Login answers of 200 whose body holds no readable access token (a misbehaving proxy or server).
  app.post('/garbled/:kind/login', (req, res) => {
    const bodies: Record<string, unknown> = { 'not-a-jwt': { accessToken: 'not-a-token', tokenType: 'Bearer', expiresIn: 60 }, 'no-body': null };
    if (bodies[req.params.kind as string] === null) return void res.status(200).type('html').send('<p>ok</p>');
    res.json(bodies[req.params.kind as string]);
  });
  // A login answer whose token (signed with the app's secret) carries a claim named __proto__, whatever `authenticate` allows.
  app.post('/proto-claim/login', (_req, res) => {
    const claims = accessClaims({ sub: 'user-alice', ...JSON.parse('{"__proto__":{"isAdmin":true}}') });
    res.json({ accessToken: handmadeToken({ alg: 'HS256', typ: 'at+jwt' }, claims, ACCESS_SECRET), tokenType: 'Bearer', expiresIn: 600 });
  });
}

/** A new browser context for the current test, closed after it. */
function newContext(): Promise<BrowserContext> {
  return newTestContext(site.browser);
}

/** Opens the fixture page in a context and waits for the client to be loaded. */
function openPage(context: BrowserContext): Promise<Page> {
  return openClientPage(context, `${site.origin}/`);
}

function login(page: Page): Promise<AuthUser> {
  return page.evaluate((credentials) => window.auth.login(credentials), ALICE);
}

function me(page: Page): Promise<JsonAnswer> {
  return page.evaluate(() => window.fetchJson('/api/me'));
}

function session(page: Page): Promise<SessionState | null> {
  return page.evaluate(() => window.auth.getSession());
}

/** Waits in the page until 200 ms past the expiry of the access token the client holds (the deliberate expiry wait). */
async function waitPastExpiry(page: Page): Promise<void> {
  const waited = await page.evaluate(async () => {
    const state = window.auth.getSession();
    if (!state?.signedIn) return false;
    // The client counts its token as expiring up to 1 s early (the server's exp is in whole seconds).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, state.expiresAt + 1200 - Date.now())));
    return true;
  });
  expect(waited).toBe(true);
}

function refreshStatuses(): (number | undefined)[] {
  return refreshes.map((entry) => entry.status);
}

/** `Retry-After` values an upstream may send, by name (computed per answer, so a date is relative to now). */
const UPSTREAM_RETRY_AFTER: Record<string, () => string | undefined> = {
  none: () => undefined,
  'date-in-2-minutes': () => new Date(Date.now() + 120_000).toUTCString(),
  'date-passed': () => 'Thu, 01 Jan 2015 00:00:00 GMT',
  'seconds-45': () => '45',
  'hours-2': () => '7200',
  words: () => 'soon',
  negative: () => '-5',
  fraction: () => '12.5',
  'not-a-date': () => 'Wed, 99 Foo 2026 99:99:99 GMT',
  huge: () => '99999999999999999999',
};

/** The URL the fixture page imports the client from (read from the page, so it follows however the client is served). */
function clientModuleUrl(page: Page): Promise<string> {
  return page.evaluate(() => {
    const source = document.querySelector('script[type="module"]')?.textContent ?? '';
    return /from\s+['"]([^'"]+)['"]/.exec(source)?.[1] ?? '';
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('browser client in Chromium', () => {
  test('login, then fetch: /api/me answers 200 for alice and onSessionChange reports signed in', async () => {
    const page = await openPage(await newContext());
    const user = await login(page);
    expect(user).toEqual({ userId: 'user-alice', sessionId: expect.any(String), claims: { role: 'admin' } });

    const answer = await me(page);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ userId: 'user-alice', sessionId: user.sessionId, claims: { role: 'admin' } });

    const events = await page.evaluate(() => window.sessionEvents);
    expect(events).toEqual([{ signedIn: true, user, expiresAt: expect.any(Number) }]);
    expect(refreshes).toHaveLength(0); // the login's own token was used
  });

  test('an expired access token is refreshed silently by the next fetch, with exactly one POST /auth/refresh', async () => {
    const page = await openPage(await newContext());
    const user = await login(page);
    const before = (await session(page)) as { signedIn: true; expiresAt: number };
    const oldToken = await page.evaluate(() => window.auth.getAccessToken());
    await waitPastExpiry(page);

    // The server really refuses the old token now: the client had to refresh.
    const raw = await page.evaluate((token) => fetch('/api/me', { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.status), oldToken);
    expect(raw).toBe(401);
    expect(refreshes).toHaveLength(0);

    apiCalls = [];
    const answer = await me(page);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ userId: 'user-alice', sessionId: user.sessionId });
    expect(refreshStatuses()).toEqual([200]);
    expect(apiCalls).toEqual([200]); // refreshed before the request, not after a 401

    const after = await session(page);
    expect(after).toMatchObject({ signedIn: true, user: { sessionId: user.sessionId } });
    expect((after as { expiresAt: number }).expiresAt).toBeGreaterThan(before.expiresAt);
  });

  test('five concurrent fetches after expiry share ONE refresh', async () => {
    const page = await openPage(await newContext());
    await login(page);
    await waitPastExpiry(page);

    const answers = await page.evaluate(() => Promise.all(Array.from({ length: 5 }, () => window.fetchJson('/api/me'))));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.every((answer) => answer.body?.userId === 'user-alice')).toBe(true);
    expect(refreshStatuses()).toEqual([200]);
    expect(apiCalls).toEqual([200, 200, 200, 200, 200]); // none went out with the expired token
  });

  test('two tabs fetching at the same moment after expiry share ONE refresh (Web Locks + BroadcastChannel)', async () => {
    const context = await newContext();
    const tabA = await openPage(context);
    const tabB = await openPage(context);
    const user = await login(tabA);

    // Tab B gets the session from tab A over the BroadcastChannel, without a refresh of its own.
    const restored = await tabB.evaluate(() => window.auth.restore());
    expect(restored).toMatchObject({ signedIn: true, user: { userId: 'user-alice', sessionId: user.sessionId } });
    expect(refreshes).toHaveLength(0);

    await waitPastExpiry(tabA);
    await waitPastExpiry(tabB);
    expect(refreshes).toHaveLength(0);

    // Both tabs start their fetch at the same instant (one clock: one browser).
    const at = (await tabA.evaluate(() => Date.now())) + 300;
    const results = await Promise.all(
      [tabA, tabB].map((tab) =>
        tab.evaluate(async (startAt) => {
          await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
          const startedAt = Date.now();
          return { startedAt, answer: await window.fetchJson('/api/me') };
        }, at),
      ),
    );
    const [a, b] = results as [(typeof results)[0], (typeof results)[0]];
    expect(Math.abs(a.startedAt - b.startedAt)).toBeLessThan(100); // it really was the same moment
    expect(a.answer.status).toBe(200);
    expect(b.answer.status).toBe(200);
    expect(refreshStatuses()).toEqual([200]);
    expect(apiCalls).toEqual([200, 200]);

    const [stateA, stateB] = await Promise.all([session(tabA), session(tabB)]);
    expect(stateA).toMatchObject({ signedIn: true, user: { sessionId: user.sessionId } });
    expect(stateB).toMatchObject({ signedIn: true, user: { sessionId: user.sessionId } });
    // The same token: a tab that took it from the other caps its expiry by the token's exp (the sender's own estimate may be up to 1 s later).
    expect(Math.abs((stateA as { expiresAt: number }).expiresAt - (stateB as { expiresAt: number }).expiresAt)).toBeLessThan(1000);
  });

  test('after a reload, restore() gets the session back from the cookie; a browser never signed in asks nothing', async () => {
    const page = await openPage(await newContext());
    const user = await login(page);
    await page.reload();
    await waitForClient(page);
    expect(await session(page)).toBeNull(); // a new page: nothing in memory

    const restored = await page.evaluate(() => window.auth.restore());
    expect(restored).toMatchObject({ signedIn: true, user: { userId: 'user-alice', sessionId: user.sessionId } });
    expect(refreshStatuses()).toEqual([200]);
    const answer = await me(page);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ userId: 'user-alice', sessionId: user.sessionId });
    expect(refreshes).toHaveLength(1);

    refreshes = [];
    const stranger = await openPage(await newContext());
    expect(await stranger.evaluate(() => window.auth.restore())).toEqual({ signedIn: false });
    expect(await stranger.evaluate(() => window.sessionEvents)).toEqual([{ signedIn: false }]);
    expect((await me(stranger)).status).toBe(401);
    expect(refreshes).toHaveLength(0);
  });

  test('logout in one tab signs the other tab out', async () => {
    const context = await newContext();
    const tabA = await openPage(context);
    const tabB = await openPage(context);
    await login(tabA);
    expect(await tabB.evaluate(() => window.auth.restore())).toMatchObject({ signedIn: true });
    expect((await me(tabB)).status).toBe(200);

    await tabA.evaluate(() => window.auth.logout());
    await tabB.waitForFunction(() => window.sessionEvents.at(-1)?.signedIn === false, undefined, { polling: 20, timeout: CONDITION_TIMEOUT_MS });
    expect((await tabB.evaluate(() => window.sessionEvents)).map((state) => state.signedIn)).toEqual([true, false]);
    expect(await session(tabB)).toEqual({ signedIn: false });

    const answer = await me(tabB);
    expect(answer.status).toBe(401);
    expect((await me(tabA)).status).toBe(401);
    expect(refreshes).toHaveLength(0); // signed out and no presence cookie: nothing to try
    expect((await context.cookies()).map((cookie) => cookie.name)).toEqual([]);
  });

  test("a stolen refresh cookie presented after the grace window gets nothing and ends the victim's session too", async () => {
    const victimContext = await newContext();
    // A browser that cannot keep a device key (as some private modes): its session is unbound, and
    // reuse detection is what protects it (a bound session's copied cookie refreshes nothing at all:
    // test/browser/device-binding.test.ts).
    await victimContext.addInitScript(() => Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true }));
    const victim = await openPage(victimContext);
    const user = await login(victim);
    expect((await victimContext.cookies()).find((cookie) => cookie.name === REFRESH_COOKIE)?.value.split('.')).toHaveLength(4);

    // The thief copies the cookies (the HttpOnly refresh cookie and its presence cookie) into another browser.
    const stolen = await victimContext.cookies();
    const stolenRefresh = stolen.find((cookie) => cookie.name === REFRESH_COOKIE);
    expect(stolenRefresh?.value).toBeTruthy();
    const thiefContext = await newContext();
    await thiefContext.addCookies(stolen);

    // The victim's token expires and its next fetch rotates the refresh token: the stolen one is now the previous one.
    await waitPastExpiry(victim);
    expect((await me(victim)).status).toBe(200);
    expect(refreshStatuses()).toEqual([200]);
    const rotated = (await victimContext.cookies()).find((cookie) => cookie.name === REFRESH_COOKIE);
    expect(rotated?.value).toBeTruthy();
    expect(rotated?.value).not.toBe(stolenRefresh?.value);
    await sleep(PAST_GRACE_MS);

    // The thief gets nothing...
    const thief = await openPage(thiefContext);
    expect(await thief.evaluate(() => window.auth.restore())).toEqual({ signedIn: false });
    expect(refreshStatuses()).toEqual([200, 401]);
    expect(reuses).toEqual([expect.objectContaining({ userId: 'user-alice', sessionId: user.sessionId })]);
    expect((await me(thief)).status).toBe(401);
    expect((await thiefContext.cookies()).map((cookie) => cookie.name)).toEqual([]);

    // ...and the victim's session ended with it: its access token has expired and its refresh is refused.
    expect(await victim.evaluate(() => window.auth.getAccessToken())).toBeNull();
    expect(refreshStatuses()).toEqual([200, 401, 401]);
    expect(await session(victim)).toEqual({ signedIn: false });
    expect((await victim.evaluate(() => window.sessionEvents)).at(-1)).toEqual({ signedIn: false });
    expect((await me(victim)).status).toBe(401);
    expect((await victimContext.cookies()).map((cookie) => cookie.name)).toEqual([]);
    expect(refreshes).toHaveLength(3);
  });

  test('after 10 failed logins the 11th is refused with the time to wait: retryAfter in seconds, and in words', async () => {
    const page = await openPage(await newContext());
    // Real failing logins (bob, wrong password) until the server throttles; other tests sign in as alice.
    const outcome = await page.evaluate(async () => {
      for (let attempt = 1; attempt <= 20; attempt += 1) {
        try {
          await window.auth.login({ username: 'bob', password: 'not-bobs-password' });
          return { attempt, signedIn: true };
        } catch (caught) {
          const error = caught as { name: string; status: number; code: string; retryAfter: number | undefined; message: string };
          if (error.status !== 401) {
            const { name, status, code, retryAfter, message } = error;
            return { attempt, name, status, code, retryAfter, message, hasRetryAfter: 'retryAfter' in error };
          }
        }
      }
      return null;
    });
    expect(outcome).toMatchObject({ attempt: 11, name: 'AuthClientError', status: 429, code: 'too_many_requests' });
    // The header the server sent (the rest of the 15-minute window, e.g. 897), read as a number.
    const sent = loginRetryAfters.at(-1);
    expect(sent).toMatch(/^\d+$/);
    expect(Number(sent)).toBeGreaterThan(890);
    expect(Number(sent)).toBeLessThanOrEqual(900);
    expect(outcome?.retryAfter).toBe(Number(sent));
    expect(outcome?.message).toBe('Too many attempts. Try again in 15 minutes.');
    // A refused password before that carries no wait.
    expect(loginRetryAfters.slice(0, 10)).toEqual(Array(10).fill(undefined));
  });

  test('Retry-After as seconds or an HTTP date is read, in words rounded to the unit; anything else is ignored', async () => {
    const page = await openPage(await newContext());
    const url = await clientModuleUrl(page);
    expect(url).toMatch(/\.js$/);
    const answers = await page.evaluate(
      async ({ url, kinds }) => {
        const { createAuthClient } = (await import(url)) as {
          createAuthClient(options: { baseUrl: string }): { login(credentials: Record<string, unknown>): Promise<unknown> };
        };
        const seen: Record<string, { retryAfter: number | undefined; message: string } | 'signed in'> = {};
        for (const kind of kinds) {
          try {
            await createAuthClient({ baseUrl: `/upstream/${kind}` }).login({ username: 'alice', password: 'irrelevant' });
            seen[kind] = 'signed in';
          } catch (caught) {
            const { retryAfter, message } = caught as { retryAfter: number | undefined; message: string };
            seen[kind] = { retryAfter, message };
          }
        }
        return seen;
      },
      { url, kinds: Object.keys(UPSTREAM_RETRY_AFTER) },
    );
    const unknown = { retryAfter: undefined, message: 'Too many attempts. Please wait a moment and try again.' };
    expect(answers).toEqual({
      none: unknown,
      // toUTCString() drops the milliseconds: up to one second less than 120 is left.
      'date-in-2-minutes': { retryAfter: expect.any(Number), message: 'Too many attempts. Try again in 2 minutes.' },
      'date-passed': { retryAfter: 0, message: 'Too many attempts. Try again in 1 second.' },
      'seconds-45': { retryAfter: 45, message: 'Too many attempts. Try again in 45 seconds.' },
      'hours-2': { retryAfter: 7200, message: 'Too many attempts. Try again in 2 hours.' },
      words: unknown,
      negative: unknown,
      fraction: unknown,
      'not-a-date': unknown,
      huge: unknown,
    });
    const dated = answers['date-in-2-minutes'] as { retryAfter: number };
    expect(dated.retryAfter).toBeGreaterThanOrEqual(118);
    expect(dated.retryAfter).toBeLessThanOrEqual(120);
  });

  test('a 200 login answer without a readable access token is refused as invalid_response, and nothing changes', async () => {
    const page = await openPage(await newContext());
    const outcomes = await page.evaluate(async () => {
      const seen: Record<string, unknown> = {};
      for (const kind of ['not-a-jwt', 'no-body']) {
        const client = window.createAuthClient({ baseUrl: `/garbled/${kind}` });
        try {
          await client.login({});
          seen[kind] = 'signed in';
        } catch (caught) {
          const { name, status, code, message } = caught as { name: string; status: number; code: string; message: string };
          seen[kind] = { name, status, code, message, session: client.getSession() };
        }
      }
      return seen;
    });
    const refused = {
      name: 'AuthClientError',
      status: 200,
      code: 'invalid_response',
      message: 'The server sent an answer this page could not read.',
      session: null,
    };
    expect(outcomes).toEqual({ 'not-a-jwt': refused, 'no-body': refused });
  });

  test('a claim named __proto__ is an ordinary claim: the claims keep their prototype and isAdmin stays undefined', async () => {
    const page = await openPage(await newContext());
    const seen = await page.evaluate(async () => {
      const client = window.createAuthClient({ baseUrl: '/proto-claim' });
      const user = await client.login({});
      const state = client.getSession() as { signedIn: true; user: AuthUser };
      return [user.claims, state.user.claims].map((claims) => ({
        isAdmin: claims.isAdmin,
        prototypeIsObject: Object.getPrototypeOf(claims) === Object.prototype,
        ownProto: Object.getOwnPropertyDescriptor(claims, '__proto__')?.value,
        role: claims.role,
      }));
    });
    const expected = { isAdmin: undefined, prototypeIsObject: true, ownProto: { isAdmin: true }, role: 'admin' };
    expect(seen).toEqual([expected, expected]);
  });

  test('tokens are out of reach of scripts: HttpOnly refresh cookie, secret-free presence cookie, no web storage; IndexedDB holds only the non-extractable device key', async () => {
    const context = await newContext();
    const page = await openPage(context);
    const probe = await context.newPage();
    recordPageErrors(probe);
    await probe.goto(`${site.origin}/auth/probe`);

    const check = async (): Promise<string> => {
      const cookies = await context.cookies();
      expect(cookies.map((cookie) => cookie.name).sort()).toEqual([REFRESH_COOKIE, PRESENCE_COOKIE]);
      const refreshCookie = cookies.find((cookie) => cookie.name === REFRESH_COOKIE);
      const presence = cookies.find((cookie) => cookie.name === PRESENCE_COOKIE);
      expect(refreshCookie).toMatchObject({ httpOnly: true, path: '/auth', sameSite: 'Strict' });
      expect(refreshCookie?.value.length).toBeGreaterThan(20);
      expect(presence).toMatchObject({ httpOnly: false, path: '/' });
      // Its value is the day it expires (a UTC midnight, epoch seconds, base 36): nothing secret, nor the login's time.
      const day = parseInt(presence?.value ?? '', 36);
      expect(day % 86_400).toBe(0);
      expect(day - (presence?.expires ?? 0)).toBeGreaterThan(-2);
      expect(day - (presence?.expires ?? 0)).toBeLessThanOrEqual(86_400);

      const accessToken = await page.evaluate(() => window.auth.getAccessToken());
      expect(accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      const seen = await page.evaluate(async () => ({
        cookie: document.cookie,
        local: localStorage.length,
        session: sessionStorage.length,
        databases: await indexedDB.databases(),
        deviceKeys: await new Promise<Array<{ fields: string[]; extractable: boolean }>>((resolve) => {
          const opening = indexedDB.open('express-refresh-tokens');
          opening.onsuccess = () => {
            const all = opening.result.transaction('device-keys').objectStore('device-keys').getAll();
            all.onsuccess = () =>
              resolve(all.result.map((record) => ({ fields: Object.keys(record).sort(), extractable: record.keys.privateKey.extractable })));
          };
        }),
      }));
      // Scripts see the presence cookie only, both on the page and on the refresh cookie's own path; the
      // one database holds the session's device key, whose private half cannot be read out.
      expect(seen).toEqual({
        cookie: `${PRESENCE_COOKIE}=${presence?.value}`,
        local: 0,
        session: 0,
        databases: [{ name: 'express-refresh-tokens', version: 1 }],
        deviceKeys: [{ fields: ['alg', 'jwk', 'keys', 'nonce'], extractable: false }],
      });
      expect(await probe.evaluate(() => document.cookie)).toBe(`${PRESENCE_COOKIE}=${presence?.value}`);
      expect(seen.cookie).not.toContain(accessToken as string);
      expect(seen.cookie).not.toContain(refreshCookie?.value as string);
      return refreshCookie?.value as string;
    };

    await login(page);
    const first = await check();

    await waitPastExpiry(page);
    expect((await me(page)).status).toBe(200);
    expect(refreshStatuses()).toEqual([200]);
    const second = await check();
    expect(second).not.toBe(first); // rotated
  });
});
