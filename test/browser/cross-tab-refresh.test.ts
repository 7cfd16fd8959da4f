// The cross-tab protocol (lib/client/cross-tab-refresh.ts) on its own in real Chromium, with real Web Locks and a real
// BroadcastChannel: its races pinned down by a server that holds each tab's own refresh until the test answers it.
import path from 'node:path';
import { build } from 'esbuild';
import express from 'express';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, serve } from '../support/browser';
import { accessClaims, nowSeconds, signHs256 } from '../support/tokens';
import { waitUntil } from '../support/wait-until';
import { CONDITION_TIMEOUT_MS, closeTestContexts, newTestContext, recordPageErrors } from './client-page';

/** What fixtures/cross-tab-tab.js leaves on `window` (the test tsconfig has no DOM lib), and what the peer's scripts put there. */
interface TabWindow {
  tabReady?: boolean;
  tab: {
    events: { signedIn: boolean }[];
    hold(value: string, expiresAt: number): void;
    held(): string | null;
    startRefresh(): void;
    outcome(): Promise<string | null>;
    ask(): Promise<string | null>;
  };
  releaseLock(): void;
  /** Set by the peer that answers an ask: settled once it has answered. */
  answered: Promise<void>;
}
declare const window: TabWindow;
declare const navigator: {
  locks: {
    request(name: string, callback: () => Promise<void>): Promise<void>;
    query(): Promise<{ held?: { name?: string }[]; pending?: { name?: string }[] }>;
  };
};
declare class BroadcastChannel {
  constructor(name: string);
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** The channel's and the lock's name, as the fixture tab names them (a client of a router at /auth). */
const NAME = 'express-refresh-tokens:/auth';
/** The protocol's hand-over wait (HANDOVER_WAIT_MS): how long a tab that waited for the lock waits for the holder's answer. */
const HANDOVER_WAIT_MS = 1000;
/** What a tab's refresh still is when it has not settled within CONDITION_TIMEOUT_MS. */
const UNSETTLED = 'still refreshing';

/** A POST /refresh of a tab, held by the server until the test answers it. */
interface HeldRefresh {
  /** The tab that sent it (the page's `?tab=`). */
  tab: string;
  answer(status: number, body?: object): void;
}

let browser: Browser;
let server: Awaited<ReturnType<typeof serve>>;
/** Every POST /refresh the server received in the current test, in order. */
const refreshes: HeldRefresh[] = [];

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [path.join(__dirname, 'fixtures', 'cross-tab-tab.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'warning',
  });
  const script = (bundle.outputFiles[0] as { text: string }).text;
  const app = express();
  app.get('/tab.js', (_req, res) => res.type('js').send(script));
  app.get('/tab', (_req, res) => res.type('html').send('<!doctype html><title>tab</title><script type="module" src="/tab.js"></script>'));
  // Another tab of the origin that speaks the protocol by hand, from the test.
  app.get('/peer', (_req, res) => res.type('html').send('<!doctype html><title>peer</title>'));
  app.post('/refresh', (req, res) => {
    let answered = false;
    refreshes.push({
      tab: String(req.query.tab),
      answer(status, body = {}) {
        if (answered) return;
        answered = true;
        res.status(status).json(body);
      },
    });
  });
  server = await serve(app);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

afterEach(async () => {
  await closeTestContexts();
  for (const refresh of refreshes.splice(0)) refresh.answer(503);
});

/** A token of alice's session (or of other claims) expiring at `expSeconds`. */
function tokenOf(expSeconds: number, claims: Record<string, unknown> = {}): string {
  return signHs256(accessClaims({ sub: 'user-alice', sid: 'session-of-alice', exp: expSeconds, ...claims }));
}

/** Answers a held refresh with a new token of alice's session expiring in `seconds`; returns the token. */
function answerWithToken(refresh: HeldRefresh | undefined, seconds: number): string {
  const exp = nowSeconds() + seconds;
  const token = tokenOf(exp);
  refresh?.answer(200, { value: token, expiresAt: exp * 1000 });
  return token;
}

/** Waits until `condition` holds, for at most CONDITION_TIMEOUT_MS. */
function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  return waitUntil(condition, CONDITION_TIMEOUT_MS, what);
}

async function openTab(context: BrowserContext, name: string): Promise<Page> {
  const page = await context.newPage();
  recordPageErrors(page);
  await page.goto(`${server.origin}/tab?tab=${name}`);
  await page.waitForFunction(() => window.tabReady === true, undefined, { polling: 20, timeout: CONDITION_TIMEOUT_MS });
  return page;
}

async function openPeer(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  recordPageErrors(page);
  await page.goto(`${server.origin}/peer`);
  return page;
}

/** Takes the lock in `peer`, as a tab that is refreshing; `window.releaseLock()` in it releases it. */
async function holdLock(peer: Page): Promise<void> {
  await peer.evaluate(
    (name) =>
      new Promise<void>((granted) => {
        void navigator.locks.request(name, () => {
          granted();
          return new Promise<void>((release) => {
            window.releaseLock = release;
          });
        });
      }),
    NAME,
  );
}

