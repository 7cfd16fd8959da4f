// Device-bound sessions in real Chromium: the browser client binds its session to a WebCrypto key kept in IndexedDB, so the whole cookie jar copied into another browser refreshes nothing and signs nobody out.
import type { BindingFailedEvent, SessionEvent } from '../../lib';
import { USERS } from '../support/harness';
import { type ClientSite, closeTestContexts, newTestContext, openClientPage, startClientSite, type TestWindow, waitForClient } from './client-page';

declare const window: TestWindow;

const REFRESH_COOKIE = 'refresh';
const ALICE = { username: 'alice', password: (USERS.alice as { password: string }).password };

let site: ClientSite;
let failures: BindingFailedEvent[] = [];
let reuses: SessionEvent[] = [];
/** Every POST /auth/refresh the server answered: whether it carried a DPoP proof, and its status. */
let refreshes: { proof: boolean; status: number }[] = [];

beforeAll(async () => {
  site = await startClientSite(60, (app, auth) => {
    auth.events.on('binding_failed', (event) => failures.push(event));
    auth.events.on('reuse_detected', (event) => reuses.push(event));
    app.use((req, res, next) => {
      if (req.method === 'POST' && req.path === '/auth/refresh') {
        const proof = typeof req.headers.dpop === 'string';
        res.on('finish', () => refreshes.push({ proof, status: res.statusCode }));
      }
      next();
    });
  });
});

afterAll(() => site?.close());

beforeEach(() => {
  failures = [];
  reuses = [];
  refreshes = [];
});

afterEach(closeTestContexts);

/** Signs alice in on a fresh page; resolves with the page, its context and the refresh cookie's value. */
async function signedInPage() {
  const context = await newTestContext(site.browser);
  const page = await openClientPage(context, `${site.origin}/`);
  await page.evaluate((credentials) => window.auth.login(credentials), ALICE);
  const cookie = (await context.cookies()).find((c) => c.name === REFRESH_COOKIE);
  return { context, page, cookie: cookie?.value as string };
}

/** Refreshes in the page the way the client does after a reload: a new page restores its session through the cookie. */
async function restoredSession(page: Awaited<ReturnType<typeof signedInPage>>['page']) {
  await page.reload();
  await waitForClient(page);
  return page.evaluate(() => window.auth.restore());
}

test('the client binds its session by itself: a bound cookie, and refreshes that carry proofs across reloads', async () => {
  const { page, cookie } = await signedInPage();
  expect(cookie.split('.')).toHaveLength(5);
  expect((await restoredSession(page)).signedIn).toBe(true);
  expect((await restoredSession(page)).signedIn).toBe(true);
  expect(refreshes).toEqual([
    { proof: true, status: 200 },
    { proof: true, status: 200 },
  ]);
  expect(failures).toEqual([]);
});

test('the whole cookie jar copied into another browser: its refresh is refused, the owner keeps refreshing, no reuse, nothing cleared', async () => {
  const victim = await signedInPage();
  const thief = await newTestContext(site.browser);
  await thief.addCookies(await victim.context.cookies());
  const thiefPage = await openClientPage(thief, `${site.origin}/`);
  expect((await thiefPage.evaluate(() => window.auth.restore())).signedIn).toBe(false);
  expect(refreshes.at(-1)).toEqual({ proof: false, status: 401 });
  expect(failures.map((event) => event.reason)).toEqual(['missing']);
  // the victim's cookie was not touched, and it still refreshes
  expect((await victim.context.cookies()).find((c) => c.name === REFRESH_COOKIE)?.value).toBe(victim.cookie);
  expect((await restoredSession(victim.page)).signedIn).toBe(true);
  expect(reuses).toEqual([]);
  // the thief's client gave up at once: one refused refresh, not a loop
  await thiefPage.evaluate(() => window.auth.getAccessToken());
  expect(refreshes.filter((r) => !r.proof)).toHaveLength(1);
});

