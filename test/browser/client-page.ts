// The fixture page that loads the built browser client (fixtures/client.html), mounted on a test app and opened in Chromium; shared by the browser suites.
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express } from 'express';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type Auth, type AuthOptions, createAuth, MemoryStore, type SessionStore } from '../../lib';
import { launchChromium, serve } from '../support/browser';
import { ACCESS_SECRET, authOptions, REFRESH_SECRET } from '../support/harness';

/** Who is signed in, as the client reports it (`AuthUser`). */
export type AuthUser = { userId: string; sessionId: string; claims: Record<string, unknown> };
/** The client's `SessionState`. */
export type SessionState = { signedIn: true; user: AuthUser; expiresAt: number } | { signedIn: false };
/** What the page's `fetchJson` answers: a status and the JSON body (or `null`). */
export type JsonAnswer = { status: number; body: { userId?: string; sessionId?: string; error?: string; authorization?: string | null } | null };

/**
 * What the fixture page leaves on `window`, typed for the callbacks `page.evaluate` runs in the browser
 * (the test tsconfig has no DOM lib: each suite declares `window` with this type).
 */
export interface TestWindow {
  clientReady?: boolean;
  /** The client the page made, with the options of its `?options=<JSON>` query. */
  auth: {
    login(credentials: Record<string, unknown>): Promise<AuthUser>;
    logout(): Promise<{ serverSessionEnded: boolean }>;
    getAccessToken(): Promise<string | null>;
    restore(): Promise<SessionState>;
    getSession(): SessionState | null;
  };
  /** The module's `createAuthClient`, for clients with other options. */
  createAuthClient(options?: Record<string, unknown>): TestWindow['auth'];
  /** Every state the page's client reported to onSessionChange, in order. */
  sessionEvents: SessionState[];
  /** `auth.fetch(url, init)`, answered as status and JSON body. */
  fetchJson(url: string, init?: { headers?: Record<string, string> }): Promise<JsonAnswer>;
}

const FIXTURE = path.join(__dirname, 'fixtures', 'client.html');
/** The built client's folder (the package's `./client` export lives in it), served to the page under /client. */
const CLIENT_DIR = path.resolve(__dirname, '..', '..', 'dist', 'browser', 'client');

/** How long a condition awaited in a page may take before the test fails with a clear message. */
export const CONDITION_TIMEOUT_MS = 5000;

/** Serves the built client under /client and the fixture page at / (throws when the client is not built). */
export function mountClientPage(app: Express): void {
  if (!existsSync(path.join(CLIENT_DIR, 'index.js'))) {
    throw new Error(`${CLIENT_DIR}/index.js is missing: run \`npm run build\` first (the page loads the built client)`);
  }
  app.use('/client', express.static(CLIENT_DIR));
  app.get('/', (_req, res) => res.sendFile(FIXTURE));
}

/** Mounts the fixture page ({@link mountClientPage}), `auth`'s router at /auth, and GET /api/me behind requireAuth answering `req.auth`. */
export function mountClientApp(app: Express, auth: Auth): void {
  mountClientPage(app);
  app.use('/auth', auth.router);
  app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
}

/**
 * The options of the auth instance behind the fixture page: cookies over plain http (`secure: false`, SameSite strict),
 * HS256 access tokens that live `accessTtlSeconds`, refresh tokens with a 2 s reuse grace.
 */
export function clientPageAuthOptions(store: SessionStore, accessTtlSeconds: number): AuthOptions {
  return authOptions(store, {
    cookie: { secure: false, sameSite: 'strict' },
    accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: accessTtlSeconds },
    refreshToken: { secret: REFRESH_SECRET, idleTtl: '14d', absoluteTtl: '30d', reuseGrace: '2s' },
  });
}

/** A test app serving the fixture page on 127.0.0.1, its auth instance, and Chromium to open it; made by {@link startClientSite}. */
export interface ClientSite {
  /** Where the app listens: `http://127.0.0.1:<port>`. */
  origin: string;
  /** The app's auth instance (on a MemoryStore, with {@link clientPageAuthOptions}). */
  auth: Auth;
  /** Headless Chromium. */
  browser: Browser;
  /** Closes Chromium, the server, the auth instance and its store: `afterAll(() => site?.close())`. */
  close(): Promise<void>;
}

/**
 * Starts a {@link ClientSite}: an auth instance with {@link clientPageAuthOptions} (and `overrides`) on a MemoryStore, an app on which
 * `setUp` adds its own middleware and routes first and then {@link mountClientApp} mounts the page, served on a free port.
 */
export async function startClientSite(
  accessTtlSeconds: number,
  setUp: (app: Express, auth: Auth) => void = () => undefined,
  overrides: Partial<AuthOptions> = {},
): Promise<ClientSite> {
  const store = new MemoryStore();
  const auth = createAuth({ ...clientPageAuthOptions(store, accessTtlSeconds), ...overrides });
  const app = express();
  setUp(app, auth);
  mountClientApp(app, auth);
  let server: Awaited<ReturnType<typeof serve>> | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    await server?.close();
    await auth.close();
    await store.close();
  };
  try {
    server = await serve(app);
    browser = await launchChromium();
    return { origin: server.origin, auth, browser, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Uncaught errors of the pages the current test opened; {@link closeTestContexts} requires there were none. */
const pageErrors: string[] = [];
/** The browser contexts the current test opened. */
const contexts: BrowserContext[] = [];

/** Records `page`'s uncaught errors, which {@link closeTestContexts} requires to be none (pages from {@link openClientPage} are recorded already). */
export function recordPageErrors(page: Page): void {
  page.on('pageerror', (error) => pageErrors.push(error.message));
}

/** A new context of `browser` for the current test, closed by {@link closeTestContexts}. */
export async function newTestContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  contexts.push(context);
  return context;
}

/** Closes the contexts the current test opened, then asserts that none of its pages threw: `afterEach(closeTestContexts)`. */
export async function closeTestContexts(): Promise<void> {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
  expect(pageErrors.splice(0)).toEqual([]);
}

/**
 * Opens the fixture page at `url` (e.g. `${origin}/`, or `${origin}/?options=…` for a client made with
 * other options) and waits for the client to be loaded; its uncaught errors are recorded ({@link recordPageErrors}).
 */
export async function openClientPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  recordPageErrors(page);
  await page.goto(url);
  await waitForClient(page);
  return page;
}

/** Waits until the fixture page's client is loaded (after a goto or a reload). */
export async function waitForClient(page: Page): Promise<void> {
  await page.waitForFunction(() => (globalThis as unknown as TestWindow).clientReady === true, undefined, { polling: 20, timeout: CONDITION_TIMEOUT_MS });
}

/** The fixture page's URL on `origin` with a client made with `options`. */
export function pageWithOptions(origin: string, options: Record<string, unknown>): string {
  return `${origin}/?options=${encodeURIComponent(JSON.stringify(options))}`;
}
