// The example app's page, clicked through in real Chromium: log in, call the API, sessions, revoke, log out everywhere,
// throttled logins, the server's health in words, and a Redis outage the page rides out.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, serve } from './support/browser';
import { uniquePrefix } from './support/harness';
import { startRedisServer } from './support/redis-process';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createExampleApp, DEMO_USER } = require('../example-app/app.js') as {
  createExampleApp(options?: {
    redisClient?: Redis;
    prefix?: string;
    secure?: boolean;
    accessTokenTtl?: string | number;
    refreshReuseGrace?: string | number;
    stepUpMaxAge?: string | number;
  }): {
    app: import('express').Express;
    auth: {
      close(): Promise<void> | void;
      updateClaims(userId: string, claims: Record<string, unknown>, options?: { immediate?: boolean }): Promise<string[]>;
    };
  };
  DEMO_USER: { username: string; password: string; id: string; role: string };
};

/** The README's picture is refreshed with UPDATE_SCREENSHOT=1; otherwise the shot goes to .tmp/, so a test run leaves the tree clean. */
const SCREENSHOT = process.env.UPDATE_SCREENSHOT ? join(__dirname, '..', 'docs', 'example-app.png') : join(__dirname, '..', '.tmp', 'example-app.png');
const IPHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

let browser: Browser;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  browser = await launchChromium();
}, 20000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await browser?.close();
});

/** A fresh example app (its own MemoryStore, or RedisStore on `redisClient`) on 127.0.0.1, closed after the test. */
async function startApp(
  options: { accessTokenTtl?: string | number; stepUpMaxAge?: string | number; redisClient?: Redis; prefix?: string } = {},
): Promise<string> {
  return (await startAppWithAuth(options)).origin;
}

/** {@link startApp}, and the app's auth instance, for what the server's own code does (auth.updateClaims). */
async function startAppWithAuth(options: Parameters<typeof startApp>[0] = {}) {
  const { app, auth } = createExampleApp({ secure: false, ...options });
  const served = await serve(app);
  cleanups.push(
    () => auth.close(),
    () => served.close(),
  );
  return { origin: served.origin, auth };
}

async function newContext(options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC', ...options });
  context.setDefaultTimeout(5000);
  cleanups.push(() => context.close());
  return context;
}

/**
 * Collects what should never happen on the page: console errors, uncaught exceptions, failed
 * requests, and answers >= 400, except the `'<status> <path>'` pairs in `expected` (e.g.
 * `'401 /api/me'`, which the test adds just before the step that should get them).
 */
function watch(page: Page): { problems: string[]; expected: Set<string> } {
  const problems: string[] = [];
  const expected = new Set<string>();
  const isExpected = (status: number | string | undefined, url: string) => expected.has(`${status} ${new URL(url).pathname}`);
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location().url;
    // Chromium logs every answer >= 400 as "Failed to load resource: … status of 401 (Unauthorized)"; expected ones are fine.
    const status = /status of (\d+)/.exec(message.text())?.[1];
    if (status && url && isExpected(status, url)) return;
    problems.push(`console error: ${message.text()} (${url})`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() < 400 || isExpected(response.status(), response.url())) return;
    problems.push(`${response.status()} for ${response.request().method()} ${response.url()}`);
  });
  return { problems, expected };
}

async function logIn(page: Page, password = DEMO_USER.password): Promise<void> {
  const form = page.locator('#login-form');
  await form.getByLabel('Username').fill(DEMO_USER.username);
  await form.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function signedInAs(page: Page): Promise<string> {
  await page.locator('#signed-in').waitFor({ state: 'visible' });
  return (await page.locator('#user-id').textContent()) ?? '';
}

/** Waits for the sessions list to hold `count` items (with locators: the page's CSP forbids waitForFunction's eval). */
async function sessionCount(page: Page, count: number): Promise<void> {
  const items = page.locator('#sessions > li');
  await items.nth(count - 1).waitFor({ state: 'attached' });
  await items.nth(count).waitFor({ state: 'detached' });
  expect(await items.count()).toBe(count);
}

/** A laptop-sized page of the app at `origin`, watched (see {@link watch}), signed in as the demo user. */
async function signedInPage(origin: string) {
  const context = await newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const watched = watch(page);
  await page.goto(origin);
  await logIn(page);
  await signedInAs(page);
  return { page, ...watched };
}

/** An input's value once the page has filled it in (it loads after sign-in), or '' after 5 s. */
async function valueOnceSet(input: ReturnType<Page['locator']>): Promise<string> {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const value = await input.inputValue();
    if (value !== '') return value;
  }
  return '';
}