test("a real proof captured in flight, replayed from another browser with the victim's cookie: refused after the victim rotated, and one captured earlier is refused too", async () => {
  const victim = await signedInPage();
  const captured: string[] = [];
  await victim.page.route('**/auth/refresh', async (route) => {
    captured.push(route.request().headers().dpop as string);
    await route.continue();
  });
  const cookieAt = async () => (await victim.context.cookies()).filter((c) => c.name === REFRESH_COOKIE || c.name === `${REFRESH_COOKIE}-present`);
  const firstJar = await cookieAt();
  expect((await restoredSession(victim.page)).signedIn).toBe(true); // rotates: captured[0] went with firstJar
  const secondJar = await cookieAt();
  expect((await restoredSession(victim.page)).signedIn).toBe(true); // rotates again: captured[1] went with secondJar
  expect(captured).toHaveLength(2);
  expect(captured.every((proof) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(proof))).toBe(true);

  /** The thief's browser: the given jar, and a hand-made refresh carrying the given proof. */
  const replay = async (jar: typeof firstJar, proof: string) => {
    const thief = await newTestContext(site.browser);
    await thief.addCookies(jar);
    const page = await openClientPage(thief, `${site.origin}/`);
    return page.evaluate(
      (header) => fetch('/auth/refresh', { method: 'POST', headers: { 'X-Requested-With': 'fetch', DPoP: header } }).then((res) => res.status),
      proof,
    );
  };
  const failuresBefore = failures.length;
  // The proof that rotated, with the cookie it rotated (now the previous one): refused, nothing changes.
  expect(await replay(secondJar, captured[1] as string)).toBe(401);
  // A proof captured at an earlier refresh, with the victim's current cookie: its nonce is another token's.
  expect(await replay(await cookieAt(), captured[0] as string)).toBe(401);
  expect(failures.slice(failuresBefore).map((event) => event.reason)).toEqual(['wrong_nonce']);
  expect(reuses).toEqual([]);
  expect((await restoredSession(victim.page)).signedIn).toBe(true);
});

test('logout deletes the key; the next sign-in makes a new one', async () => {
  const { page, context } = await signedInPage();
  const keys = () =>
    page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const opening = indexedDB.open('express-refresh-tokens');
          opening.onsuccess = () => {
            const count = opening.result.transaction('device-keys').objectStore('device-keys').count();
            count.onsuccess = () => resolve(count.result);
          };
        }),
    );
  expect(await keys()).toBe(1);
  await page.evaluate(() => window.auth.logout());
  expect(await keys()).toBe(0);
  expect((await context.cookies()).find((c) => c.name === REFRESH_COOKIE)).toBeUndefined();
  await page.evaluate((credentials) => window.auth.login(credentials), ALICE);
  expect(await keys()).toBe(1);
});

describe("binding: 'require'", () => {
  let requiring: ClientSite;
  beforeAll(async () => {
    requiring = await startClientSite(60, () => undefined, { refreshToken: { secret: 'r'.repeat(43), reuseGrace: '2s', binding: 'require' } });
  });
  afterAll(() => requiring?.close());

  test('a browser that can keep a key signs in; one that cannot is refused, with a code and words that say what to do', async () => {
    const able = await openClientPage(await newTestContext(requiring.browser), `${requiring.origin}/`);
    expect((await able.evaluate((credentials) => window.auth.login(credentials), ALICE)).userId).toBe('user-alice');

    const unable = await newTestContext(requiring.browser);
    await unable.addInitScript(() => Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true }));
    const page = await openClientPage(unable, `${requiring.origin}/`);
    const refusal = await page.evaluate(
      (credentials) =>
        window.auth.login(credentials).then(
          () => null,
          (error: { status: number; code: string; message: string }) => ({ status: error.status, code: error.code, message: error.message }),
        ),
      ALICE,
    );
    expect(refusal).toEqual({
      status: 401,
      code: 'device_key_unavailable',
      message: expect.stringMatching(/cannot keep the key .* regular window or another browser/),
    });
    expect((await unable.cookies()).map((cookie) => cookie.name)).toEqual([]);
  });
});

declare function fetch(url: string, init: { method: string; headers: Record<string, string> }): Promise<{ status: number }>;
declare const indexedDB: {
  open(name: string): {
    result: { transaction(store: string): { objectStore(name: string): { count(): { result: number; onsuccess: () => void } } } };
    onsuccess: () => void;
  };
};
