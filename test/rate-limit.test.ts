// Login and refresh throttling (lib/rate-limit.ts) in front of stub handlers, on express-rate-limit's memory store and on real Redis (single node and Cluster).
import { createSecretKey, randomBytes } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import Redis, { type Cluster } from 'ioredis';
import request from 'supertest';
import { createAuthEvents } from '../lib/events';
import { toAuthError } from '../lib/http/error-handling';
import { createRateLimiters, normaliseUsername, type RateLimiters } from '../lib/http/rate-limit';
import { jsonObjectBody } from '../lib/http/request-body';
import { RATE_LIMIT_DEFAULTS, type ResolvedRateLimit, resolveRateLimit } from '../lib/options/rate-limit';
import { RedisStore } from '../lib/store/redis-store';
import { closeClients, keysUnder, redisClient, redisUrl, USERS, uniquePrefix } from './support/harness';
import { type RedisCluster, startRedisCluster } from './support/redis-cluster';
import { startRedisServer } from './support/redis-process';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

const IP1 = '203.0.113.1';
const IP2 = '198.51.100.2';
const IP3 = '192.0.2.3';

const limiterSets: RateLimiters[] = [];
const redisStores: RedisStore[] = [];
const extraClients: Redis[] = [];
const proxies: TcpProxy[] = [];

afterAll(async () => {
  for (const limiters of limiterSets.splice(0)) limiters.close();
  await Promise.all(redisStores.splice(0).map((store) => store.close()));
  for (const client of extraClients.splice(0)) client.disconnect();
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await closeClients();
});

/** The server secret the counters' names are keyed with (createAuth passes `refreshToken.secret`'s key). */
const SECRET = createSecretKey(randomBytes(32));

/** The stub's refresh cookie, `session=<id>`: the session of an authentic cookie (the stub has no MAC to check). */
function sessionOf(req: Request): string | undefined {
  return /(?:^|;\s*)session=(\w+)/.exec(req.headers.cookie ?? '')?.[1];
}

/** A RedisStore on `client` (its counters are the throttling's), remembered for closing. */
function storeOn(client: Redis | Cluster, prefix: string, commandTimeoutMs?: number): RedisStore {
  const store = new RedisStore({ client, prefix, ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }) });
  redisStores.push(store);
  return store;
}

/** Resolves options like createAuth will, counting in a RedisStore on `client` when given, and remembers the limiters for closing. */
function limitersFor(rateLimit: unknown, client?: Redis | Cluster, prefix = '', commandTimeoutMs?: number, secret = SECRET): RateLimiters {
  const store = client === undefined ? undefined : storeOn(client, prefix, commandTimeoutMs);
  const limiters = createRateLimiters(resolveRateLimit(rateLimit), store, { secret, refreshFamily: sessionOf });
  limiterSets.push(limiters);
  return limiters;
}

/**
 * An app shaped like the router: JSON body parser, then the login limiter, then a stub `authenticate`
 * (200 for the harness users' passwords, 401 otherwise); the refresh limiter in front of /refresh,
 * which answers 200 to a `session=<id>` cookie and 401 otherwise; failures answered as the library's
 * fallback handler does. Client IPs come from X-Forwarded-For.
 */
function stubApp(limiters: RateLimiters): Express {
  const app = express();
  app.set('trust proxy', 'loopback');
  const events = createAuthEvents();
  app.post('/auth/login', ...jsonObjectBody(16_384), limiters.login, (req: Request, res: Response) => {
    const { username, password } = req.body as { username?: unknown; password?: unknown };
    const user = typeof username === 'string' && Object.hasOwn(USERS, username) ? USERS[username] : undefined;
    if (user && user.password === password) res.status(200).json({ ok: true });
    else res.status(401).json({ error: 'invalid_credentials' });
  });
  app.post('/auth/refresh', limiters.refresh, (req: Request, res: Response) => {
    if (sessionOf(req) === undefined) res.status(401).json({ error: 'invalid_refresh_token' });
    else res.status(200).json({ ok: true });
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const authError = toAuthError(error, 'test', events);
    res.status(authError.status).set(authError.headers).set('Cache-Control', 'no-store').json(authError.toJSON());
  });
  return app;
}

function attempt(app: Express, ip: string, username: unknown, password: string): request.Test {
  return request(app).post('/auth/login').set('X-Forwarded-For', ip).send({ username, password });
}

