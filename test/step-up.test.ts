// Step-up re-authentication over HTTP: POST /auth/reauth, requireAuth({ maxAge, amr, acr }) and its RFC 9470 challenge, on both stores.
import type { Express } from 'express';
import request from 'supertest';
import type { Auth, Reauthenticate, SessionStore } from '../lib';
import { closeAll, login, me, memoryStore, redisStore, refresh, refreshCookieOf, testApp, USERS } from './support/harness';

afterAll(closeAll);

/** The password of a user, by id. */
const passwordOf = (userId: string): string | undefined => Object.values(USERS).find((user) => user.id === userId)?.password;

/** Checks the password again (`pwd`), or a stand-in for a passkey assertion (`hwk`, class `aal2`). */
const reauthenticate: Reauthenticate = (req, { userId }) => {
  const body = req.body as { password?: unknown; passkey?: unknown };
  if (body.passkey === 'valid-assertion') return { amr: ['hwk', 'user'], acr: 'aal2' };
  return body.password !== undefined && body.password === passwordOf(userId) ? { amr: ['pwd'] } : null;
};

/** An app with step-up on and three sensitive routes. */
function stepUpApp(store: SessionStore, overrides: Parameters<typeof testApp>[1] = {}): { app: Express; auth: Auth } {
  const made = testApp(store, { reauthenticate, ...overrides });
  const { app, auth } = made;
  app.post('/api/password', auth.requireAuth({ maxAge: 1 }), (req, res) => res.json({ changed: true, user: req.auth?.userId }));
  app.post('/api/passkeys', auth.requireAuth({ amr: ['hwk'] }), (_req, res) => res.json({ added: true }));
  app.post('/api/payouts', auth.requireAuth({ acr: ['aal2', 'aal3'], maxAge: '5m' }), (_req, res) => res.json({ paid: true }));
  return made;
}

/** POST /auth/reauth as the browser client sends it. */
function reauth(app: Express, accessToken: string, body: object): request.Test {
  return request(app).post('/auth/reauth').set('X-Requested-With', 'fetch').set('Authorization', `Bearer ${accessToken}`).send(body);
}

/** The payload of a JWT, unverified. */
const payloadOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const stores: Array<[string, () => Promise<SessionStore>]> = [
  ['MemoryStore', async () => memoryStore()],
  ['RedisStore', async () => (await redisStore()).store],
];

