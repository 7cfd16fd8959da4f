// Step-up in real Chromium: a route that wants a fresh proof answers the RFC 9470 challenge, the client asks the app's onReauthRequired hook, sends POST /auth/reauth and retries the call once; a wrong password or a cancel signs nobody out.
import type { Reauthenticate, SessionEvent } from '../../lib';
import { USERS } from '../support/harness';
import { type ClientSite, closeTestContexts, newTestContext, openClientPage, startClientSite, type TestWindow } from './client-page';

/** The client with the step-up parts the shared fixture type leaves out. */
type StepUpClient = {
  login(credentials: Record<string, unknown>): Promise<unknown>;
  fetch(url: string, init?: { method?: string }): Promise<{ status: number; json(): Promise<unknown> }>;
  reauthenticate(credentials: Record<string, unknown>): Promise<{ userId: string }>;
  getAccessToken(): Promise<string | null>;
  getSession(): { signedIn: boolean } | null;
};
declare const window: Omit<TestWindow, 'createAuthClient'> & {
  createAuthClient(options: { onReauthRequired?: (challenge: Record<string, unknown>) => Promise<Record<string, unknown> | null> }): StepUpClient;
};

const ALICE = { username: 'alice', password: (USERS.alice as { password: string }).password };

const reauthenticate: Reauthenticate = (req, { userId }) => {
  const { password } = req.body as { password?: unknown };
  return userId === 'user-alice' && password === ALICE.password ? { amr: ['pwd'] } : null;
};

let site: ClientSite;
let failures: SessionEvent[] = [];
let sensitiveCalls = 0;

beforeAll(async () => {
  site = await startClientSite(
    60,
    (app, auth) => {
      auth.events.on('reauth_failed', (event) => failures.push(event));
      app.post('/api/sensitive', auth.requireAuth({ maxAge: 1 }), (req, res) => {
        sensitiveCalls += 1;
        res.json({ done: true, reauthTime: req.auth?.payload.reauth_time ?? null });
      });
    },
    { reauthenticate },
  );
});

afterAll(() => site?.close());

beforeEach(() => {
  failures = [];
  sensitiveCalls = 0;
});

afterEach(closeTestContexts);

/** Signs alice in with a client whose hook answers `answers` in turn (then cancels), waits past maxAge, and calls the sensitive route. */
async function sensitiveCallAfter(answers: Array<string | null>) {
  const context = await newTestContext(site.browser);
  const page = await openClientPage(context, `${site.origin}/`);
  return page.evaluate(
    async ({ credentials, answers }) => {
      const asked: Array<Record<string, unknown>> = [];
      const client = window.createAuthClient({
        onReauthRequired: async (challenge) => {
          const previous = challenge.previousError as { code: string; message: string } | undefined;
          asked.push({ reason: challenge.reason, maxAge: challenge.maxAge, previous: previous ? { code: previous.code, message: previous.message } : null });
          const password = answers.shift();
          return password ? { password } : null;
        },
      });
      await client.login(credentials);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const response = await client.fetch('/api/sensitive', { method: 'POST' });
      const me = await client.fetch('/api/me');
      return { status: response.status, body: await response.json(), asked, signedIn: client.getSession()?.signedIn ?? null, meStatus: me.status };
    },
    { credentials: ALICE, answers },
  );
}

test('the hook runs, a wrong password asks again in words, the right one steps up and the original call is retried once and succeeds', async () => {
  const result = await sensitiveCallAfter(['not-the-password', ALICE.password]);
  expect(result.status).toBe(200);
  expect(result.body).toEqual({ done: true, reauthTime: expect.any(Number) });
  expect(sensitiveCalls).toBe(1);
  expect(result.asked).toEqual([
    { reason: 'More recent authentication is required', maxAge: 1, previous: null },
    {
      reason: 'More recent authentication is required',
      maxAge: 1,
      previous: { code: 'invalid_credentials', message: 'That did not confirm it is you. Please try again.' },
    },
  ]);
  expect(failures).toHaveLength(1);
  expect(result.signedIn).toBe(true);
  expect(result.meStatus).toBe(200);
});

test('a wrong password and then a cancel is a clean refusal: the call answers 401, and the user is still signed in', async () => {
  const result = await sensitiveCallAfter(['not-the-password', null]);
  expect(result.status).toBe(401);
  expect(result.body).toEqual({ error: 'insufficient_user_authentication' });
  expect(sensitiveCalls).toBe(0);
  expect(result.asked).toHaveLength(2);
  expect(failures).toHaveLength(1);
  expect(result.signedIn).toBe(true);
  expect(result.meStatus).toBe(200);
});

test('auth.reauthenticate steps up ahead of the call; a wrong password throws invalid_credentials and signs nobody out', async () => {
  const context = await newTestContext(site.browser);
  const page = await openClientPage(context, `${site.origin}/`);
  const result = await page.evaluate(async (credentials) => {
    const client = window.createAuthClient({});
    await client.login(credentials);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const refused = await client.reauthenticate({ password: 'nope' }).then(
      () => null,
      (error: { code: string; status: number }) => ({ code: error.code, status: error.status }),
    );
    const withoutHook = (await client.fetch('/api/sensitive', { method: 'POST' })).status;
    const user = await client.reauthenticate({ password: credentials.password });
    const after = (await client.fetch('/api/sensitive', { method: 'POST' })).status;
    return { refused, withoutHook, userId: user.userId, after, signedIn: client.getSession()?.signedIn ?? null };
  }, ALICE);
  expect(result).toEqual({ refused: { code: 'invalid_credentials', status: 401 }, withoutHook: 401, userId: 'user-alice', after: 200, signedIn: true });
});
