// Refresh families bound to a key the client holds (DPoP, RFC 9449), over HTTP with a WebCrypto client: a copied cookie refreshes nothing and signs nobody out.
import type { Express } from 'express';
import request from 'supertest';
import { type AuthOptions, type BindingFailedEvent, createAuth, type SessionStore } from '../lib';
import { createDpopKey, type DpopClientKey, dpopProof } from './support/dpop-client';
import { COOKIE, closeAll, me, memoryStore, redisStore, refreshCookieOf, testApp, USERS } from './support/harness';

afterAll(closeAll);

const LOGIN = '/auth/login';
const REFRESH = '/auth/refresh';
const LOGOUT = '/auth/logout';

/** Where a proof says it goes: the path alone is checked unless the app sets `origin`. */
const htuOf = (path: string, origin = 'http://127.0.0.1'): string => `${origin}${path}`;

interface Client {
  key: DpopClientKey;
  cookie: string;
  nonce: string | undefined;
  accessToken: string;
}

/** A test app, its binding events, and its store's kind. */
function boundApp(store: SessionStore, overrides: Partial<AuthOptions> = {}): { app: Express; failures: BindingFailedEvent[]; reuses: unknown[] } {
  const { app, auth } = testApp(store, overrides);
  const failures: BindingFailedEvent[] = [];
  const reuses: unknown[] = [];
  auth.events.on('binding_failed', (event) => failures.push(event));
  auth.events.on('reuse_detected', (event) => reuses.push(event));
  return { app, failures, reuses };
}

/** Logs alice in with a proof by `key` (a fresh Ed25519 key by default). */
async function boundLogin(app: Express, key?: DpopClientKey, origin?: string): Promise<Client> {
  const proofKey = key ?? (await createDpopKey());
  const res = await request(app)
    .post(LOGIN)
    .set('X-Requested-With', 'fetch')
    .set('DPoP', await dpopProof(proofKey, { htm: 'POST', htu: htuOf(LOGIN, origin) }))
    .send({ username: 'alice', password: USERS.alice?.password });
  expect(res.status).toBe(200);
  return { key: proofKey, cookie: refreshCookieOf(res) as string, nonce: res.headers['dpop-nonce'], accessToken: res.body.accessToken };
}

/** POSTs `path` with the client's cookie and, unless `proof` is null, a proof (by default: the client's key, its nonce). */
async function send(app: Express, path: string, client: Client, proof?: string | null, userAgent = 'jest'): Promise<request.Response> {
  const req = request(app).post(path).set('X-Requested-With', 'fetch').set('User-Agent', userAgent).set('Cookie', `${COOKIE}=${client.cookie}`);
  const header = proof === undefined ? await dpopProof(client.key, { htm: 'POST', htu: htuOf(path), nonce: client.nonce }) : proof;
  return header === null ? req : req.set('DPoP', header);
}

/** Refreshes as the client does, and takes what the answer hands it. */
async function clientRefresh(app: Express, client: Client): Promise<request.Response> {
  const res = await send(app, REFRESH, client);
  expect(res.status).toBe(200);
  client.cookie = refreshCookieOf(res) as string;
  client.nonce = res.headers['dpop-nonce'];
  client.accessToken = res.body.accessToken;
  return res;
}

/** A refused proof: 401 with its code, a DPoP challenge, and no cookie set or cleared. */
function expectProofRefused(res: request.Response, code: 'invalid_dpop_proof' | 'use_dpop_nonce' = 'invalid_dpop_proof'): void {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ error: code });
  expect(res.headers['www-authenticate']).toBe(`DPoP error="${code}", algs="EdDSA ES256"`);
}

const stores: Array<[string, () => Promise<SessionStore>]> = [
  ['MemoryStore', async () => memoryStore()],
  ['RedisStore', async () => (await redisStore()).store],
];