// (A string, not a function: the tests are type-checked without the DOM library.)
const scrollWidth = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth');

test('log in, call the API, see both sessions, revoke the other one, log out everywhere (screenshot)', async () => {
  const origin = await startApp();

  // The laptop: a desktop Chrome (its User-Agent without "Headless", as a person's browser would send).
  const laptopContext = await newContext({
    viewport: { width: 1100, height: 800 },
    userAgent: `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${browser.version()} Safari/537.36`,
  });
  const laptop = await laptopContext.newPage();
  const laptopWatch = watch(laptop);
  await laptop.goto(origin);

  // No session yet: the login form, with the demo account as a hint, and no failing request.
  await laptop.locator('#signed-out').waitFor({ state: 'visible' });
  expect(await laptop.locator('.hint').textContent()).toContain(DEMO_USER.password);
  // The server's health, in words.
  await laptop.locator('#health[data-status="pass"]').waitFor();
  expect(await laptop.locator('#health-headline').textContent()).toMatch(/^Healthy: this instance checks access tokens/);

  // While the server has not answered, the button says so and cannot be clicked twice. (The login
  // request is held in the browser until the button has been read, then sent to the server as it was.)
  let sendLogin = (): void => undefined;
  const loginHeld = new Promise<void>((resolve) => (sendLogin = resolve));
  await laptop.route('**/auth/login', async (route) => {
    await loginHeld;
    await route.continue();
  });
  await logIn(laptop);
  const loginButton = laptop.locator('#login-button');
  await loginButton.filter({ hasText: 'Signing in…' }).waitFor();
  expect(await loginButton.isDisabled()).toBe(true);
  sendLogin();
  expect(await signedInAs(laptop)).toBe(DEMO_USER.id);
  await laptop.unroute('**/auth/login');
  expect(await loginButton.textContent()).toBe('Log in');
  expect(await loginButton.isDisabled()).toBe(false);
  expect(await laptop.locator('#user-role').textContent()).toBe(DEMO_USER.role);
  await laptop
    .locator('#countdown')
    .filter({ hasText: /^[45]:\d\d$/ })
    .waitFor();

  await laptop.getByRole('button', { name: 'Call the protected API' }).click();
  const result = laptop.locator('#api-result');
  await result.filter({ hasText: '200 OK' }).waitFor();
  expect(await result.textContent()).toContain(DEMO_USER.id);
  expect(await result.textContent()).not.toContain('{');

  // A second device of the same user (its own cookie jar).
  const phoneContext = await newContext({ viewport: { width: 390, height: 844 }, userAgent: IPHONE_UA, isMobile: true, hasTouch: true });
  const phone = await phoneContext.newPage();
  const phoneWatch = watch(phone);
  await phone.goto(origin);
  await logIn(phone);
  expect(await signedInAs(phone)).toBe(DEMO_USER.id);

  // The laptop's list: two sessions, this one marked, the phone's with a readable device name and a Revoke button.
  await laptop.getByRole('button', { name: 'Reload' }).click();
  await sessionCount(laptop, 2);
  const mine = laptop.locator('#sessions > li.current');
  expect(await mine.count()).toBe(1);
  expect(await mine.textContent()).toContain('This device');
  // The browser client bound both sign-ins to a key of their own device: the list says so, in words.
  expect(await mine.textContent()).toContain('Locked to its device');
  expect(await mine.textContent()).toMatch(/Chrome \d+ on Linux · (127\.0\.0\.0\/24|::\/48) · This device/);
  expect(await mine.getByRole('button').count()).toBe(0);
  const other = laptop.locator('#sessions > li:not(.current)');
  // The server's device label and network; the raw User-Agent is shown nowhere (it is not stored).
  expect(await other.locator('.device').textContent()).toMatch(/^Safari 17 on iPhone · (127\.0\.0\.0\/24|::\/48)$/);
  expect(await other.textContent()).not.toContain(IPHONE_UA);
  expect(await other.textContent()).toMatch(/Created.*Last used/);

  mkdirSync(join(__dirname, '..', 'docs'), { recursive: true });
  await laptop.screenshot({ path: SCREENSHOT, fullPage: true });

  // Revoke the phone's session from the laptop: a notice that goes away by itself after a few seconds.
  await other.getByRole('button', { name: /^Revoke/ }).click();
  await sessionCount(laptop, 1);
  const notice = laptop.locator('#notice');
  await notice.filter({ hasText: 'Revoked the session of Safari 17 on iPhone' }).waitFor();
  const noticeShownAt = Date.now();

  // The phone's next call: its access token is refused, its refresh too, and it shows the login form.
  phoneWatch.expected.add('401 /api/me').add('401 /auth/refresh');
  await phone.getByRole('button', { name: 'Call the protected API' }).click();
  await phone.locator('#signed-out').waitFor({ state: 'visible' });
  expect(await phone.locator('#notice').textContent()).toContain('Your session has ended');

  await notice.waitFor({ state: 'hidden', timeout: 8000 });
  expect(Date.now() - noticeShownAt).toBeGreaterThan(3000); // read-able for a few seconds, then gone

  // Log out everywhere: the login form, and still the login form after a reload (no session comes back).
  await laptop.getByRole('button', { name: 'Log out everywhere' }).click();
  await laptop.locator('#signed-out').waitFor({ state: 'visible' });
  expect(await laptop.locator('#notice').textContent()).toContain('logged out everywhere');
  await laptop.reload();
  await laptop.locator('#signed-out').waitFor({ state: 'visible' });
  expect(await laptop.locator('#signed-in').isVisible()).toBe(false);

  expect(laptopWatch.problems).toEqual([]);
  expect(phoneWatch.problems).toEqual([]);
}, 30000);