const WRONG = 'not-the-password';
const ALICE_PASSWORD = (USERS.alice as { password: string }).password;
const BOB_PASSWORD = (USERS.bob as { password: string }).password;

function expectTooManyRequests(res: request.Response, windowSeconds: number): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ error: 'too_many_requests' });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const retryAfter = res.headers['retry-after'];
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(windowSeconds);
}

/** Fails `count` logins as `username` from `ip`, each answered 401. */
async function failLogins(apps: Express[], ip: string, username: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await attempt(apps[i % apps.length] as Express, ip, username, WRONG);
    expect(res.status).toBe(401);
  }
}

type Backend = { name: string; limiters: (rateLimit?: unknown) => Promise<RateLimiters[]> };

/**
 * Where the counts live. Each call gives limiter sets that share their counts: one set in memory,
 * two sets (two "instances", two connections) on one Redis prefix.
 */
const backends: Backend[] = [
  { name: 'memory store', limiters: async (rateLimit) => [limitersFor(rateLimit)] },
  {
    name: 'Redis (two instances sharing the counts)',
    limiters: async (rateLimit) => {
      const prefix = uniquePrefix();
      return [limitersFor(rateLimit, await redisClient(), prefix), limitersFor(rateLimit, await redisClient(), prefix)];
    },
  },
];