/** Waits until `count` requests of the lock are queued behind its holder (any tab of the origin can see it). */
async function untilQueued(page: Page, count: number): Promise<void> {
  const queued = (): Promise<number> =>
    page.evaluate(async (name) => ((await navigator.locks.query()).pending ?? []).filter((lock) => lock.name === name).length, NAME);
  await until(async () => (await queued()) === count, `${count} tab(s) waiting for the lock`);
}

/** Posts messages on the channel from `page`, `delayMs` after releasing its lock when `release` is set. */
async function post(page: Page, messages: unknown[], options: { release?: boolean; delayMs?: number } = {}): Promise<void> {
  await page.evaluate(
    async ({ name, list, release, delayMs }) => {
      if (release) window.releaseLock();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const channel = new BroadcastChannel(name);
      for (const message of list) channel.postMessage(message);
      channel.close();
    },
    { name: NAME, list: messages, release: options.release ?? false, delayMs: options.delayMs ?? 0 },
  );
}

/** What a tab's last refresh came to (a token, `null` when signed out, `rejected: …`), or UNSETTLED. */
function outcomeOf(page: Page): Promise<string | null> {
  return page.evaluate(
    ({ ms, unsettled }) => Promise.race([window.tab.outcome(), new Promise<string>((resolve) => setTimeout(() => resolve(unsettled), ms))]),
    { ms: CONDITION_TIMEOUT_MS, unsettled: UNSETTLED },
  );
}

function startRefresh(page: Page): Promise<void> {
  return page.evaluate(() => window.tab.startRefresh());
}

/** Makes `page` hold a token of alice's session, as after a login; returns it. */
async function hold(page: Page, seconds: number): Promise<string> {
  const exp = nowSeconds() + seconds;
  const token = tokenOf(exp);
  await page.evaluate(({ value, expiresAt }) => window.tab.hold(value, expiresAt), { value: token, expiresAt: exp * 1000 });
  return token;
}

/** Messages any script of the origin could post that no tab may take: malformed, or a token past its `exp`. */
function malformedMessages(): unknown[] {
  const farFuture = Date.now() + 3_600_000;
  return [
    null,
    'token',
    { type: 'token' },
    { type: 'token', value: 'not-a-token', expiresAt: farFuture },
    { type: 'token', value: tokenOf(nowSeconds() - 5), expiresAt: farFuture },
    { type: 'nonsense' },
  ];
}

/** A real token of bob's: a tab that holds alice's takes none of it. */
function bobsTokenMessage(): unknown {
  return { type: 'token', value: tokenOf(nowSeconds() + 600, { sub: 'user-bob', sid: 'session-of-bob' }), expiresAt: Date.now() + 3_600_000 };
}

describe('one refresh for all tabs', () => {
  test('three tabs refreshing at once make one refresh: the lock holder refreshes, the tabs waiting for the lock take its token', async () => {
    const context = await newTestContext(browser);
    const [a, b, c] = [await openTab(context, 'a'), await openTab(context, 'b'), await openTab(context, 'c')];
    await startRefresh(a);
    await until(() => refreshes.length === 1, "tab a's refresh");
    await Promise.all([startRefresh(b), startRefresh(c)]);
    await untilQueued(a, 2);

    const token = answerWithToken(refreshes[0], 600);
    expect(await Promise.all([a, b, c].map(outcomeOf))).toEqual([token, token, token]);
    expect(refreshes.map((refresh) => refresh.tab)).toEqual(['a']);
  });

  test.each([
    ['its tab closes', (holder: Page) => holder.close()],
    ['its refresh fails (503)', async (_holder: Page, refresh: HeldRefresh | undefined) => refresh?.answer(503)],
  ])('when the lock holder stops without an answer (%s), the tab waiting for the lock refreshes by itself', async (_case, stop) => {
    const context = await newTestContext(browser);
    const [a, b] = [await openTab(context, 'a'), await openTab(context, 'b')];
    await startRefresh(a);
    await until(() => refreshes.length === 1, "tab a's refresh");
    await startRefresh(b);
    await untilQueued(b, 1);

    await stop(a, refreshes[0]);
    await until(() => refreshes.length === 2, "tab b's own refresh");
    expect(refreshes.map((refresh) => refresh.tab)).toEqual(['a', 'b']);
    const token = answerWithToken(refreshes[1], 600);
    expect(await outcomeOf(b)).toBe(token);
  });

  test("the lock holder's refresh refused (401) signs the waiting tab out too, with no refresh of its own", async () => {
    const context = await newTestContext(browser);
    const [a, b] = [await openTab(context, 'a'), await openTab(context, 'b')];
    await hold(a, 600);
    await hold(b, 600);
    await startRefresh(a);
    await until(() => refreshes.length === 1, "tab a's refresh");
    await startRefresh(b);
    await untilQueued(b, 1);

    refreshes[0]?.answer(401);
    expect(await Promise.all([a, b].map(outcomeOf))).toEqual([null, null]);
    expect(await b.evaluate(() => window.tab.events.map((state) => state.signedIn))).toEqual([true, false]);
    expect(refreshes.map((refresh) => refresh.tab)).toEqual(['a']);
  });
});

