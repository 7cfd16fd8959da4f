// The browser client served the way the README shows (its folder, or its file alone, found by Node's resolution of
// `express-refresh-tokens/client` from a user's app) loads in real Chromium, and is one self-contained ES module.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import express, { type Express } from 'express';
import type { Browser, BrowserContext } from 'playwright-core';
import { type Auth, createAuth, MemoryStore } from '../../lib';
import { launchChromium, serve } from '../support/browser';
import { authOptions, buildApp, USERS } from '../support/harness';

// What the page below leaves on window, typed for the callbacks page.evaluate runs in the browser.
type Me = { status: number; userId: string | undefined };
interface TestWindow {
  clientLoaded?: boolean;
  signInAndCallApi(credentials: Record<string, unknown>): Promise<Me>;
}
declare const window: TestWindow;

const REPO = path.resolve(__dirname, '..', '..');
const ALICE = { username: 'alice', password: (USERS.alice as { password: string }).password };

/** A user's app folder whose node_modules/express-refresh-tokens links to this repository (as `npm install <folder>` makes it). */
let userApp: string;
/** `require` as the user's app (`<userApp>/server.js`) has it: Node's resolution, through the package's "exports". */
let userRequire: NodeJS.Require;
let clientFile: string;
let browser: Browser;
let store: MemoryStore;
let auth: Auth;
let context: BrowserContext | undefined;
let closeServer: (() => Promise<void>) | undefined;

beforeAll(async () => {
  userApp = mkdtempSync(path.join(tmpdir(), 'ert-user-app-'));
  mkdirSync(path.join(userApp, 'node_modules'));
  symlinkSync(REPO, path.join(userApp, 'node_modules', 'express-refresh-tokens'), 'dir');
  userRequire = createRequire(path.join(userApp, 'server.js'));
  clientFile = userRequire.resolve('express-refresh-tokens/client');
  store = new MemoryStore();
  auth = createAuth(authOptions(store, { cookie: { secure: false, sameSite: 'strict' } }));
  browser = await launchChromium();
});

afterEach(async () => {
  await context?.close();
  await closeServer?.();
  context = undefined;
  closeServer = undefined;
});

afterAll(async () => {
  await browser?.close();
  await auth?.close();
  await store?.close();
  rmSync(userApp, { recursive: true, force: true });
});

/** A page that imports the client from `clientUrl` with a static import, as the README shows, then exposes a login + API call. */
function pageImporting(clientUrl: string): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>client from ${clientUrl}</title>
<script type="module">
  import { createAuthClient } from '${clientUrl}';

  const auth = createAuthClient();
  window.signInAndCallApi = async (credentials) => {
    await auth.login(credentials);
    const response = await auth.fetch('/api/me');
    return { status: response.status, userId: (await response.json()).userId };
  };
  window.clientLoaded = true;
</script>`;
}

/**
 * Serves a real app (router at /auth, protected GET /api/me) with the client mounted by `mountClient` and nothing else
 * for it, opens its page at http://localhost, and answers whether the client loaded, which requests failed, and (when it
 * loaded) what a login followed by `auth.fetch('/api/me')` got.
 */
async function signInThrough(mountClient: (app: Express) => void, clientUrl: string): Promise<{ loaded: boolean; failed: string[]; me?: Me }> {
  const app = buildApp(auth);
  mountClient(app);
  app.get('/', (_req, res) => res.type('html').send(pageImporting(clientUrl)));
  const served = await serve(app);
  closeServer = served.close;
  const origin = served.origin.replace('127.0.0.1', 'localhost');

  context = await browser.newContext();
  const page = await context.newPage();
  const failed: string[] = [];
  page.on('response', (response) => {
    if (response.status() >= 400) failed.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  page.on('requestfailed', (request) => failed.push(`failed ${new URL(request.url()).pathname}`));
  // Module scripts run (or fail to load) before the load event goto waits for.
  await page.goto(`${origin}/`);
  const loaded = await page.evaluate(() => window.clientLoaded === true);
  if (!loaded) return { loaded, failed };
  const me = await page.evaluate((credentials) => window.signInAndCallApi(credentials), ALICE);
  return { loaded, failed, me };
}

test("Node's resolution of express-refresh-tokens/client from a user's app finds the built client file", () => {
  expect(clientFile).toBe(path.join(REPO, 'dist', 'browser', 'client', 'index.js'));
});

test("the client's folder under a static route: the page imports index.js from it, signs in and calls a protected route", async () => {
  const result = await signInThrough((app) => {
    app.use('/vendor/express-refresh-tokens', express.static(path.dirname(userRequire.resolve('express-refresh-tokens/client'))));
  }, '/vendor/express-refresh-tokens/index.js');
  expect(result).toEqual({ loaded: true, failed: [], me: { status: 200, userId: USERS.alice?.id } });
});

test('the client file alone on one route: the page imports it, signs in and calls a protected route', async () => {
  const result = await signInThrough((app) => {
    app.get('/auth-client.js', (_req, res) => res.sendFile(userRequire.resolve('express-refresh-tokens/client')));
  }, '/auth-client.js');
  expect(result).toEqual({ loaded: true, failed: [], me: { status: 200, userId: USERS.alice?.id } });
});

test('the built client is one ES module: it imports and re-exports from no other module, and exports the client API', async () => {
  // esbuild parses the file (comments and strings cannot fool it) and lists what it imports and exports.
  const parsed = await build({ entryPoints: [clientFile], bundle: false, write: false, metafile: true, format: 'esm', logLevel: 'silent' });
  const [output] = Object.values(parsed.metafile.outputs);
  expect(output?.imports).toEqual([]);
  expect(output?.exports).toEqual(expect.arrayContaining(['createAuthClient', 'AuthClientError']));
});

test('a bundler takes it by name as it is: esbuild bundles a page script importing express-refresh-tokens/client', async () => {
  const bundled = await build({
    stdin: { contents: "import { createAuthClient } from 'express-refresh-tokens/client';\ncreateAuthClient();\n", resolveDir: userApp },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    logLevel: 'silent',
  });
  expect(bundled.outputFiles[0]?.text).toContain('function createAuthClient');
});