test('on a 375 px phone: nothing overflows, and a wrong password is an error in words', async () => {
  const origin = await startApp();
  const context = await newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const { problems, expected } = watch(page);
  await page.goto(origin);
  await page.locator('#signed-out').waitFor({ state: 'visible' });
  expect(await page.locator('meta[name="viewport"]').getAttribute('content')).toContain('width=device-width');
  expect(await scrollWidth(page)).toBeLessThanOrEqual(375);

  expected.add('401 /auth/login');
  await logIn(page, 'not-the-password');
  const error = page.locator('#login-error');
  await error.waitFor({ state: 'visible' });
  expect(await error.textContent()).toBe('Wrong username or password.');
  expect(await page.locator('body').textContent()).not.toMatch(/[{}]|invalid_credentials/);
  expect(await scrollWidth(page)).toBeLessThanOrEqual(375);

  await logIn(page);
  await signedInAs(page);
  await sessionCount(page, 1);
  await page.getByRole('button', { name: 'Call the protected API' }).click();
  await page.locator('#api-result').filter({ hasText: '200 OK' }).waitFor();
  expect(await scrollWidth(page)).toBeLessThanOrEqual(375);

  // A reload keeps the session (through the refresh cookie), with no failing request.
  await page.reload();
  expect(await signedInAs(page)).toBe(DEMO_USER.id);
  expect(problems).toEqual([]);
}, 30000);