describe.each(backends)('login throttling on the $name', ({ limiters }) => {
  test('the 11th failed login for alice from one IP is refused with 429, Retry-After and JSON; she still gets in from another IP, bob from the same IP', async () => {
    const apps = (await limiters()).map(stubApp);
    const [a, b] = [apps[0] as Express, apps[apps.length - 1] as Express];
    await failLogins(apps, IP1, 'alice', 10);

    expectTooManyRequests(await attempt(a, IP1, 'alice', WRONG), 900);
    // Locked out at that address even with the right password: the guesser cannot confirm a hit.
    expectTooManyRequests(await attempt(b, IP1, 'alice', ALICE_PASSWORD), 900);

    // Another user behind the same address is not locked out...
    expect((await attempt(a, IP1, 'bob', WRONG)).status).toBe(401);
    expect((await attempt(b, IP1, 'bob', BOB_PASSWORD)).status).toBe(200);
    // ...nor is alice herself from another address.
    expect((await attempt(a, IP2, 'alice', ALICE_PASSWORD)).status).toBe(200);
    expect((await attempt(b, IP2, 'alice', WRONG)).status).toBe(401);
  });

  test('a successful login starts the count of its address and username again', async () => {
    const apps = (await limiters()).map(stubApp);
    await failLogins(apps, IP1, 'alice', 9);
    for (let i = 0; i < 3; i++) expect((await attempt(apps[i % apps.length] as Express, IP1, 'alice', ALICE_PASSWORD)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the reset is sent once the answer is
    await failLogins(apps, IP1, 'alice', 10);
    for (let i = 0; i < 3; i++) expectTooManyRequests(await attempt(apps[i % apps.length] as Express, IP1, 'alice', WRONG), 900);
  });

  test('usernames are counted trimmed and lower-cased, so case and spaces do not buy more guesses', async () => {
    const apps = (await limiters()).map(stubApp);
    const spellings = ['alice', 'Alice', ' ALICE ', 'aLiCe\t', 'ａｌｉｃｅ']; // the last is full-width (NFKC)
    for (let i = 0; i < 10; i++) expect((await attempt(apps[i % apps.length] as Express, IP1, spellings[i % spellings.length], WRONG)).status).toBe(401);
    expectTooManyRequests(await attempt(apps[0] as Express, IP1, 'alice', WRONG), 900);
  });

  test('IPv6 clients are counted by /56: another address in the same allocation shares the count', async () => {
    const apps = (await limiters()).map(stubApp);
    await failLogins(apps, '2001:db8:1:100::1', 'alice', 10);
    expectTooManyRequests(await attempt(apps[0] as Express, '2001:db8:1:1ff::2', 'alice', WRONG), 900);
    expect((await attempt(apps[0] as Express, '2001:db8:1:200::1', 'alice', WRONG)).status).toBe(401);
  });

  test('configured login limits apply, and `login.username` names the field', async () => {
    const apps = (await limiters({ login: { max: 3, window: '2m', username: (req: Request) => (req.body as { login?: unknown }).login } })).map(stubApp);
    const a = apps[0] as Express;
    for (let i = 0; i < 3; i++) {
      const res = await request(apps[i % apps.length] as Express)
        .post('/auth/login')
        .set('X-Forwarded-For', IP1)
        .send({ login: 'carol', password: WRONG });
      expect(res.status).toBe(401);
    }
    expectTooManyRequests(await request(a).post('/auth/login').set('X-Forwarded-For', IP1).send({ login: 'CAROL', password: WRONG }), 120);
    expect((await request(a).post('/auth/login').set('X-Forwarded-For', IP1).send({ login: 'dave', password: WRONG })).status).toBe(401);
  });

  test('refreshes (per instance: a refresh stays one Redis round trip): failures per address, every request per session; past either 429 with Retry-After', async () => {
    const apps = (await limiters({ refresh: { max: 5, window: '1m' } })).map(stubApp);
    const a = apps[0] as Express;
    for (let i = 0; i < 5; i++) expect((await request(a).post('/auth/refresh').set('X-Forwarded-For', IP1)).status).toBe(401);
    expectTooManyRequests(await request(a).post('/auth/refresh').set('X-Forwarded-For', IP1), 60);
    expect((await request(a).post('/auth/refresh').set('X-Forwarded-For', IP2)).status).toBe(401); // other addresses unaffected
    // A session's refreshes are its own count, whatever its address's failures.
    for (let i = 0; i < 5; i++) expect((await request(a).post('/auth/refresh').set('X-Forwarded-For', IP1).set('Cookie', 'session=s1')).status).toBe(200);
    expectTooManyRequests(await request(a).post('/auth/refresh').set('X-Forwarded-For', IP2).set('Cookie', 'session=s1'), 60);
    expect((await request(a).post('/auth/refresh').set('X-Forwarded-For', IP1).set('Cookie', 'session=s2')).status).toBe(200);
    // Logins are counted apart.
    expect((await attempt(a, IP1, 'alice', ALICE_PASSWORD)).status).toBe(200);
  });

  test('by default 300 failed refreshes a minute pass from one address and the 301st is refused', async () => {
    const apps = (await limiters()).map(stubApp);
    const statuses: number[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          request(apps[0] as Express)
            .post('/auth/refresh')
            .set('X-Forwarded-For', IP3),
        ),
      );
      statuses.push(...answers.map((res) => res.status));
    }
    expect(statuses.filter((status) => status !== 401)).toEqual([]);
    expectTooManyRequests(
      await request(apps[0] as Express)
        .post('/auth/refresh')
        .set('X-Forwarded-For', IP3),
      60,
    );
  });

  test('`rateLimit: false` turns it off; `login: false` and `refresh: false` one limit each', async () => {
    const [off] = (await limiters(false)).map(stubApp) as [Express];
    await failLogins([off], IP1, 'alice', 25);
    for (let i = 0; i < 25; i++) expect((await request(off).post('/auth/refresh').set('X-Forwarded-For', IP1)).status).toBe(401);

    const [noLogin] = (await limiters({ login: false, refresh: { max: 2 } })).map(stubApp) as [Express];
    await failLogins([noLogin], IP1, 'alice', 15);
    for (let i = 0; i < 2; i++) expect((await request(noLogin).post('/auth/refresh').set('X-Forwarded-For', IP1)).status).toBe(401);
    expectTooManyRequests(await request(noLogin).post('/auth/refresh').set('X-Forwarded-For', IP1), 60);

    const [noRefresh] = (await limiters({ login: { max: 2 }, refresh: false })).map(stubApp) as [Express];
    for (let i = 0; i < 25; i++) expect((await request(noRefresh).post('/auth/refresh').set('X-Forwarded-For', IP1)).status).toBe(401);
    await failLogins([noRefresh], IP1, 'alice', 2);
    expectTooManyRequests(await attempt(noRefresh, IP1, 'alice', WRONG), 900);
  });
});

describe('the account a failure counts against cannot be chosen by the guesser', () => {
  test('with the default username, a body holding both username and email is refused (400), so a junk field cannot open a fresh count', async () => {
    const app = stubApp(limitersFor({ login: { max: 2 } }));
    const res = await request(app).post('/auth/login').set('X-Forwarded-For', IP1).send({ email: 'alice@example.com', username: 'junk-1', password: WRONG });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', message: 'Send `username` or `email`, not both (rateLimit.login.username decides which is counted)' });
    // With the field named explicitly, both may be sent, and failures count against the named one.
    const byEmail = stubApp(limitersFor({ login: { max: 2, username: (req: Request) => (req.body as { email?: unknown }).email } }));
    for (let i = 0; i < 2; i++) {
      expect(
        (
          await request(byEmail)
            .post('/auth/login')
            .set('X-Forwarded-For', IP1)
            .send({ email: 'alice@example.com', username: `junk-${i}`, password: WRONG })
        ).status,
      ).toBe(401);
    }
    expectTooManyRequests(
      await request(byEmail).post('/auth/login').set('X-Forwarded-For', IP1).send({ email: 'alice@example.com', username: 'junk-9', password: WRONG }),
      900,
    );
  });
});