describe.each(stores)('bound families (%s)', (_name, makeStore) => {
  test('a login with a proof is bound: every answer hands out the next nonce, and refreshes with proofs go on', async () => {
    const { app } = boundApp(await makeStore());
    const client = await boundLogin(app);
    expect(client.cookie.split('.')).toHaveLength(5); // the key's thumbprint rides in the MAC'd token
    expect(client.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const firstNonce = client.nonce;
    await clientRefresh(app, client);
    expect(client.nonce).not.toBe(firstNonce); // one nonce per token
    await clientRefresh(app, client);
    expect((await me(app, client.accessToken)).status).toBe(200);
  });

  test('the copied cookie without the key: 401, nothing cleared, not revoked; its owner goes on refreshing', async () => {
    const { app, failures, reuses } = boundApp(await makeStore());
    const victim = await boundLogin(app);
    const thief = { ...victim, key: await createDpopKey() };
    const noProof = await send(app, REFRESH, victim, null);
    expectProofRefused(noProof);
    expect(noProof.headers['dpop-nonce']).toBe(victim.nonce);
    expect(noProof.headers['set-cookie']).toBeUndefined();
    expectProofRefused(await send(app, REFRESH, thief));
    expectProofRefused(await send(app, LOGOUT, thief));
    expect(failures.map((event) => [event.operation, event.reason])).toEqual([
      ['refresh', 'missing'],
      ['refresh', 'wrong_key'],
      ['logout', 'wrong_key'],
    ]);
    await clientRefresh(app, victim);
    expect(reuses).toEqual([]);
  });

  test("a captured proof replayed with the victim's old cookie after the victim rotated is refused, inside the grace window and after it", async () => {
    const { app, reuses } = boundApp(await makeStore(), { refreshToken: { secret: 'r'.repeat(43), reuseGrace: '1s' } });
    const victim = await boundLogin(app);
    const capturedCookie = victim.cookie;
    const capturedProof = await dpopProof(victim.key, { htm: 'POST', htu: htuOf(REFRESH), nonce: victim.nonce });
    const rotated = await send(app, REFRESH, victim, capturedProof);
    expect(rotated.status).toBe(200);
    victim.cookie = refreshCookieOf(rotated) as string;
    victim.nonce = rotated.headers['dpop-nonce'];
    const replay = () => send(app, REFRESH, { ...victim, cookie: capturedCookie }, capturedProof);
    expect((await replay()).status).toBe(401); // inside the window: the very proof that rotated
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await replay()).status).toBe(401); // after it: still no revocation
    expect(reuses).toEqual([]);
    await clientRefresh(app, victim);
  });

  test('a proof captured before a rotation does not serve the next token: use_dpop_nonce, with the right nonce', async () => {
    const { app } = boundApp(await makeStore());
    const client = await boundLogin(app);
    const oldNonce = client.nonce;
    await clientRefresh(app, client);
    const stale = await send(app, REFRESH, client, await dpopProof(client.key, { htm: 'POST', htu: htuOf(REFRESH), nonce: oldNonce }));
    expectProofRefused(stale, 'use_dpop_nonce');
    expect(stale.headers['dpop-nonce']).toBe(client.nonce);
    await clientRefresh(app, client);
  });

  test('the grace window answers the key holder from another address and browser: same successor, no reuse', async () => {
    const { app, reuses } = boundApp(await makeStore());
    const client = await boundLogin(app);
    const before = { ...client };
    const first = await clientRefresh(app, client);
    // the answer was lost: the client retries with its old cookie and nonce, a fresh proof, from elsewhere
    const retry = await send(app, REFRESH, before, undefined, 'Mozilla/5.0 (another network, another browser build)');
    expect(retry.status).toBe(200);
    expect(refreshCookieOf(retry)).toBe(refreshCookieOf(first));
    expect(retry.headers['dpop-nonce']).toBe(client.nonce);
    expect(reuses).toEqual([]);
  });

  test('proofs naming another request, too old, or not signed by their key are refused', async () => {
    const { app, failures } = boundApp(await makeStore());
    const client = await boundLogin(app);
    const proof = (claims: Partial<Parameters<typeof dpopProof>[1]>) =>
      dpopProof(client.key, { htm: 'POST', htu: htuOf(REFRESH), nonce: client.nonce, ...claims });
    expectProofRefused(await send(app, REFRESH, client, await proof({ htu: htuOf('/auth/elsewhere') })));
    expectProofRefused(await send(app, REFRESH, client, await proof({ htm: 'GET' })));
    expectProofRefused(await send(app, REFRESH, client, await proof({ iat: Math.floor(Date.now() / 1000) - 3600 })));
    const valid = await proof({});
    const [header, payload] = valid.split('.');
    const other = (await proof({ jti: 'another' })).split('.')[2];
    expectProofRefused(await send(app, REFRESH, client, `${header}.${payload}.${other}`));
    expectProofRefused(await send(app, REFRESH, client, 'not.a.proof'));
    expect(failures.map((event) => event.reason)).toEqual(['wrong_uri', 'wrong_method', 'stale', 'bad_signature', 'malformed']);
    await clientRefresh(app, client);
  });

  test('a forged cookie with a valid proof is refused by its MAC, before any proof is looked at', async () => {
    const { app, failures } = boundApp(await makeStore());
    const client = await boundLogin(app);
    const forged = `${client.cookie.slice(0, -3)}AAA`;
    const res = await send(app, REFRESH, { ...client, cookie: forged });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_refresh_token' });
    expect(failures).toEqual([]);
  });

  test('logout ends a bound family only with its proof', async () => {
    const { app } = boundApp(await makeStore());
    const client = await boundLogin(app);
    expectProofRefused(await send(app, LOGOUT, client, null));
    await clientRefresh(app, client); // alive
    expect((await send(app, LOGOUT, client)).status).toBe(204);
    expect((await send(app, REFRESH, client)).status).toBe(401);
  });

  test('an ECDSA P-256 key binds as well as Ed25519', async () => {
    const { app } = boundApp(await makeStore());
    const client = await boundLogin(app, await createDpopKey('ES256'));
    await clientRefresh(app, client);
    await clientRefresh(app, client);
  });
});

