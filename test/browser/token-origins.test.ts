// Where auth.fetch sends the access token, in real Chromium with two real servers on different origins: the page's own
// origin by default, the origins listed in `tokenOrigins` too, never another (not even through a redirect).
import express, { type Express } from 'express';
import type { Page } from 'playwright-core';
import { serve } from '../support/browser';
import { USERS } from '../support/harness';
import { type ClientSite, closeTestContexts, newTestContext, openClientPage, pageWithOptions, startClientSite, type TestWindow } from './client-page';

declare const window: TestWindow;
declare class Request {
  constructor(url: string);
}

const ALICE = { username: 'alice', password: (USERS.alice as { password: string }).password };

/** One request another origin's server received. */
type Received = { method: string; path: string; authorization: string | undefined };

/** The app: the router, /api/me behind requireAuth, the fixture page, and /bounce, which redirects to `other`. */
let site: ClientSite;
/** Two servers on other origins (other ports of 127.0.0.1) that let any origin send them an Authorization header (CORS). */
let other: { origin: string; close(): Promise<void> };
let third: { origin: string; close(): Promise<void> };
/** What `other` and `third` received, in order (preflights included). */
let received: Record<string, Received[]> = {};
/** Every POST /auth/refresh the app received. */
let refreshes = 0;

/** A server that records every request and lets any page send it credentials and an Authorization header. */
function corsEcho(name: string): Express {
  const app = express();
  app.use((req, res, next) => {
    (received[name] ??= []).push({ method: req.method, path: req.path, authorization: req.headers.authorization });
    res.set('Access-Control-Allow-Origin', req.headers.origin ?? '*');
    res.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    res.set('Access-Control-Allow-Methods', 'GET, POST');
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next();
  });
  app.get('/echo', (req, res) => res.json({ authorization: req.headers.authorization ?? null }));
  app.get('/refuse', (_req, res) => res.status(401).json({ error: 'invalid_token' }));
  return app;
}

beforeAll(async () => {
  other = await serve(corsEcho('other'));
  third = await serve(corsEcho('third'));
  site = await startClientSite(2, (app) => {
    app.use((req, _res, next) => {
      if (req.method === 'POST' && req.path === '/auth/refresh') refreshes += 1;
      next();
    });
    app.get('/bounce', (req, res) => res.redirect(Number(req.query.status), `${other.origin}/echo`));
  });
});

afterAll(async () => {
  await Promise.all([site?.close(), other?.close(), third?.close()]);
});

beforeEach(() => {
  received = {};
  refreshes = 0;
});

afterEach(closeTestContexts);

/** A signed-in page of a new browser context, whose client was made with `options`. */
async function signedInPage(options: Record<string, unknown> = {}): Promise<{ page: Page; token: string }> {
  const page = await openClientPage(await newTestContext(site.browser), pageWithOptions(site.origin, options));
  await page.evaluate((credentials) => window.auth.login(credentials), ALICE);
  const token = await page.evaluate(() => window.auth.getAccessToken());
  expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  return { page, token: token as string };
}

/** The Authorization headers a server received on GET requests (preflights left out). */
function authorizationsAt(name: string): (string | undefined)[] {
  return (received[name] ?? []).filter((entry) => entry.method === 'GET').map((entry) => entry.authorization);
}

describe('auth.fetch sends the access token to its own origin only, by default', () => {
  test('a call to another origin goes out without the token, by URL or by Request; the same origin gets it', async () => {
    const { page, token } = await signedInPage();
    expect(new URL(other.origin).origin).not.toBe(new URL(site.origin).origin);

    const answers = await page.evaluate(
      async ({ otherOrigin, siteOrigin }) => ({
        absolute: await window.fetchJson(`${otherOrigin}/echo`),
        schemeRelative: await window.fetchJson(`${otherOrigin.replace(/^http:/, '')}/echo`),
        request: await window.fetchJson(new Request(`${otherOrigin}/echo`) as unknown as string),
        sameOriginAbsolute: await window.fetchJson(`${siteOrigin}/api/me`),
        sameOriginRelative: await window.fetchJson('/api/me'),
      }),
      { otherOrigin: other.origin, siteOrigin: site.origin },
    );
    expect(answers.absolute).toEqual({ status: 200, body: { authorization: null } });
    expect(answers.schemeRelative).toEqual({ status: 200, body: { authorization: null } });
    expect(answers.request).toEqual({ status: 200, body: { authorization: null } });
    expect(authorizationsAt('other')).toEqual([undefined, undefined, undefined]);
    // Nothing needed a preflight: no Authorization header was even asked for.
    expect(received.other?.map((entry) => entry.method)).toEqual(['GET', 'GET', 'GET']);
    expect(answers.sameOriginAbsolute).toMatchObject({ status: 200, body: { userId: 'user-alice' } });
    expect(answers.sameOriginRelative).toMatchObject({ status: 200, body: { userId: 'user-alice' } });
    expect(JSON.stringify(received)).not.toContain(token);
  });

  test("another origin's 401, or an expired token, sets off no refresh for a call that carries no token", async () => {
    const { page } = await signedInPage();
    await page.evaluate(async () => {
      const state = window.auth.getSession();
      if (state?.signedIn) await new Promise((resolve) => setTimeout(resolve, Math.max(0, state.expiresAt + 1200 - Date.now())));
    });
    const answers = await page.evaluate(
      async (otherOrigin) => [await window.fetchJson(`${otherOrigin}/refuse`), await window.fetchJson(`${otherOrigin}/echo`)],
      other.origin,
    );
    expect(answers).toEqual([
      { status: 401, body: { error: 'invalid_token' } },
      { status: 200, body: { authorization: null } },
    ]);
    expect(authorizationsAt('other')).toEqual([undefined, undefined]); // one try each, no retry
    expect(refreshes).toBe(0);
    // The same origin's call still refreshes the expired token first.
    expect(await page.evaluate(() => window.fetchJson('/api/me'))).toMatchObject({ status: 200, body: { userId: 'user-alice' } });
    expect(refreshes).toBe(1);
  });

  test('a same-origin call redirected to another origin reaches it without the token (Chromium drops Authorization, as the Fetch standard says)', async () => {
    const { page, token } = await signedInPage({ tokenOrigins: [third.origin] });
    for (const status of [302, 307]) {
      const answer = await page.evaluate((url) => window.fetchJson(url), `/bounce?status=${status}`);
      expect(answer).toEqual({ status: 200, body: { authorization: null } });
    }
    expect(authorizationsAt('other')).toEqual([undefined, undefined]);
    expect(received.other?.map((entry) => entry.method)).toEqual(['GET', 'GET']);
    expect(JSON.stringify(received)).not.toContain(token);
  });
});

