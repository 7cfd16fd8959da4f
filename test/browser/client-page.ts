// The fixture page that loads the built browser client (fixtures/client.html), mounted on a test app and opened in Chromium; shared by the browser suites.
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express } from 'express';
import type { BrowserContext, Page } from 'playwright-core';

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

/**
 * Opens the fixture page at `url` (e.g. `${origin}/`, or `${origin}/?options=…` for a client made with
 * other options) and waits for the client to be loaded; uncaught page errors go to `pageErrors`.
 */
export async function openClientPage(context: BrowserContext, url: string, pageErrors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
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
