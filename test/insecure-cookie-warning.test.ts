// The warning for a Secure refresh cookie set over plain http to a host that is not localhost: once per process,
// coded, saying what the browser will do and what to set; and proved against real Chromium, which drops exactly those cookies.
import type { Express } from 'express';
import { type Browser, chromium } from 'playwright-core';
import request from 'supertest';
import { CHROMIUM_PATH, serve } from './support/browser';
import { closeFreshApps, type FreshProcess, freshApp, freshProcess } from './support/fresh-process';
import { COOKIE, refreshCookieOf } from './support/harness';
import { recordWarnings, stopRecordingWarnings } from './support/process-warnings';

const WARNING_CODE = 'ERT_SECURE_COOKIE_OVER_HTTP';
const CREDENTIALS = { username: 'alice', password: 'alice-password' };

/** What a test opened besides apps (servers, browser contexts); closed after it. */
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  stopRecordingWarnings();
  await Promise.all([closeFreshApps(), ...closers.splice(0).map((close) => close())]);
});

/** An app on a fresh copy of the library (see {@link freshApp}), with the library's default (Secure) cookie unless overridden. */
function appIn(fresh: FreshProcess, overrides: Parameters<typeof freshApp>[1] = {}, configure?: (app: Express) => void): Express {
  return freshApp(fresh, { cookie: {}, ...overrides }, configure);
}

/** Lets a request's answer, and anything the library does after it, settle. */
const delivered = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function loginAt(app: Express, host: string): request.Test {
  return request(app).post('/auth/login').set('Host', host).set('X-Requested-With', 'fetch').send(CREDENTIALS);
}

describe('a Secure cookie set over plain http to another host name', () => {
  test('a login warns once, with a code, saying what happens and what to set', async () => {
    const warnings = recordWarnings(WARNING_CODE);
    const app = appIn(freshProcess());
    const res = await loginAt(app, 'devbox.internal:3000');
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']?.[0]).toMatch(/; Secure/);
    await delivered();

    expect(warnings).toHaveLength(1);
    const message = warnings[0] as string;
    expect(message).toMatch(/devbox\.internal/);
    expect(message).toMatch(/plain http/);
    expect(message).toMatch(/browsers drop/i);
    expect(message).toMatch(/signed out/);
    expect(message).toMatch(/https/);
    expect(message).toMatch(/trust proxy/);
    expect(message).toMatch(/cookie: \{ secure: false \}/);

    // Once per process: more logins and a refresh say nothing more.
    const again = await loginAt(app, 'devbox.internal:3000');
    await request(app)
      .post('/auth/refresh')
      .set('Host', '192.168.1.20:3000')
      .set('X-Requested-With', 'fetch')
      .set('Cookie', `${COOKIE}=${refreshCookieOf(again) as string}`)
      .expect(200);
    await delivered();
    expect(warnings).toHaveLength(1);
  });

  test('a refresh warns as well (a session started over https, or on localhost, then refreshed from another host)', async () => {
    const warnings = recordWarnings(WARNING_CODE);
    const app = appIn(freshProcess());
    const session = await loginAt(app, 'localhost:3000').expect(200);
    await delivered();
    expect(warnings).toHaveLength(0);
    await request(app)
      .post('/auth/refresh')
      .set('Host', 'auth-service')
      .set('X-Requested-With', 'fetch')
      .set('Cookie', `${COOKIE}=${refreshCookieOf(session) as string}`)
      .expect(200);
    await delivered();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/auth-service/);
  });

  // Browsers treat these as secure contexts and keep Secure cookies there (Chromium and Firefox; the test
  // below checks Chromium). Each case ends with a host that does warn, so a silent case proves the warning was still armed.
  test.each(['localhost:3000', 'LOCALHOST', 'app.localhost:8080', '127.0.0.1:3000', '127.1.2.3', '[::1]:3000'])(
    'none for %s, a loopback host where browsers keep Secure cookies',
    async (host) => {
      const warnings = recordWarnings(WARNING_CODE);
      const app = appIn(freshProcess());
      await loginAt(app, host).expect(200);
      await delivered();
      expect(warnings).toHaveLength(0);
      await loginAt(app, 'devbox.internal').expect(200);
      await delivered();
      expect(warnings).toHaveLength(1);
    },
  );

  test("none for a request that arrived over https, as Express' trust proxy reads X-Forwarded-Proto", async () => {
    const warnings = recordWarnings(WARNING_CODE);
    const app = appIn(freshProcess(), {}, (express) => express.set('trust proxy', 'loopback'));
    await loginAt(app, 'devbox.internal').set('X-Forwarded-Proto', 'https').expect(200);
    await delivered();
    expect(warnings).toHaveLength(0);
    await loginAt(app, 'devbox.internal').set('X-Forwarded-Proto', 'http').expect(200);
    await delivered();
    expect(warnings).toHaveLength(1);
  });

  test('X-Forwarded-Proto without trust proxy is not https: it warns, and the message says to set trust proxy', async () => {
    const warnings = recordWarnings(WARNING_CODE);
    const app = appIn(freshProcess());
    await loginAt(app, 'app.example').set('X-Forwarded-Proto', 'https').expect(200);
    await delivered();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/trust proxy/);
  });

  test('none with cookie: { secure: false } (plain-http development), while a Secure instance in the same process still warns', async () => {
    const warnings = recordWarnings(WARNING_CODE);
    const fresh = freshProcess();
    await loginAt(appIn(fresh, { cookie: { secure: false } }), 'devbox.internal').expect(200);
    await delivered();
    expect(warnings).toHaveLength(0);
    await loginAt(appIn(fresh), 'devbox.internal').expect(200);
    await delivered();
    expect(warnings).toHaveLength(1);
  });
});

describe('the warning matches what a browser does (real Chromium)', () => {
  let browser: Browser;
  beforeAll(async () => {
    // Every name resolves to this machine, as a LAN name or a docker-compose service name would to the app's host.
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ['--no-sandbox', '--host-resolver-rules=MAP devbox.internal 127.0.0.1, MAP app.localhost 127.0.0.1'],
    });
  }, 20000);
  afterAll(async () => {
    await browser?.close();
  });

  test.each([
    ['localhost', false],
    ['127.0.0.1', false],
    ['app.localhost', false],
    ['devbox.internal', true],
  ])('signing in at http://%s: Chromium drops the cookie exactly when the library warned (%p)', async (host, warns) => {
    const warnings = recordWarnings(WARNING_CODE);
    const app = appIn(freshProcess(), {}, (express) => express.get('/', (_req, res) => res.type('html').send('<!doctype html><title>sign in</title>')));
    const server = await serve(app);
    closers.push(() => server.close());
    const { port } = new URL(server.origin);
    const context = await browser.newContext();
    closers.push(() => context.close());
    const page = await context.newPage();
    await page.goto(`http://${host}:${port}/`);
    const status = await page.evaluate(
      (body) =>
        fetch('/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'fetch' }, body }).then((r) => r.status),
      JSON.stringify(CREDENTIALS),
    );
    expect(status).toBe(200);
    await delivered();
    const kept = (await context.cookies()).some((cookie) => cookie.name === COOKIE);
    expect({ host, warned: warnings.length === 1, kept }).toEqual({ host, warned: warns, kept: !warns });
  });
});