describe.each(stores)('step-up (%s)', (_name, makeStore) => {
  test('a proof older than maxAge gets the RFC 9470 challenge; POST /reauth answers a token of the same session that passes, and refreshes keep its time', async () => {
    const { app, auth } = stepUpApp(await makeStore());
    const events: unknown[] = [];
    auth.events.on('reauthenticated', (event) => events.push(event));
    const session = await login(app);
    // Just signed in: the login is the latest proof.
    expect((await request(app).post('/api/password').set('Authorization', `Bearer ${session.accessToken}`)).status).toBe(200);
    await sleep(1100);
    const refused = await request(app).post('/api/password').set('Authorization', `Bearer ${session.accessToken}`);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'insufficient_user_authentication' });
    expect(refused.headers['www-authenticate']).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required", max_age=1',
    );

    const stepped = await reauth(app, session.accessToken, { password: USERS.alice?.password });
    expect(stepped.status).toBe(200);
    expect(stepped.headers['cache-control']).toBe('no-store');
    expect(stepped.headers['set-cookie']).toBeUndefined(); // the refresh cookie is left alone
    expect(Object.keys(stepped.body).sort()).toEqual(['accessToken', 'expiresIn', 'tokenType']);
    const before = payloadOf(session.accessToken);
    const after = payloadOf(stepped.body.accessToken);
    expect(after).toMatchObject({ sid: before.sid, sub: 'user-alice', auth_time: before.auth_time, amr: ['pwd'], role: 'admin' });
    expect(after.reauth_time as number).toBeGreaterThan(before.auth_time as number);
    expect(Math.abs((after.reauth_time as number) * 1000 - Date.now())).toBeLessThan(2000);
    expect(events).toEqual([expect.objectContaining({ userId: 'user-alice', sessionId: before.sid, amr: ['pwd'] })]);
    expect((await request(app).post('/api/password').set('Authorization', `Bearer ${stepped.body.accessToken}`)).status).toBe(200);

    // The refresh after it carries the same step-up: never renewed, so it ages like the first.
    const refreshed = await refresh(app, session.refreshToken);
    expect(refreshed.status).toBe(200);
    const carried = payloadOf(refreshed.body.accessToken);
    expect(carried).toMatchObject({ sid: before.sid, amr: ['pwd'], reauth_time: after.reauth_time, auth_time: before.auth_time });
    await sleep(1100);
    expect((await request(app).post('/api/password').set('Authorization', `Bearer ${refreshed.body.accessToken}`)).status).toBe(401);
  });

  test('a wrong password is a 401 invalid_credentials that signs nobody out: the session refreshes and its token still works', async () => {
    const { app, auth } = stepUpApp(await makeStore());
    const failures: unknown[] = [];
    auth.events.on('reauth_failed', (event) => failures.push(event));
    const session = await login(app);
    const wrong = await reauth(app, session.accessToken, { password: 'not-it' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: 'invalid_credentials' });
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect(failures).toEqual([expect.objectContaining({ userId: 'user-alice', sessionId: payloadOf(session.accessToken).sid })]);
    expect((await me(app, session.accessToken)).status).toBe(200);
    const refreshed = await refresh(app, session.refreshToken);
    expect(refreshed.status).toBe(200);
    expect(payloadOf(refreshed.body.accessToken)).not.toHaveProperty('reauth_time');
  });

  test('amr and acr: a password does not satisfy a route that asks for a hardware key; a passkey does, and says its class', async () => {
    const { app } = stepUpApp(await makeStore());
    const session = await login(app);
    const byPassword = (await reauth(app, session.accessToken, { password: USERS.alice?.password })).body.accessToken as string;
    const refused = await request(app).post('/api/passkeys').set('Authorization', `Bearer ${byPassword}`);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication method is required", amr_values="hwk"',
    );
    const noClass = await request(app).post('/api/payouts').set('Authorization', `Bearer ${byPassword}`);
    expect(noClass.status).toBe(401);
    expect(noClass.headers['www-authenticate']).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required", max_age=300, acr_values="aal2 aal3"',
    );

    const byPasskey = await reauth(app, session.accessToken, { passkey: 'valid-assertion' });
    expect(byPasskey.status).toBe(200);
    expect(payloadOf(byPasskey.body.accessToken)).toMatchObject({ amr: ['hwk', 'user'], acr: 'aal2' });
    expect((await request(app).post('/api/passkeys').set('Authorization', `Bearer ${byPasskey.body.accessToken}`)).status).toBe(200);
    expect((await request(app).post('/api/payouts').set('Authorization', `Bearer ${byPasskey.body.accessToken}`)).status).toBe(200);
  });

  test('the login says how when authenticate does: its tokens carry amr and acr, and no reauth_time', async () => {
    const { app } = stepUpApp(await makeStore(), {
      authenticate: (req) => {
        const body = req.body as { username?: string; password?: string };
        const user = body.username === undefined ? undefined : USERS[body.username];
        return user && user.password === body.password ? { userId: user.id, amr: ['pwd', 'otp'], acr: 'aal2' } : null;
      },
    });
    const session = await login(app);
    const payload = payloadOf(session.accessToken);
    expect(payload).toMatchObject({ amr: ['pwd', 'otp'], acr: 'aal2' });
    expect(payload).not.toHaveProperty('reauth_time');
    expect((await request(app).post('/api/payouts').set('Authorization', `Bearer ${session.accessToken}`)).status).toBe(200);
    expect(payloadOf((await refresh(app, session.refreshToken)).body.accessToken)).toMatchObject({ amr: ['pwd', 'otp'], acr: 'aal2' });
  });

  test('POST /reauth needs the CSRF header and an access token, and refuses a session that ended', async () => {
    const { app, auth } = stepUpApp(await makeStore());
    const session = await login(app);
    const noHeader = await request(app).post('/auth/reauth').set('Authorization', `Bearer ${session.accessToken}`).send({ password: USERS.alice?.password });
    expect(noHeader.status).toBe(403);
    expect(noHeader.body.error).toBe('csrf_rejected');
    const noToken = await request(app).post('/auth/reauth').set('X-Requested-With', 'fetch').send({ password: USERS.alice?.password });
    expect(noToken.status).toBe(401);
    expect(noToken.headers['www-authenticate']).toBe('Bearer realm="api"');
    await auth.revokeSession(payloadOf(session.accessToken).sid as string);
    const ended = await reauth(app, session.accessToken, { password: USERS.alice?.password });
    expect(ended.status).toBe(401);
    expect(ended.body).toEqual({ error: 'invalid_token' });
  });

  test('failed step-ups are throttled per user like failed logins; another user is not held back', async () => {
    const { app } = stepUpApp(await makeStore(), { rateLimit: { login: { max: 3, window: '1m' } } });
    const session = await login(app);
    for (let attempt = 0; attempt < 3; attempt++) expect((await reauth(app, session.accessToken, { password: 'guess' })).status).toBe(401);
    const throttled = await reauth(app, session.accessToken, { password: USERS.alice?.password });
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toMatch(/^\d+$/);
    // Another user of the same address is not throttled.
    const bob = await login(app, 'bob');
    expect((await reauth(app, bob.accessToken, { password: USERS.bob?.password })).status).toBe(200);
  });
});