describe.each(stores)('a client without cookies: the refresh token in the body, only when bound (%s)', (_name, makeStore) => {
  /** A native app's login: a proof, and `tokenTransport: 'body'`; no CSRF header (no cookie is involved). */
  async function nativeLogin(app: Express, key: DpopClientKey): Promise<{ res: request.Response; client: Client }> {
    const res = await request(app)
      .post(LOGIN)
      .set('X-Requested-With', 'fetch')
      .set('DPoP', await dpopProof(key, { htm: 'POST', htu: htuOf(LOGIN) }))
      .send({ username: 'alice', password: USERS.alice?.password, tokenTransport: 'body' });
    return { res, client: { key, cookie: res.body.refreshToken, nonce: res.headers['dpop-nonce'], accessToken: res.body.accessToken } };
  }

  /** POSTs `path` as a native app: the token in a JSON body, a proof, no cookie, no CSRF header. */
  async function nativeSend(app: Express, path: string, client: Client, proof?: string | null): Promise<request.Response> {
    const req = request(app).post(path).send({ refreshToken: client.cookie });
    const header = proof === undefined ? await dpopProof(client.key, { htm: 'POST', htu: htuOf(path), nonce: client.nonce }) : proof;
    return header === null ? req : req.set('DPoP', header);
  }

  test('login, refresh and logout carry the token in JSON, set no cookie, and need no CSRF header', async () => {
    const { app } = boundApp(await makeStore());
    const { res, client } = await nativeLogin(app, await createDpopKey());
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(client.cookie.split('.')).toHaveLength(5);
    for (let round = 0; round < 2; round++) {
      const refreshed = await nativeSend(app, REFRESH, client);
      expect(refreshed.status).toBe(200);
      expect(refreshed.headers['set-cookie']).toBeUndefined();
      expect(refreshed.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: expect.any(Number), refreshToken: expect.any(String) });
      expect(refreshed.body.refreshToken).not.toBe(client.cookie);
      client.cookie = refreshed.body.refreshToken;
      client.nonce = refreshed.headers['dpop-nonce'];
      expect((await me(app, refreshed.body.accessToken)).status).toBe(200);
    }
    const sessions = await request(app).get('/auth/sessions').set('Authorization', `Bearer ${client.accessToken}`);
    expect(sessions.status).toBe(200);
    expect(sessions.body.sessions).toEqual([expect.objectContaining({ current: true, bound: true })]);
    const out = await nativeSend(app, LOGOUT, client);
    expect(out.status).toBe(204);
    expect(out.headers['set-cookie']).toBeUndefined();
    expect((await nativeSend(app, REFRESH, client)).status).toBe(401);
  });

  test('rotation and reuse detection as for cookies: an earlier token, with a valid proof, after the grace window revokes the family', async () => {
    const { app, reuses } = boundApp(await makeStore(), { refreshToken: { secret: 'r'.repeat(43), reuseGrace: 0 } });
    const { client } = await nativeLogin(app, await createDpopKey());
    const earlier = { ...client };
    const refreshed = await nativeSend(app, REFRESH, client);
    client.cookie = refreshed.body.refreshToken;
    client.nonce = refreshed.headers['dpop-nonce'];
    // the earlier token comes back (a restored backup of the app's storage), with a fresh proof by the key
    expect((await nativeSend(app, REFRESH, earlier)).status).toBe(401);
    expect(reuses).toHaveLength(1);
    expect((await nativeSend(app, REFRESH, client)).status).toBe(401); // the family is gone
  });

  test('the body takes no unbound token and no token without its proof; a login asks for the body only with a proof', async () => {
    const { app, failures } = boundApp(await makeStore());
    const { client } = await nativeLogin(app, await createDpopKey());
    expectProofRefused(await nativeSend(app, REFRESH, client, null));
    expect(failures.map((event) => event.reason)).toEqual(['missing']);
    // a browser's unbound cookie token moved into a body counts for nothing
    const unbound = await request(app).post(LOGIN).set('X-Requested-With', 'fetch').send({ username: 'alice', password: USERS.alice?.password });
    const moved = await request(app)
      .post(REFRESH)
      .send({ refreshToken: refreshCookieOf(unbound) });
    expect(moved.status).toBe(401);
    expect(moved.body).toEqual({ error: 'invalid_refresh_token' });
    expect(
      (
        await request(app)
          .post(REFRESH)
          .set('X-Requested-With', 'fetch')
          .set('Cookie', `${COOKIE}=${refreshCookieOf(unbound)}`)
      ).status,
    ).toBe(200);
    const noProof = await request(app)
      .post(LOGIN)
      .set('X-Requested-With', 'fetch')
      .send({ username: 'alice', password: USERS.alice?.password, tokenTransport: 'body' });
    expect(noProof.status).toBe(400);
    expect(noProof.body.message).toMatch(/tokenTransport 'body' needs a session bound to a device key/);
    const odd = await request(app)
      .post(LOGIN)
      .set('X-Requested-With', 'fetch')
      .send({ username: 'alice', password: USERS.alice?.password, tokenTransport: 'header' });
    expect(odd.status).toBe(400);
    // the token still refreshes after all that
    expect((await nativeSend(app, REFRESH, client)).status).toBe(200);
  });

  test('a request holding the refresh cookie is a cookie request: its JSON body changes nothing and the CSRF check applies', async () => {
    const { app } = boundApp(await makeStore());
    const browser = await boundLogin(app);
    const { client } = await nativeLogin(app, await createDpopKey());
    const mixed = await request(app)
      .post(REFRESH)
      .set('Cookie', `${COOKIE}=${browser.cookie}`)
      .set('DPoP', await dpopProof(client.key, { htm: 'POST', htu: htuOf(REFRESH), nonce: client.nonce }))
      .send({ refreshToken: client.cookie });
    expect(mixed.status).toBe(403);
    expect(mixed.body.error).toBe('csrf_rejected');
  });
});

