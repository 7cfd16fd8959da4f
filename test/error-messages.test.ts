// What an error tells: never a secret, a token or the cause of a failure, neither in a configuration error,
// nor in an answer (a 503), nor in what a store error hands to the store_error event and the app's error handler.
import { inspect } from 'node:util';
import type express from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { type AuthError, type AuthEventMap, type AuthOptions, createAuth, RedisStore } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import {
  ACCESS_SECRET,
  authOptions,
  closeAll,
  login,
  memoryStore,
  REFRESH_SECRET,
  recordingApp,
  redisStore,
  redisUrl,
  refresh,
  testApp,
  uniquePrefix,
} from './support/harness';
import { sessionIdOfRefreshToken } from './support/tokens';

afterAll(closeAll);

/** A fresh app on its own RedisStore (own key prefix). */
async function redisApp(overrides: Partial<AuthOptions> = {}) {
  const { store, client, prefix } = await redisStore();
  return { ...testApp(store, overrides), client, prefix };
}

/** The message and code createAuth throws for `options` over the harness defaults (the test fails if it accepts them). */
function configurationMessage(options: Record<string, unknown>): string {
  try {
    createAuth({ ...authOptions(memoryStore()), ...options } as never);
  } catch (error) {
    return `${(error as Error).message} ${String((error as { code?: unknown }).code)}`;
  }
  throw new Error('createAuth accepted the options');
}

describe('configuration errors never echo a secret', () => {
  test('secret and key values never appear in configuration errors (short, wrong type, same secret, unreadable PEM, keys entries)', () => {
    const marker = 'SECRET-MARKER-7f3a';
    const messages = [
      configurationMessage({ refreshToken: { secret: `${marker}-short` } }),
      configurationMessage({ accessToken: { algorithm: 'HS256', secret: `${marker}-short`, ttl: '10m' } }),
      configurationMessage({ accessToken: { algorithm: 'HS256', secret: REFRESH_SECRET, ttl: '10m' } }),
      configurationMessage({ accessToken: { algorithm: 'RS256', privateKey: `-----BEGIN PRIVATE KEY-----\n${marker}\n-----END PRIVATE KEY-----` } }),
      configurationMessage({ accessToken: { algorithm: 'RS256', keys: [`${marker}-pem`] } }),
      configurationMessage({ accessToken: { algorithm: 'RS256', keys: `${marker}-pem` } }),
      configurationMessage({ accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: '10m', privateKey: marker } }),
      configurationMessage({ refreshToken: { secret: REFRESH_SECRET, secert: marker } }),
    ];
    for (const message of messages) {
      expect(message).not.toContain(marker);
      expect(message).not.toContain(REFRESH_SECRET);
      expect(message).not.toContain(ACCESS_SECRET);
    }
  });

  // An easy slip (`refreshToken: process.env.REFRESH_SECRET`); start-up crash logs and error trackers keep the message.
  test('a secret passed in place of the refreshToken / accessToken section is not echoed in the error', () => {
    const refreshMessage = configurationMessage({ refreshToken: REFRESH_SECRET });
    const accessMessage = configurationMessage({ accessToken: ACCESS_SECRET });
    expect({ refreshLeaks: refreshMessage.includes(REFRESH_SECRET), accessLeaks: accessMessage.includes(ACCESS_SECRET) }).toEqual({
      refreshLeaks: false,
      accessLeaks: false,
    });
  });

  test('a secret put into a duration option by mistake (swapped env vars) is not echoed in the error', () => {
    const message = configurationMessage({ refreshToken: { secret: REFRESH_SECRET, idleTtl: ACCESS_SECRET } });
    expect(message.includes(ACCESS_SECRET)).toBe(false);
  });
});

describe('a 503 and a store error say nothing of their cause to the client', () => {
  test("a 503 answers exactly {error:'temporarily_unavailable'} with Retry-After, and nothing of its cause", async () => {
    const client = new Redis(redisUrl(), { lazyConnect: true });
    await client.connect();
    const { auth } = testApp(new RedisStore({ client, prefix: uniquePrefix(), commandTimeoutMs: 1000 }), { rateLimit: false });
    const { app, errors } = recordingApp(auth);
    await auth.ready(); // the feed loaded and subscribed while the client was open
    await client.quit();
    const res = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(503);
    expect(res.text).toBe('{"error":"temporarily_unavailable"}');
    expect(res.headers['retry-after']).toBeDefined();
    const err = errors.at(-1) as AuthError;
    const cause = err.cause as Error & { code?: string };
    expect(cause.code).toMatch(/^ERR_/);
    const everything = `${res.text} ${JSON.stringify(res.headers)}`;
    expect(everything).not.toContain(cause.message);
    expect(everything).not.toContain(cause.code as string);
    expect(everything).not.toContain('alice-password');
    await auth.close();
  });

  test('a Redis error reply during refresh answers 503, keeps the cookie, and neither the event nor the error carries the token', async () => {
    const { app, auth, client, prefix } = await redisApp();
    const errors: Array<AuthEventMap['store_error'][0]> = [];
    auth.events.on('store_error', (event) => errors.push(event));
    let passedOn: unknown;
    app.use((error: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
      passedOn = error;
      next(error);
    });
    const { refreshToken } = await login(app);
    const sessionKey = redisKeys(prefix).session(sessionIdOfRefreshToken(refreshToken));
    await client.del(sessionKey);
    await client.hset(sessionKey, 'not', 'a string'); // WRONGTYPE inside PRESENT_TOKEN
    await client.pexpire(sessionKey, 60_000);
    const res = await refresh(app, refreshToken);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'temporarily_unavailable' });
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(errors).toHaveLength(1);
    const [, , secret, mac] = refreshToken.split('.') as [string, string, string, string];
    for (const dumped of [inspect(errors, { depth: Infinity, showHidden: true }), inspect(passedOn, { depth: Infinity, showHidden: true })]) {
      expect(dumped).toMatch(/WRONGTYPE/); // the cause chain, with ioredis' command arguments, is in there
      expect(dumped).not.toContain(secret);
      expect(dumped).not.toContain(mac);
    }
  });
});
