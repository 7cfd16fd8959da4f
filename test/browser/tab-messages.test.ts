// What a tab takes from the others over the BroadcastChannel, in real Chromium with messages forged from the page:
// only well-formed tokens of the browser's session, for no longer than their own `exp`; anything else is ignored.
import type { Page } from 'playwright-core';
import { USERS } from '../support/harness';
import { accessClaims, nowSeconds, segment, signHs256 } from '../support/tokens';
import {
  type ClientSite,
  CONDITION_TIMEOUT_MS,
  closeTestContexts,
  newTestContext,
  openClientPage,
  type SessionState,
  startClientSite,
  type TestWindow,
} from './client-page';

declare const window: TestWindow;
declare class BroadcastChannel {
  constructor(name: string);
  postMessage(message: unknown): void;
  close(): void;
}

/** The client's channel for a router at /auth. */
const CHANNEL = 'express-refresh-tokens:/auth';
const ALICE = { username: 'alice', password: (USERS.alice as { password: string }).password };
const BOB = { username: 'bob', password: (USERS.bob as { password: string }).password };
const HOUR_MS = 3_600_000;

let site: ClientSite;
let refreshes = 0;

beforeAll(async () => {
  site = await startClientSite(60, (app) =>
    app.use((req, _res, next) => {
      if (req.method === 'POST' && req.path === '/auth/refresh') refreshes += 1;
      next();
    }),
  );
});

afterAll(() => site?.close());

beforeEach(() => {
  refreshes = 0;
});

afterEach(closeTestContexts);

/** The fixture page in a new browser context, its client loaded. */
async function newPage(): Promise<Page> {
  return openClientPage(await newTestContext(site.browser), `${site.origin}/`);
}

/** A page signed in with `credentials`; its state right after the login. */
async function signedIn(credentials: Record<string, unknown>): Promise<{ page: Page; state: SessionState & { signedIn: true }; token: string }> {
  const page = await newPage();
  await page.evaluate((body) => window.auth.login(body), credentials);
  const state = (await page.evaluate(() => window.auth.getSession())) as SessionState & { signedIn: true };
  const token = (await page.evaluate(() => window.auth.getAccessToken())) as string;
  return { page, state, token };
}

/** Posts messages on the client's channel from the page, as any script of the origin can. */
async function post(page: Page, messages: unknown[]): Promise<void> {
  await page.evaluate(
    ({ name, list }) => {
      const channel = new BroadcastChannel(name);
      for (const message of list) channel.postMessage(message);
      channel.close();
    },
    { name: CHANNEL, list: messages },
  );
}

/**
 * A real token of alice's session with a later `exp` (as the next refresh would give), posted last:
 * once the page has taken it, every message posted before it has been handled.
 */
function laterTokenOf(state: SessionState & { signedIn: true }, expSeconds: number): string {
  return signHs256(accessClaims({ sub: state.user.userId, sid: state.user.sessionId, iat: nowSeconds(), exp: expSeconds }));
}

async function takenBy(page: Page, expiresAt: number): Promise<void> {
  await page.waitForFunction((at) => (window.auth.getSession() as { expiresAt?: number } | null)?.expiresAt === at, expiresAt, {
    polling: 20,
    timeout: CONDITION_TIMEOUT_MS,
  });
}