describe('binding modes and the origin option', () => {
  test("'prefer' (the default) accepts a login without a proof: an unbound family, listed as such", async () => {
    const { app } = boundApp(memoryStore());
    const res = await request(app).post(LOGIN).set('X-Requested-With', 'fetch').send({ username: 'alice', password: USERS.alice?.password });
    expect(res.status).toBe(200);
    expect((refreshCookieOf(res) as string).split('.')).toHaveLength(4);
    expect(res.headers['dpop-nonce']).toBeUndefined();
    const bound = await boundLogin(app);
    const listed = await request(app).get('/auth/sessions').set('Authorization', `Bearer ${res.body.accessToken}`);
    expect(listed.body.sessions.map((session: { current: boolean; bound: boolean }) => [session.current, session.bound])).toEqual(
      expect.arrayContaining([
        [true, false],
        [false, true],
      ]),
    );
    expect(bound.cookie.split('.')).toHaveLength(5);
  });

  test("'require' refuses a login without a proof, and the refresh of a family bound to nothing", async () => {
    const store = memoryStore();
    const { app, failures } = boundApp(store, { refreshToken: { secret: 'r'.repeat(43), binding: 'require' } });
    const { app: preferring } = boundApp(store, { refreshToken: { secret: 'r'.repeat(43) } });
    const unbound = await request(preferring).post(LOGIN).set('X-Requested-With', 'fetch').send({ username: 'alice', password: USERS.alice?.password });
    expect(unbound.status).toBe(200);
    expectProofRefused(await request(app).post(LOGIN).set('X-Requested-With', 'fetch').send({ username: 'alice', password: USERS.alice?.password }));
    const refreshed = await request(app)
      .post(REFRESH)
      .set('X-Requested-With', 'fetch')
      .set('Cookie', `${COOKIE}=${refreshCookieOf(unbound)}`);
    expectProofRefused(refreshed);
    expect(failures.map((event) => [event.operation, event.reason])).toEqual([
      ['login', 'missing'],
      ['refresh', 'unbound'],
    ]);
    await clientRefresh(app, await boundLogin(app));
  });

  test("'off' binds no new family, and still asks a family bound earlier for its proof", async () => {
    const store = memoryStore();
    const { app: binding } = boundApp(store, { refreshToken: { secret: 'r'.repeat(43) } });
    const earlier = await boundLogin(binding);
    const { app } = boundApp(store, { refreshToken: { secret: 'r'.repeat(43), binding: 'off' } });
    const fresh = await boundLogin(app);
    expect(fresh.cookie.split('.')).toHaveLength(4);
    expect(fresh.nonce).toBeUndefined();
    expectProofRefused(await send(app, REFRESH, earlier, null));
    await clientRefresh(app, earlier);
  });

  test('with `origin`, a proof must name it; the Host header does not count', async () => {
    const { app } = boundApp(memoryStore(), { origin: 'https://app.example' });
    const client = await boundLogin(app, undefined, 'https://app.example');
    const elsewhere = await dpopProof(client.key, { htm: 'POST', htu: htuOf(REFRESH, 'https://evil.example'), nonce: client.nonce });
    expectProofRefused(await send(app, REFRESH, client, elsewhere));
    const hostNamed = await dpopProof(client.key, { htm: 'POST', htu: htuOf(REFRESH), nonce: client.nonce });
    expectProofRefused(await send(app, REFRESH, client, hostNamed));
    const named = await dpopProof(client.key, { htm: 'POST', htu: htuOf(REFRESH, 'https://app.example'), nonce: client.nonce });
    expect((await send(app, REFRESH, client, named)).status).toBe(200);
  });

  test('a login holding a bound cookie ends that family only when it proves the same key', async () => {
    const { app } = boundApp(memoryStore());
    const first = await boundLogin(app);
    const relogin = async (key: DpopClientKey) =>
      request(app)
        .post(LOGIN)
        .set('X-Requested-With', 'fetch')
        .set('Cookie', `${COOKIE}=${first.cookie}`)
        .set('DPoP', await dpopProof(key, { htm: 'POST', htu: htuOf(LOGIN) }))
        .send({ username: 'alice', password: USERS.alice?.password });
    expect((await relogin(await createDpopKey())).status).toBe(200);
    await clientRefresh(app, first); // another key's login left it alone
    expect((await relogin(first.key)).status).toBe(200);
    expect((await send(app, REFRESH, first)).status).toBe(401); // the same key's login ended it
  });

  test('bad options say how to fix them', () => {
    const base = { ...boundOptions() };
    expect(() => createAuth({ ...base, refreshToken: { secret: 'r'.repeat(43), binding: 'always' as never } })).toThrow(
      /refreshToken\.binding.*'off', 'prefer' or 'require'/,
    );
    expect(() => createAuth({ ...base, origin: 'https://app.example/path' })).toThrow(/origin.*public origin/);
    expect(() => createAuth({ ...base, origin: 'app.example' })).toThrow(/origin/);
  });
});

/** Valid options around a memory store, for option checks. */
function boundOptions(): AuthOptions {
  return {
    store: memoryStore(),
    accessToken: { algorithm: 'HS256', secret: 'a'.repeat(43) },
    refreshToken: { secret: 'r'.repeat(43) },
    authenticate: () => null,
    logger: false,
  };
}