describe('defaults and options', () => {
  test('on by default: 10 failed logins per 15 minutes, at least 300 refreshes per minute', () => {
    const resolved = resolveRateLimit(undefined) as ResolvedRateLimit;
    expect(resolved.login).toMatchObject({ max: 10, windowMs: 15 * 60_000 });
    expect(resolved.refresh).toEqual({ max: RATE_LIMIT_DEFAULTS.refresh.max, windowMs: 60_000 });
    expect(RATE_LIMIT_DEFAULTS.refresh.max).toBeGreaterThanOrEqual(300);
    expect(resolveRateLimit({})).toEqual(resolved);
    expect(resolveRateLimit(false)).toBe(false);
    expect(resolveRateLimit({ login: false, refresh: false })).toBe(false);
    expect(resolveRateLimit({ login: { max: 5, window: 60 }, refresh: { window: '30s' } })).toMatchObject({
      login: { max: 5, windowMs: 60_000 },
      refresh: { max: 300, windowMs: 30_000 },
    });
  });

  test('the default username is `username`, else `email`; it is normalised and capped', () => {
    const resolved = resolveRateLimit(undefined) as ResolvedRateLimit;
    const usernameOf = (body: unknown): unknown => (resolved.login as { username: (req: Request) => unknown }).username({ body } as Request);
    expect(usernameOf({ username: 'a', email: 'b' })).toBe('a');
    expect(usernameOf({ email: 'b' })).toBe('b');
    expect(usernameOf(undefined)).toBeUndefined();
    expect(normaliseUsername('  Alice@Example.COM ')).toBe('alice@example.com');
    expect(normaliseUsername('ｆｕｌｌ')).toBe('full');
    expect(normaliseUsername(42)).toBe('42');
    expect(normaliseUsername({ $ne: '' })).toBe('');
    expect(normaliseUsername('x'.repeat(100_000))).toHaveLength(256);
  });

  test.each([
    [null, TypeError, /^createAuth: `rateLimit` must be an object or false; received null\. Leave it out for the defaults/],
    [true, TypeError, /^createAuth: `rateLimit` must be an object or false; received boolean true\./],
    [{ logins: {} }, TypeError, /^createAuth: `rateLimit\.logins` is not an option\. Did you mean `rateLimit\.login`\?$/],
    [{ login: 5 }, TypeError, /^createAuth: `rateLimit\.login` must be an object or false; received number 5\. Pass e\.g\./],
    [
      { login: { maxAttempts: 5 } },
      TypeError,
      /^createAuth: `rateLimit\.login\.maxAttempts` is not an option\. Known options here: max, window, username, perAddress, perUsername, successes, knownAddressTtl\.$/,
    ],
    [{ login: { perIp: {} } }, TypeError, /^createAuth: `rateLimit\.login\.perIp` is not an option\./],
    [
      { login: { perAddress: 100 } },
      TypeError,
      /^createAuth: `rateLimit\.login\.perAddress` must be an object or false; received number 100\. Pass e\.g\. `\{ max: 100, window: '15m' \}`/,
    ],
    [
      { login: { perAddress: { limit: 5 } } },
      TypeError,
      /^createAuth: `rateLimit\.login\.perAddress\.limit` is not an option\. Known options here: max, window\.$/,
    ],
    [
      { login: { perUsername: { max: 0 } } },
      RangeError,
      /^createAuth: `rateLimit\.login\.perUsername\.max` must be a whole number from 1 to 1000000; received number 0\. Leave it out for 20, or `perUsername: false` to turn this limit off\.$/,
    ],
    [
      { login: { successes: { window: '2d' } } },
      RangeError,
      /^createAuth: `rateLimit\.login\.successes\.window` must be from 1s to 1d; received 172800s\. Leave it out for '1m'\.$/,
    ],
    [
      { login: { knownAddressTtl: 'forever' } },
      TypeError,
      /^createAuth: `rateLimit\.login\.knownAddressTtl` must be a duration; received the string "forever"\. Pass seconds as a number, or a string like '30d'\.$/,
    ],
    [
      { login: { knownAddressTtl: '10s' } },
      RangeError,
      /^createAuth: `rateLimit\.login\.knownAddressTtl` must be from 1m to 400d; received 10s\. Leave it out for '30d'\.$/,
    ],
    [
      { login: { max: '10' } },
      TypeError,
      /^createAuth: `rateLimit\.login\.max` must be a whole number from 1 to 1000000; received the string "10"\. Leave it out for 10\.$/,
    ],
    [
      { login: { max: 0 } },
      RangeError,
      /^createAuth: `rateLimit\.login\.max` must be a whole number from 1 to 1000000; received number 0\. Leave it out for 10, or use `rateLimit: false`/,
    ],
    [{ login: { max: 2.5 } }, RangeError, /`rateLimit\.login\.max` must be a whole number .*received number 2\.5\./],
    [{ refresh: { max: Infinity } }, RangeError, /`rateLimit\.refresh\.max` must be a whole number .*received number Infinity\. Leave it out for 300/],
    [
      { login: { window: 'fifteen minutes' } },
      TypeError,
      /^createAuth: `rateLimit\.login\.window` must be a duration; received the string "fifteen minutes"\. Pass seconds as a number, or a string like '15m'\.$/,
    ],
    [{ login: { window: '500ms' } }, RangeError, /^createAuth: `rateLimit\.login\.window` must be from 1s to 1d; received 500ms\. Leave it out for '15m'\.$/],
    [{ refresh: { window: '2d' } }, RangeError, /^createAuth: `rateLimit\.refresh\.window` must be from 1s to 1d; received 172800s\. Leave it out for '1m'\.$/],
    [
      { login: { username: 'email' } },
      TypeError,
      /^createAuth: `rateLimit\.login\.username` must be a function \(req\) => string; received the string "email"\. Pass e\.g\./,
    ],
  ])('rejects %p', (value, kind, message) => {
    let thrown: unknown;
    try {
      resolveRateLimit(value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(kind);
    expect((thrown as Error).message).toMatch(message);
  });

  test("warns once when Express' `trust proxy` is true, which lets clients pick their address", async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const app = stubApp(limitersFor(undefined));
      app.set('trust proxy', true);
      for (let i = 0; i < 3; i++) await attempt(app, IP1, 'alice', WRONG);
      await request(app).post('/auth/refresh');
      // Only this one: express-rate-limit's own checks (IPv6 keys, double counting, ...) find nothing.
      expect(emitWarning.mock.calls).toEqual([[expect.stringMatching(/`trust proxy` is true/), { code: 'ERT_RATE_LIMIT' }]]);
    } finally {
      emitWarning.mockRestore();
    }
  });
});