describe('tokenOrigins: the other origins that get the token', () => {
  test('a listed origin gets the token; an origin not listed still does not', async () => {
    const { page, token } = await signedInPage({ tokenOrigins: [other.origin] });
    const answers = await page.evaluate(
      async ({ otherOrigin, thirdOrigin }) => ({
        listed: await window.fetchJson(`${otherOrigin}/echo`),
        listedByRequest: await window.fetchJson(new Request(`${otherOrigin}/echo?as=request`) as unknown as string),
        notListed: await window.fetchJson(`${thirdOrigin}/echo`),
      }),
      { otherOrigin: other.origin, thirdOrigin: third.origin },
    );
    expect(answers.listed).toEqual({ status: 200, body: { authorization: `Bearer ${token}` } });
    expect(answers.listedByRequest).toEqual({ status: 200, body: { authorization: `Bearer ${token}` } });
    expect(authorizationsAt('other')).toEqual([`Bearer ${token}`, `Bearer ${token}`]);
    expect(answers.notListed).toEqual({ status: 200, body: { authorization: null } });
    expect(authorizationsAt('third')).toEqual([undefined]);
  });

  test('anything but an exact http(s) origin is refused when the client is made, with a TypeError that says what to write', async () => {
    const { page } = await signedInPage();
    const refusals = await page.evaluate(() => {
      const attempts: unknown[] = [
        ['https://api.example/v1'],
        ['https://api.example/'],
        ['https://*.example'],
        ['*'],
        ['/api'],
        ['api.example'],
        ['HTTPS://API.Example'],
        ['ftp://files.example'],
        ['null'],
        [42],
        'https://api.example',
      ];
      return attempts.map((tokenOrigins) => {
        try {
          window.createAuthClient({ tokenOrigins });
          return 'accepted';
        } catch (error) {
          return `${(error as Error).name}: ${(error as Error).message}`;
        }
      });
    });
    expect(refusals).toEqual([
      expect.stringMatching(/^TypeError: .*tokenOrigins.*'https:\/\/api\.example\/v1'.*\(did you mean 'https:\/\/api\.example'\?\)$/),
      expect.stringMatching(/^TypeError: .*'https:\/\/api\.example\/'.*\(did you mean 'https:\/\/api\.example'\?\)$/),
      expect.stringMatching(/^TypeError: .*'https:\/\/\*\.example'.*wildcard/),
      expect.stringMatching(/^TypeError: .*'\*'/),
      expect.stringMatching(/^TypeError: .*'\/api'/),
      expect.stringMatching(/^TypeError: .*'api\.example'/),
      expect.stringMatching(/^TypeError: .*'HTTPS:\/\/API\.Example'.*\(did you mean 'https:\/\/api\.example'\?\)$/),
      expect.stringMatching(/^TypeError: .*'ftp:\/\/files\.example'/),
      expect.stringMatching(/^TypeError: .*'null'/),
      expect.stringMatching(/^TypeError: .*a number/),
      expect.stringMatching(/^TypeError: .*tokenOrigins must be an array/),
    ]);
    // Every message names the form that is accepted.
    for (const refusal of refusals) expect(refusal).toContain("'https://api.example.com'");
    expect(await page.evaluate((origin) => typeof window.createAuthClient({ tokenOrigins: [origin] }), other.origin)).toBe('object');
  });
});