test('changing the display name after the step-up window asks for the password again, in words; a wrong one is refused without signing out', async () => {
  const { page, problems, expected } = await signedInPage(await startApp({ stepUpMaxAge: '2s' }));
  const name = page.locator('#display-name');
  expect(await valueOnceSet(name)).toBe(DEMO_USER.id);

  // Within the window of the login's password: saved at once, no dialog.
  await name.fill('Dee Mo');
  await page.getByRole('button', { name: 'Save' }).click();
  const result = page.locator('#profile-result');
  await result.filter({ hasText: 'Saved: you are now “Dee Mo”.' }).waitFor();
  expect(await page.locator('#reauth-dialog').isVisible()).toBe(false);

  // Past it: the route answers the challenge, and the page asks for the password in a dialog.
  await new Promise((resolve) => setTimeout(resolve, 2200));
  expected.add('401 /api/profile').add('401 /auth/reauth');
  await name.fill('Deidre');
  await page.getByRole('button', { name: 'Save' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.waitFor({ state: 'visible' });
  expect(await page.locator('#reauth-reason').textContent()).toBe('This change needs your password from the last 2 seconds. Enter it again to continue.');
  await dialog.getByLabel('Password').fill('not-the-password');
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('#reauth-error').filter({ hasText: 'That did not confirm it is you. Please try again.' }).waitFor();
  expect(await dialog.isVisible()).toBe(true);
  await dialog.getByLabel('Password').fill(DEMO_USER.password);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await result.filter({ hasText: 'Saved: you are now “Deidre”.' }).waitFor();
  expect(await dialog.isVisible()).toBe(false);

  // Past it again, and the user cancels: not saved, still signed in.
  await new Promise((resolve) => setTimeout(resolve, 2200));
  await name.fill('Nobody');
  await page.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'visible' });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await result.filter({ hasText: 'Not saved: your password was not confirmed.' }).waitFor();
  expect(await signedInAs(page)).toBe(DEMO_USER.id);
  await page.reload();
  await signedInAs(page);
  expect(await valueOnceSet(name)).toBe('Deidre');
  expect(problems).toEqual([]);
}, 30000);

test("a role changed on the server with auth.updateClaims({ immediate: true }) shows at the page's next call, without signing in again", async () => {
  const { origin, auth } = await startAppWithAuth();
  const { page, problems, expected } = await signedInPage(origin);
  expect(await page.locator('#user-role').textContent()).toBe(DEMO_USER.role);
  const sessionId = await page.locator('#session-id').textContent();
  // The page has loaded what it loads after a sign-in (its sessions, the display name), with the token of the old role.
  await sessionCount(page, 1);
  expect(await valueOnceSet(page.locator('#display-name'))).toBe(DEMO_USER.id);

  expect(await auth.updateClaims(DEMO_USER.id, { role: 'reader' }, { immediate: true })).toHaveLength(1);
  // The page's access token is refused from now on; the client refreshes once and retries, silently.
  expected.add('401 /api/me');
  await page.getByRole('button', { name: 'Call the protected API' }).click();
  const result = page.locator('#api-result');
  await result.filter({ hasText: '200 OK' }).waitFor();
  expect(await result.textContent()).toContain('reader');
  await page
    .locator('#user-role')
    .filter({ hasText: /^reader$/ })
    .waitFor();
  expect(await page.locator('#session-id').textContent()).toBe(sessionId);
  expect(await page.locator('#signed-out').isVisible()).toBe(false);
  expect(problems).toEqual([]);
}, 30000);

test('with a short ACCESS_TOKEN_TTL the countdown restarts on a silent refresh', async () => {
  const origin = await startApp({ accessTokenTtl: '3s' });
  const context = await newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const { problems } = watch(page);
  await page.goto(origin);
  await page.locator('#signed-out').waitFor({ state: 'visible' });
  await logIn(page);
  await signedInAs(page);
  expect(await page.locator('#refresh-note').textContent()).toBe('Not refreshed yet.');

  // The page asks the client for a token every second; close to expiry it refreshes through the cookie.
  await page.locator('#refresh-note').filter({ hasText: '(1 time)' }).waitFor({ timeout: 8000 });
  const countdown = await page.locator('#countdown').textContent();
  expect(countdown).toMatch(/^0:0[123]$/);
  await page.getByRole('button', { name: 'Call the protected API' }).click();
  await page.locator('#api-result').filter({ hasText: '200 OK' }).waitFor();
  expect(problems).toEqual([]);
}, 30000);