describe('tokens from other tabs', () => {
  test('malformed messages are ignored without an error: wrong types, missing fields, huge or unreadable tokens', async () => {
    const { page, state, token } = await signedIn(ALICE);
    const [header, , signature] = token.split('.') as [string, string, string];
    const withPayload = (payload: unknown): string => `${header}.${segment(payload as object)}.${signature}`;
    const farFuture = Date.now() + 10 * HOUR_MS;
    const sameSession = { sub: state.user.userId, sid: state.user.sessionId, exp: nowSeconds() + 600 };
    await post(page, [
      null,
      42,
      'token',
      [],
      {},
      { type: 'token' },
      { type: 'token', value: 7, expiresAt: farFuture },
      { type: 'token', value: token, expiresAt: 'never' },
      { type: 'token', value: token, expiresAt: Number.NaN },
      { type: 'token', value: `${header}.${'A'.repeat(2_000_000)}.${signature}`, expiresAt: farFuture },
      // Well-formed, of this session, and later than anything else posted: refused only for its length.
      { type: 'token', value: withPayload({ ...sameSession, exp: nowSeconds() + 900, pad: 'x'.repeat(20_000) }), expiresAt: farFuture },
      { type: 'token', value: 'not-a-jwt', expiresAt: farFuture },
      { type: 'token', value: `${header}.%%%.${signature}`, expiresAt: farFuture },
      { type: 'token', value: withPayload([1, 2]), expiresAt: farFuture },
      { type: 'token', value: withPayload({ ...sameSession, sid: 42 }), expiresAt: farFuture },
      { type: 'token', value: withPayload({ ...sameSession, sub: undefined }), expiresAt: farFuture },
      { type: 'token', value: withPayload({ ...sameSession, exp: 'later' }), expiresAt: farFuture },
      { type: 'nonsense' },
    ]);
    const exp = nowSeconds() + 300;
    await post(page, [{ type: 'token', value: laterTokenOf(state, exp), expiresAt: exp * 1000 }]);
    await takenBy(page, exp * 1000);
    expect(await page.evaluate(() => window.auth.getSession())).toMatchObject({ signedIn: true, user: state.user });
    expect(await page.evaluate(() => window.sessionEvents.map((event) => event.signedIn))).toEqual([true, true]);
    expect(await page.evaluate(() => window.fetchJson('/api/me'))).toMatchObject({
      status: 200,
      body: { userId: 'user-alice', sessionId: state.user.sessionId },
    });
  });

  test("another user's real token is not taken: not by a signed-in tab, nor by a tab of a browser with no session", async () => {
    const alice = await signedIn(ALICE);
    const bob = await signedIn(BOB);
    const message = { type: 'token', value: bob.token, expiresAt: Date.now() + HOUR_MS };

    await post(alice.page, [message]);
    const exp = nowSeconds() + 300;
    await post(alice.page, [{ type: 'token', value: laterTokenOf(alice.state, exp), expiresAt: exp * 1000 }]);
    await takenBy(alice.page, exp * 1000);
    expect(await alice.page.evaluate(() => window.auth.getSession())).toMatchObject({ signedIn: true, user: alice.state.user });
    expect(await alice.page.evaluate(() => window.fetchJson('/api/me'))).toMatchObject({ status: 200, body: { userId: 'user-alice' } });

    const stranger = await newPage();
    await post(stranger, [message]);
    await stranger.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)));
    expect(await stranger.evaluate(() => window.auth.getSession())).toBeNull();
    expect(await stranger.evaluate(() => window.auth.restore())).toEqual({ signedIn: false });
    expect(await stranger.evaluate(() => window.fetchJson('/api/me'))).toMatchObject({ status: 401 });
    expect(refreshes).toBe(0);
  });

  test("expiresAt is capped by the token's own exp, and a token past its exp is ignored", async () => {
    const { page, state } = await signedIn(ALICE);
    const expired = nowSeconds() - 5;
    await post(page, [{ type: 'token', value: laterTokenOf(state, expired), expiresAt: Date.now() + 10 * HOUR_MS }]);
    const exp = nowSeconds() + 300;
    await post(page, [{ type: 'token', value: laterTokenOf(state, exp), expiresAt: Date.now() + 10 * HOUR_MS }]);
    await takenBy(page, exp * 1000);
    expect(await page.evaluate(() => window.sessionEvents.map((event) => event.signedIn))).toEqual([true, true]);
  });

  test("a newer session of the same user (a login in another tab) is taken; so is the browser's session by a new tab", async () => {
    const { page, state } = await signedIn(ALICE);
    const exp = nowSeconds() + 300;
    const relogin = signHs256(accessClaims({ sub: state.user.userId, iat: nowSeconds(), exp }));
    await post(page, [{ type: 'token', value: relogin, expiresAt: exp * 1000 }]);
    await takenBy(page, exp * 1000);
    const taken = (await page.evaluate(() => window.auth.getSession())) as SessionState & { signedIn: true };
    expect(taken.user.userId).toBe('user-alice');
    expect(taken.user.sessionId).not.toBe(state.user.sessionId);

    // A second tab of this browser asks the first for its token and takes it, without a refresh.
    const second = await openClientPage(page.context(), `${site.origin}/`);
    expect(await second.evaluate(() => window.auth.restore())).toEqual({ signedIn: true, user: taken.user, expiresAt: exp * 1000 });
    expect(refreshes).toBe(0);
  });
});