describe('step-up mistakes are said clearly', () => {
  test('without reauthenticate, POST /reauth is a 404 that says how to turn it on', async () => {
    const { app } = testApp(memoryStore());
    const session = await login(app);
    const res = await reauth(app, session.accessToken, { password: 'x' });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('reauth_not_configured');
    expect(res.body.message).toMatch(/pass `reauthenticate` to createAuth/);
  });

  test('a reauthenticate result that is no proof of identity is a 500 whose cause names the problem; the session goes on', async () => {
    const causes: unknown[] = [];
    const { app } = testApp(memoryStore(), { reauthenticate: () => ({ amr: 'pwd' }) as never });
    app.use(((error, _req, res, _next) => {
      causes.push(error.cause);
      res.status(error.status ?? 500).json({ error: error.code });
    }) as import('express').ErrorRequestHandler);
    const session = await login(app);
    const res = await reauth(app, session.accessToken, { password: 'x' });
    expect(res.status).toBe(500);
    expect(causes[0]).toMatchObject({ code: 'ERR_INVALID_AUTHENTICATE_RESULT' });
    expect((causes[0] as Error).message).toMatch(/^reauthenticate returned the string "pwd" as amr: amr must be an array/);
    expect((await me(app, session.accessToken)).status).toBe(200);
    expect(refreshCookieOf(res)).toBeUndefined();
  });

  test.each([
    [{ maxAge: 'soon' }, /`maxAge` must be a duration from 1 second to 1 day/],
    [{ maxAge: 0 }, /`maxAge` must be a duration/],
    [{ amr: 'hwk' }, /amr must be an array of 1 to 8 RFC 8176 method names/],
    [{ amr: [] }, /amr must be an array/],
    [{ acr: ['has space'] }, /`acr` must be a class name/],
    [{ maxAge: '5m', stepUp: true }, /stepUp/],
  ])('requireAuth(%j) throws at start-up', (options, message) => {
    const { auth } = testApp(memoryStore());
    expect(() => auth.requireAuth(options as never)).toThrow(message);
  });

  test('a custom store without amendSession: POST /reauth is a 500 whose cause names the missing method; the session goes on', async () => {
    const causes: unknown[] = [];
    const bare = memoryStore();
    Object.assign(bare, { amendSession: undefined });
    const { app } = testApp(bare, { reauthenticate });
    app.use(((error, _req, res, _next) => {
      causes.push(error.cause);
      res.status(error.status ?? 500).json({ error: error.code });
    }) as import('express').ErrorRequestHandler);
    const session = await login(app);
    const res = await reauth(app, session.accessToken, { password: USERS.alice?.password });
    expect(res.status).toBe(500);
    expect(causes[0]).toMatchObject({ code: 'ERR_INCOMPATIBLE_OPTIONS' });
    expect((causes[0] as Error).message).toMatch(/^POST \/reauth \(a step-up\) needs the store's `amendSession` method/);
    expect((await me(app, session.accessToken)).status).toBe(200);
  });

  test('createAuth refuses a reauthenticate that is not a function', () => {
    expect(() => testApp(memoryStore(), { reauthenticate: 'yes' as never })).toThrow(/`reauthenticate` must be a function \(req, \{ userId, sessionId \}\)/);
  });
});
