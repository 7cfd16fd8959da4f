// express-refresh-tokens/verifier in one process beside an auth service on the same Redis: its tokens accepted by keys, secret or JWKS, revocations refused at once, no Redis command per request, clear option errors.
import { generateKeyPairSync } from 'node:crypto';
import type { Server } from 'node:http';
import express, { type Express } from 'express';
import type Redis from 'ioredis';
import request from 'supertest';
import { type Auth, createAuth, RedisStore } from '../lib';
import { createVerifier, type Verifier, type VerifierOptions } from '../lib/verifier';
import { authOptions, closeAll, login, redisClient, refresh, uniquePrefix } from './support/harness';
import { recordWarnings, stopRecordingWarnings } from './support/process-warnings';

const verifiers: Verifier[] = [];
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(verifiers.splice(0).map((verifier) => verifier.close()));
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await closeAll();
});

const ES256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** An auth service on Redis (ES256, kid 'k1', the JWKS served), and the app's listening origin. */
async function authService(prefix: string, client: Redis): Promise<{ auth: Auth; app: Express; origin: string }> {
  const auth = createAuth(
    authOptions(new RedisStore({ client, prefix }), {
      accessToken: { algorithm: 'ES256', keys: [{ kid: 'k1', privateKey: ES256.privateKey }], issuer: 'https://auth.test', ttl: '10m' },
      revocation: { maxStaleness: '1s' },
    }),
  );
  const app = express();
  app.use('/auth', auth.router);
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  servers.push(server);
  const address = server.address() as { port: number };
  await auth.ready();
  return { auth, app, origin: `http://127.0.0.1:${address.port}` };
}

/** A resource service: its own Redis connection, a verifier, and GET /orders behind it. */
async function resourceService(
  options: Partial<VerifierOptions> & Pick<VerifierOptions, 'revocation'>,
  prefix: string,
): Promise<{ app: Express; verifier: Verifier; client: Redis }> {
  const client = await redisClient();
  const verifier = createVerifier({
    keys: [{ kid: 'k1', publicKey: ES256.publicKey }],
    algorithms: ['ES256'],
    issuer: 'https://auth.test',
    redis: { client, prefix },
    ...options,
  } as VerifierOptions);
  verifiers.push(verifier);
  await verifier.ready();
  const app = express();
  app.get('/orders', verifier.requireAuth(), (req, res) => res.json({ for: req.auth?.userId, session: req.auth?.sessionId, claims: req.auth?.claims }));
  app.post('/orders/:id/cancel', verifier.requireAuth({ maxAge: 1 }), (_req, res) => res.json({ cancelled: true }));
  app.get('/health', verifier.healthHandler());
  return { app, verifier, client };
}

const orders = (app: Express, token: string) => request(app).get('/orders').set('Authorization', `Bearer ${token}`);