describe('Redis counters', () => {
  test('keys live under <prefix>rl:<kind>:, named by an HMAC (no address, no username), all with a TTL', async () => {
    const client = await redisClient();
    const prefix = uniquePrefix();
    const app = stubApp(limitersFor(undefined, client, prefix));
    await failLogins([app], IP1, 'alice@example.com', 3);
    await request(app).post('/auth/refresh').set('X-Forwarded-For', IP1);
    const keys = await keysUnder(client, prefix);
    // Failures per address + username, per address, per username; successes per username (each
    // failure counted while it ran, then given back); refreshes are counted in process.
    const counts = new Map<string, string | null>();
    for (const key of keys) {
      expect(key.slice(key.lastIndexOf(':') + 1)).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(key).not.toMatch(/alice|203\.0\.113/i);
      expect(await client.pttl(key)).toBeGreaterThan(0);
      counts.set(key.slice(prefix.length, key.lastIndexOf(':') + 1), await client.get(key));
    }
    expect(Object.fromEntries(counts)).toEqual({ 'rl:login:': '3', 'rl:login-address:': '3', 'rl:login-username:': '3', 'rl:login-success:': '0' });
  });

  test('the names depend on the server secret: another secret, other names for the same address and username', async () => {
    const client = await redisClient();
    const prefix = uniquePrefix();
    const other = limitersFor(undefined, client, prefix, undefined, createSecretKey(randomBytes(32)));
    await failLogins([stubApp(limitersFor(undefined, client, prefix)), stubApp(other)], IP1, 'alice', 2);
    const keys = await keysUnder(client, `${prefix}rl:login:`);
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(await client.get(key)).toBe('1');
  });

  test('a decrement never leaves a key without a TTL', async () => {
    const client = await redisClient();
    const prefix = uniquePrefix();
    const counters = storeOn(client, prefix).rateLimitStore('login');
    const key = `${prefix}rl:login:gone`;
    await counters.decrement('gone');
    expect(await client.exists(key)).toBe(0);
    await client.set(key, '3', 'PX', 60_000);
    await counters.decrement('gone');
    expect(await client.get(key)).toBe('2');
    expect(await client.pttl(key)).toBeGreaterThan(0);
  });

  test('works when Redis has no scripts loaded, or forgets them (EVALSHA falls back to EVAL)', async () => {
    const server = await startRedisServer();
    const client = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    try {
      const app = stubApp(limitersFor({ login: { max: 2 } }, client, 'fresh:'));
      await failLogins([app], IP1, 'alice', 1);
      await client.script('FLUSH');
      await failLogins([app], IP1, 'alice', 1);
      expectTooManyRequests(await attempt(app, IP1, 'alice', WRONG), 900);
    } finally {
      await client.quit();
      await server.stop();
    }
  });

  test('fails closed and promptly while Redis is unreachable (503 temporarily_unavailable), and recovers, even after starting during the outage', async () => {
    const port = Number(new URL(redisUrl()).port);
    const proxy = await startTcpProxy(port);
    proxies.push(proxy);
    proxy.cut();
    const client = new Redis({ port: proxy.port, host: '127.0.0.1', disconnectTimeout: 100, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    extraClients.push(client);
    // Built while Redis is down: nothing is sent at construction, so nothing stays broken.
    const app = stubApp(limitersFor({ login: { max: 2 } }, client, uniquePrefix(), 300));

    const started = Date.now();
    const down = await attempt(app, IP1, 'alice', ALICE_PASSWORD);
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ error: 'temporarily_unavailable' });
    expect(down.headers['retry-after']).toBe('5');
    expect((await request(app).post('/auth/refresh').set('X-Forwarded-For', IP1).set('Cookie', 'session=s1')).status).toBe(200); // counted in process
    expect(Date.now() - started).toBeLessThan(2000);

    // (ioredis may still send the increments it queued during the cut once it reconnects: counts,
    // never a lost limit. IP2 has none queued, so its count is exact.)
    await proxy.restore();
    const deadline = Date.now() + 5000;
    let status = 0;
    while ((status = (await attempt(app, IP2, 'bob', BOB_PASSWORD)).status) !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(200);
    await failLogins([app], IP2, 'alice', 2);
    expectTooManyRequests(await attempt(app, IP2, 'alice', WRONG), 900);

    await new Promise((resolve) => setTimeout(resolve, 50)); // the 200s' decrements, sent after the answers
    proxy.cut();
    expect((await attempt(app, IP3, 'bob', BOB_PASSWORD)).status).toBe(503);
  });
});

describe('on a Redis Cluster', () => {
  let cluster: RedisCluster | undefined;
  const clusterClients: Cluster[] = [];
  afterAll(async () => {
    await Promise.all(clusterClients.splice(0).map((client) => client.quit()));
    await cluster?.stop();
  });

  test('two instances share the counts, with keys on several masters', async () => {
    cluster = await startRedisCluster();
    const prefix = uniquePrefix();
    const clients = [0, 1].map(() => {
      const client = new Redis.Cluster(cluster!.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
      clusterClients.push(client);
      return client;
    });
    const apps = clients.map((client) => stubApp(limitersFor({ login: { max: 3 } }, client, prefix)));
    // Many users from many addresses, so the keys land on every master.
    for (let user = 0; user < 12; user++) {
      const ip = `203.0.113.${10 + user}`;
      await failLogins(apps, ip, `user-${user}`, 3);
      expectTooManyRequests(await attempt(apps[user % 2] as Express, ip, `user-${user}`, WRONG), 900);
    }
    const masters = (clients[0] as Cluster).nodes('master');
    const keyCounts = await Promise.all(masters.map(async (node) => (await keysUnder(node, `${prefix}rl:login:`)).length));
    expect(keyCounts.reduce((sum, count) => sum + count, 0)).toBe(12);
    // Twelve random slots all on one of three masters: odds of 1 in 177,000.
    expect(keyCounts.filter((count) => count > 0).length).toBeGreaterThan(1);
  }, 60_000);
});