describe('what a tab that waited for the lock takes', () => {
  test("the holder's token arriving after its lock was released, within the hand-over wait", async () => {
    const context = await newTestContext(browser);
    const [peer, b] = [await openPeer(context), await openTab(context, 'b')];
    await holdLock(peer);
    await startRefresh(b);
    await untilQueued(peer, 1);

    const exp = nowSeconds() + 600;
    const token = tokenOf(exp);
    await post(peer, [{ type: 'token', value: token, expiresAt: exp * 1000 }], { release: true, delayMs: HANDOVER_WAIT_MS / 3 });
    expect(await outcomeOf(b)).toBe(token);
    expect(refreshes).toEqual([]);
  });

  test('no forged or malformed message: those end no wait, and the holder token that follows them is taken', async () => {
    const context = await newTestContext(browser);
    const [peer, b] = [await openPeer(context), await openTab(context, 'b')];
    await hold(b, 600);
    await holdLock(peer);
    await startRefresh(b);
    await untilQueued(peer, 1);

    await post(peer, [...malformedMessages(), bobsTokenMessage()]);
    const exp = nowSeconds() + 900;
    const token = tokenOf(exp);
    await post(peer, [{ type: 'token', value: token, expiresAt: exp * 1000 }], { release: true, delayMs: HANDOVER_WAIT_MS / 3 });
    expect(await outcomeOf(b)).toBe(token);
    expect(refreshes).toEqual([]);
    expect(await b.evaluate(() => window.tab.events.length)).toBe(2); // the stale token held, then the holder's
  });

  test("not the holder's token arriving after the tab gave up waiting and refreshed by itself, over the later one it got", async () => {
    const context = await newTestContext(browser);
    const [peer, b] = [await openPeer(context), await openTab(context, 'b')];
    await hold(b, 300);
    await holdLock(peer);
    await startRefresh(b);
    await untilQueued(peer, 1);

    await peer.evaluate(() => window.releaseLock());
    await until(() => refreshes.length === 1, "tab b's own refresh, after the hand-over wait");
    const own = answerWithToken(refreshes[0], 900);
    expect(await outcomeOf(b)).toBe(own);

    // The holder's token comes late, and expires before the tab's own; the tab's answer to the ask after it shows what it kept.
    const exp = nowSeconds() + 600;
    const kept = await peer.evaluate(
      ({ name, late, ms }) =>
        new Promise<unknown>((resolve) => {
          const channel = new BroadcastChannel(name);
          channel.onmessage = (event) => resolve((event.data as { value?: unknown }).value);
          channel.postMessage(late);
          channel.postMessage({ type: 'ask' });
          setTimeout(() => resolve(null), ms);
        }),
      { name: NAME, late: { type: 'token', value: tokenOf(exp), expiresAt: exp * 1000 }, ms: CONDITION_TIMEOUT_MS },
    );
    expect(kept).toBe(own);
    expect(await b.evaluate(() => window.tab.held())).toBe(own);
    expect(await b.evaluate(() => window.tab.events.length)).toBe(2); // the stale token held, then its own refresh's
  });
});

describe("a new tab's ask", () => {
  test('is answered by a tab whose token is usable, and not by one whose token is about to expire', async () => {
    const context = await newTestContext(browser);
    const [a, b] = [await openTab(context, 'a'), await openTab(context, 'b')];
    const usable = await hold(a, 600);
    expect(await b.evaluate(() => window.tab.ask())).toBe(usable);
    await b.close();

    // Held for 2.5 s, it is to be refreshed once less than a fifth of that is left, though still valid for a while.
    const expiresAt = Date.now() + 2500;
    await a.evaluate(({ value, at }) => window.tab.hold(value, at), { value: tokenOf(nowSeconds() + 600), at: expiresAt });
    await a.evaluate((at) => new Promise((resolve) => setTimeout(resolve, at - 450 - Date.now())), expiresAt);
    const c = await openTab(context, 'c');
    expect(await c.evaluate(() => window.tab.ask())).toBeNull();
    expect(refreshes).toEqual([]);
  });

  test('ends on no malformed answer: the real answer that follows it is taken', async () => {
    const context = await newTestContext(browser);
    const [peer, b] = [await openPeer(context), await openTab(context, 'b')];
    const exp = nowSeconds() + 600;
    const token = tokenOf(exp);
    // The peer answers the ask with malformed messages at once, and with its token a little later.
    await peer.evaluate(
      ({ name, malformed, real }) => {
        window.answered = new Promise<void>((done) => {
          const channel = new BroadcastChannel(name);
          channel.onmessage = () => {
            for (const message of malformed) channel.postMessage(message);
            setTimeout(() => {
              channel.postMessage(real);
              done();
            }, 50);
          };
        });
      },
      { name: NAME, malformed: malformedMessages(), real: { type: 'token', value: token, expiresAt: exp * 1000 } },
    );
    expect(await b.evaluate(() => window.tab.ask())).toBe(token);
    await peer.evaluate(() => window.answered);
  });
});