/** Polls until `app` refuses `token` (401 invalid_token), or fails after `ms`. */
async function refusedWithin(app: Express, token: string, ms: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await orders(app, token);
    if (res.status === 401) {
      expect(res.body).toEqual({ error: 'invalid_token' });
      return Date.now() - started;
    }
    expect(res.status).toBe(200);
    if (Date.now() - started > ms) throw new Error(`still accepted after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a resource service verifying the auth service tokens', () => {
  test('accepts them as requireAuth does (req.auth typed the same), and refuses each revocation of the auth service at once: revokeSession, reuse, revokeUser, updateClaims immediate', async () => {
    const prefix = uniquePrefix();
    const { auth, app: authApp } = await authService(prefix, await redisClient());
    const { app } = await resourceService({ revocation: { feedKey: auth.revocationFeedKey(), maxStaleness: '1s' } }, prefix);

    const first = await login(authApp);
    const accepted = await orders(app, first.accessToken);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ for: 'user-alice', claims: { role: 'admin' } });
    await auth.revokeSession(accepted.body.session);
    expect(await refusedWithin(app, first.accessToken, 1000)).toBeLessThan(1000);

    // Reuse detection: the family's access tokens are refused here too.
    const second = await login(authApp);
    expect((await refresh(authApp, second.refreshToken)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Outside the grace window from another client: presenting the previous token again is reuse.
    const replay = await request(authApp)
      .post('/auth/refresh')
      .set('X-Requested-With', 'fetch')
      .set('User-Agent', 'thief')
      .set('Cookie', `__Host-refresh=${second.refreshToken}`);
    expect(replay.status).toBe(401);
    expect(await refusedWithin(app, second.accessToken, 1000)).toBeLessThan(1000);

    const third = await login(authApp, 'bob');
    expect((await orders(app, third.accessToken)).status).toBe(200);
    await auth.revokeUser('user-bob');
    expect(await refusedWithin(app, third.accessToken, 1000)).toBeLessThan(1000);

    const fourth = await login(authApp);
    await auth.updateClaims('user-alice', { role: 'reader' }, { immediate: true });
    expect(await refusedWithin(app, fourth.accessToken, 1000)).toBeLessThan(1000);
  });

  test('with jwksUri it fetches the keys from the auth service; with secret it checks HS256 tokens', async () => {
    const prefix = uniquePrefix();
    const { auth, app: authApp, origin } = await authService(prefix, await redisClient());
    const { app, verifier } = await resourceService(
      { keys: undefined, jwksUri: `${origin}/auth/.well-known/jwks.json`, revocation: { feedKey: auth.revocationFeedKey() } } as unknown as VerifierOptions,
      prefix,
    );
    const session = await login(authApp);
    expect((await orders(app, session.accessToken)).status).toBe(200);
    expect(verifier.health().status).toBe('pass');

    const hsPrefix = uniquePrefix();
    const secret = 'a-shared-secret-of-at-least-32-bytes!!';
    const hsAuth = createAuth(authOptions(new RedisStore({ client: await redisClient(), prefix: hsPrefix }), { accessToken: { algorithm: 'HS256', secret } }));
    const hsApp = express().use('/auth', hsAuth.router);
    await hsAuth.ready();
    const hs = await resourceService(
      { keys: undefined, secret, algorithms: ['HS256'], issuer: undefined, revocation: { feedKey: hsAuth.revocationFeedKey() } } as unknown as VerifierOptions,
      hsPrefix,
    );
    const hsSession = await login(hsApp);
    expect((await orders(hs.app, hsSession.accessToken)).status).toBe(200);
    // A token of the ES256 service is refused by the HS256 verifier (algorithm pinned).
    expect((await orders(hs.app, session.accessToken)).status).toBe(401);
    await hsAuth.close();
  });

  test('sends no Redis command per request: 500 protected requests, only its heartbeats go out', async () => {
    const prefix = uniquePrefix();
    const { auth, app: authApp } = await authService(prefix, await redisClient());
    const { app, client } = await resourceService({ revocation: { feedKey: auth.revocationFeedKey(), maxStaleness: '1s' } }, prefix);
    const session = await login(authApp);
    expect((await orders(app, session.accessToken)).status).toBe(200);
    // Every command Redis receives, with the address of the connection that sent it.
    const monitor = await (await redisClient()).monitor();
    const seen: Array<{ source: string; command: string }> = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ source, command: String(args[0]).toLowerCase() }));
    const verifierAddress = `127.0.0.1:${(client as unknown as { stream: { localPort: number } }).stream.localPort}`;
    const started = performance.now();
    for (let batch = 0; batch < 50; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => orders(app, session.accessToken)));
      for (const res of answers) expect(res.status).toBe(200);
    }
    const elapsed = performance.now() - started;
    monitor.disconnect();
    const fromVerifier = seen.filter((entry) => entry.source === verifierAddress);
    // Only heartbeats (one script a beat, every 250 ms with maxStaleness 1 s), whatever the traffic.
    expect(fromVerifier.every((entry) => entry.command === 'evalsha')).toBe(true);
    expect(fromVerifier.length).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 2);
    expect(seen.length).toBeGreaterThan(0); // the monitor did see the auth service's and the feeds' traffic
  });

  test('answers the step-up challenge like requireAuth; with a wrong feed key it says so and still misses no revocation', async () => {
    const prefix = uniquePrefix();
    const { auth, app: authApp } = await authService(prefix, await redisClient());
    const { app } = await resourceService({ revocation: { feedKey: auth.revocationFeedKey(), maxStaleness: '1s' } }, prefix);
    const session = await login(authApp);
    expect((await request(app).post('/orders/1/cancel').set('Authorization', `Bearer ${session.accessToken}`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const stepUp = await request(app).post('/orders/1/cancel').set('Authorization', `Bearer ${session.accessToken}`);
    expect(stepUp.status).toBe(401);
    expect(stepUp.headers['www-authenticate']).toMatch(/error="insufficient_user_authentication".*max_age=1$/);

    // A wrong feed key: the verifier cannot authenticate the auth service's messages; it says so, and
    // revocations still reach it through reloads of the log (the gap in their numbers), never missed.
    const warnings = recordWarnings('ERT_FEED_MESSAGE_UNAUTHENTICATED');
    try {
      const wrong = await resourceService({ revocation: { feedKey: 'B'.repeat(43), maxStaleness: '1s' } }, prefix);
      const other = await login(authApp, 'bob');
      expect((await orders(wrong.app, other.accessToken)).status).toBe(200);
      await auth.revokeUser('user-bob');
      expect(await refusedWithin(wrong.app, other.accessToken, 2000)).toBeLessThan(2000);
      expect(warnings[0]).toMatch(/revocation\.feedKey must be the auth service's auth\.revocationFeedKey\(\)/);
    } finally {
      stopRecordingWarnings();
    }
  });
});

describe('verifier.close()', () => {
  test('stops its feed (its subscriber connection goes, no heartbeat after) and leaves the Redis client it was given open', async () => {
    const prefix = uniquePrefix();
    const { auth } = await authService(prefix, await redisClient());
    const { verifier, client } = await resourceService({ revocation: { feedKey: auth.revocationFeedKey(), maxStaleness: '1s' } }, prefix);
    const admin = await redisClient();
    const subscribers = async (): Promise<number> =>
      String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))
        .split('\n')
        .filter(Boolean).length;
    const before = await subscribers();
    await verifier.close();
    await verifier.close(); // a second call is the same close
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await subscribers()).toBe(before - 1);
    // The last command on the client it was given is ours from now on: no heartbeat follows it.
    await client.client('SETNAME', 'verifier-under-test');
    const sent = async (): Promise<string> =>
      /cmd=([^ ]+)/.exec(
        String(await admin.call('CLIENT', 'LIST'))
          .split('\n')
          .find((line) => line.includes('name=verifier-under-test')) ?? '',
      )?.[1] ?? '';
    expect(await sent()).toBe('client|setname');
    await new Promise((resolve) => setTimeout(resolve, 600)); // past two heartbeats (every 250 ms with maxStaleness 1 s)
    expect(await sent()).toBe('client|setname'); // nothing sent on it since
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
  });
});

describe('createVerifier says how to fix a wrong option', () => {
  const base = (client: Redis): VerifierOptions => ({
    keys: [{ kid: 'k1', publicKey: ES256.publicKey }],
    algorithms: ['ES256'],
    redis: { client },
    revocation: { feedKey: 'A'.repeat(43) },
  });
  test.each<[string, (options: VerifierOptions) => unknown, RegExp]>([
    ['no key source', (o) => ({ ...o, keys: undefined }), /pass exactly one of `jwksUri`, `keys` and `secret`; received none/],
    ['two key sources', (o) => ({ ...o, secret: 'x'.repeat(40) }), /received keys and secret/],
    ['algorithm none', (o) => ({ ...o, algorithms: ['none'] }), /`algorithms` must be a non-empty array of .* \(never 'none'\)/],
    ['a plain-http JWKS on another host', (o) => ({ ...o, keys: undefined, jwksUri: 'http://auth.example/jwks.json' }), /`jwksUri` must be an https URL/],
    [
      'a feed key that is not one',
      (o) => ({ ...o, revocation: { feedKey: 'short' } }),
      /`revocation.feedKey` must be what the auth service's `auth.revocationFeedKey\(\)` returns/,
    ],
    ['a prefix with braces', (o) => ({ ...o, redis: { ...o.redis, prefix: '{x}' } }), /^createVerifier: `redis.prefix` must not contain '\{' or '\}'/],
    ['an unknown option', (o) => ({ ...o, jwks: 'x' }), /jwks/],
    ['a key that does not fit', (o) => ({ ...o, algorithms: ['RS256'] }), /publicKey/],
  ])('%s', async (_name, change, message) => {
    const client = await redisClient();
    expect(() => createVerifier(change(base(client)) as VerifierOptions)).toThrow(message);
  });
});