test('after 10 wrong passwords the login form says when to try again', async () => {
  const origin = await startApp();
  const context = await newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const { problems, expected } = watch(page);
  expected.add('401 /auth/login').add('429 /auth/login');
  await page.goto(origin);
  await page.locator('#signed-out').waitFor({ state: 'visible' });

  const error = page.locator('#login-error');
  for (let attempt = 1; attempt <= 10; attempt += 1) {
    const answer = page.waitForResponse((response) => response.url().endsWith('/auth/login'));
    await logIn(page, `wrong-password-${attempt}`);
    expect((await answer).status()).toBe(401);
    await error.filter({ hasText: 'Wrong username or password.' }).waitFor();
  }
  // The 11th is throttled, even with the right password: the page says for how long, in words.
  const throttled = page.waitForResponse((response) => response.url().endsWith('/auth/login'));
  await logIn(page);
  expect((await throttled).status()).toBe(429);
  await error.filter({ hasText: 'Too many attempts. Try again in 15 minutes.' }).waitFor();
  expect(await page.locator('#signed-in').isVisible()).toBe(false);
  expect(await page.locator('#login-button').isDisabled()).toBe(false);
  expect(problems).toEqual([]);
}, 30000);

test('a Redis outage: the page says the refresh failed and the token expired, then clears the error once a refresh works', async () => {
  // The example app on RedisStore, on a private redis-server this test freezes (SIGSTOP) and thaws (SIGCONT).
  const redis = await startRedisServer();
  const pid = redis.process.pid as number;
  const client = new Redis({ port: redis.port, host: '127.0.0.1', disconnectTimeout: 100 });
  cleanups.push(
    () => redis.stop(),
    () => client.disconnect(),
    () => process.kill(pid, 'SIGCONT'),
  );
  const origin = await startApp({ redisClient: client, prefix: uniquePrefix(), accessTokenTtl: '3s' });
  const context = await newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const { problems, expected } = watch(page);
  await page.goto(origin);
  await page.locator('#signed-out').waitFor({ state: 'visible' });
  await logIn(page);
  await signedInAs(page);
  await sessionCount(page, 1);

  // Redis stops answering: the silent refresh before expiry gets 503 (after RedisStore's 1 s command timeout).
  expected.add('503 /auth/refresh');
  process.kill(pid, 'SIGSTOP');
  const notice = page.locator('#notice');
  await notice.filter({ hasText: 'Could not refresh the access token' }).waitFor({ timeout: 8000 });
  expect(await notice.getAttribute('class')).toContain('error');

  // The countdown reaches zero: it says "Expired" (not "Expires in expired"), and that the page will retry.
  const countdown = page.locator('#countdown');
  const countdownLabel = page.locator('#countdown-label');
  await countdown.filter({ hasText: /^Expired$/ }).waitFor({ timeout: 8000 });
  expect(await countdownLabel.isVisible()).toBe(false); // "Expired", not "Expires in Expired"
  expect(await page.locator('#refresh-note').textContent()).toBe('Access token expired; it will be refreshed when the server is reachable.');

  // Once the revocation feed has gone without Redis for revocation.maxStaleness (5 s), the server says it is not ready, and why.
  const health = page.locator('#health-headline');
  await page.locator('#health[data-status="fail"]').waitFor({ timeout: 12000 });
  expect(await health.textContent()).toMatch(/^Not ready: protected routes and refreshes answer 503/);
  expect(await page.locator('#health-details li').first().textContent()).toMatch(/^protected routes answer 503: /);

  // Redis is back: the page's next try (after the 503's Retry-After) refreshes, and the red banner goes with it.
  process.kill(pid, 'SIGCONT');
  await page
    .locator('#refresh-note')
    .filter({ hasText: /^Refreshed silently at .* \(1 time\)\.$/ })
    .waitFor({ timeout: 12000 });
  await notice.waitFor({ state: 'hidden' });
  await page.locator('#health[data-status="pass"]').waitFor({ timeout: 8000 });
  expect(await page.locator('#health-details li').count()).toBe(0);
  expect(await countdownLabel.isVisible()).toBe(true);
  expect(await countdown.textContent()).toMatch(/^0:0[123]$/);
  await page.getByRole('button', { name: 'Call the protected API' }).click();
  await page.locator('#api-result').filter({ hasText: '200 OK' }).waitFor();
  expect(await notice.isVisible()).toBe(false);
  expect(problems).toEqual([]);
}, 40000);
