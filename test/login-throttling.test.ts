// Login throttling through the router createAuth builds, counted in the private redis-server: a failure budget per address across
// usernames (password spraying), one per username across addresses (distributed guessing) that never refuses an address the user has
// signed in from, successful logins per user, a success resetting its pair, and Redis keys that name no address and no username.
import { createHash } from 'node:crypto';
import type { Express, Request } from 'express';
import type Redis from 'ioredis';
import request from 'supertest';
import { type RateLimitOptions, RedisStore } from '../lib';
import { authOptions, closeAll, keysUnder, memoryStore, redisClient, redisStore, refreshCookieOf, testApp } from './support/harness';
import { forgedRefreshToken } from './support/tokens';

afterAll(closeAll);

const WRONG = 'not-the-password';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Any username signs in with the password `<username>-password`: a directory of as many users as a test needs. */
function authenticate(req: Request): { userId: string } | null {
  const { username, password } = req.body as { username?: unknown; password?: unknown };
  return typeof username === 'string' && password === `${username}-password` ? { userId: `id-${username}` } : null;
}

/** An app with the router on a fresh Redis prefix, client addresses taken from X-Forwarded-For (as behind one trusted proxy). */
async function throttledApp(rateLimit?: RateLimitOptions): Promise<{ app: Express; keys: () => Promise<string[]>; pttl: (key: string) => Promise<number> }> {
  const { store, client, prefix } = await redisStore();
  const { app } = testApp(store, rateLimit === undefined ? { authenticate } : { authenticate, rateLimit });
  app.set('trust proxy', 'loopback');
  return { app, keys: () => keysUnder(client, prefix), pttl: (key) => client.pttl(key) };
}

function attempt(app: Express, ip: string, username: string, password: string): request.Test {
  return request(app).post('/auth/login').set('X-Requested-With', 'fetch').set('X-Forwarded-For', ip).send({ username, password });
}

/** Signs `username` in from `ip` with the right password. */
function signIn(app: Express, ip: string, username: string): request.Test {
  return attempt(app, ip, username, `${username}-password`);
}

function expectTooManyRequests(res: request.Response, windowSeconds: number): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ error: 'too_many_requests' });
  expect(res.headers['set-cookie']).toBeUndefined();
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
}

const SPRAYER = '198.51.100.66';
const ELSEWHERE = '192.0.2.200';
const HOME = '203.0.113.7';

describe('password spraying from one address (a failure budget per address, across usernames)', () => {
  test('300 usernames from one address: 100 failed logins are checked, then every login from it is 429, even a right password; other addresses are not affected', async () => {
    const { app } = await throttledApp();
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) statuses.push((await attempt(app, SPRAYER, `user-${i}`, WRONG)).status);
    expect(statuses.slice(0, 100)).toEqual(Array(100).fill(401));
    expect(statuses.slice(100)).toEqual(Array(200).fill(429));
    // A hit cannot be confirmed from there: the password is not checked.
    expectTooManyRequests(await signIn(app, SPRAYER, 'user-5'), 900);
    expect((await signIn(app, ELSEWHERE, 'user-5')).status).toBe(200);
    expect((await attempt(app, ELSEWHERE, 'user-301', WRONG)).status).toBe(401);
  });

  test('IPv6 clients are counted by /56 network: any address in it shares the budget, the next network has its own', async () => {
    const { app } = await throttledApp({ login: { perAddress: { max: 5, window: '1m' } } });
    for (let i = 0; i < 5; i++) expect((await attempt(app, `2001:db8:7:${(0x100 + i * 0x31).toString(16)}::${i + 1}`, `user-${i}`, WRONG)).status).toBe(401);
    expectTooManyRequests(await attempt(app, '2001:DB8:7:1FF:ABCD::1', 'user-9', WRONG), 60);
    expect((await attempt(app, '2001:db8:7:200::1', 'user-9', WRONG)).status).toBe(401);
  });

  test('a sprayer who signs in to an account of their own does not reset the address budget', async () => {
    const { app } = await throttledApp({ login: { perAddress: { max: 5, window: '1m' } } });
    for (let i = 0; i < 4; i++) expect((await attempt(app, SPRAYER, `user-${i}`, WRONG)).status).toBe(401);
    expect((await signIn(app, SPRAYER, 'mallory')).status).toBe(200);
    expect((await attempt(app, SPRAYER, 'user-4', WRONG)).status).toBe(401);
    expectTooManyRequests(await attempt(app, SPRAYER, 'user-5', WRONG), 60);
  });

  test('sized for a shared address: 30 people behind one office NAT who each mistype three times all get in', async () => {
    const { app } = await throttledApp();
    for (let person = 0; person < 30; person++) {
      for (let i = 0; i < 3; i++) expect((await attempt(app, SPRAYER, `colleague-${person}`, WRONG)).status).toBe(401);
      expect((await signIn(app, SPRAYER, `colleague-${person}`)).status).toBe(200);
    }
  });
});

describe.each([
  ['IPv4 addresses', (i: number) => `203.0.113.${i + 1}`],
  ['IPv6 /56 networks', (i: number) => `2001:db8:${(i + 1).toString(16)}:100::1`],
])('one account guessed from 40 %s (a failure budget per username, across addresses)', (_kind, addressOf) => {
  test('20 guesses are checked a window, every other one is 429 (the per-address limit alone let 400 through)', async () => {
    const { app } = await throttledApp();
    let checked = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++) {
        const res = await attempt(app, addressOf(i), 'alice', WRONG);
        if (res.status === 401) checked += 1;
        else expectTooManyRequests(res, 900);
      }
    }
    expect(checked).toBe(20);
  });
});

describe('a username that is not text (an array, an object, a boolean) is refused before any password is checked', () => {
  test("an app that looks names up as JavaScript does (['alice'] names 'alice') still counts every guess against alice's budget", async () => {
    const { store } = await redisStore();
    const passwords: Record<string, string> = { alice: 'alice-password', mallory: 'mallory-password' };
    let aliceChecked = 0;
    // An object lookup (like String(), a template or ==) turns ['alice'] into 'alice'; so do some SQL drivers' placeholders.
    const coercing = (req: Request): { userId: string } | null => {
      const { username, password } = req.body as { username: string; password?: unknown };
      if (`${username}` === 'alice') aliceChecked += 1;
      return Object.hasOwn(passwords, username) && passwords[username] === password ? { userId: `id-${username}` } : null;
    };
    const { app } = testApp(store, { authenticate: coercing });
    app.set('trust proxy', 'loopback');
    const post = (ip: string, username: unknown, password: string): request.Test =>
      request(app).post('/auth/login').set('X-Requested-With', 'fetch').set('X-Forwarded-For', ip).send({ username, password });
    const statuses = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const ip = `203.0.113.${i + 1}`;
      // The attacker's own account, signed in to from each address, spelled so that it is not text...
      statuses.add((await post(ip, ['mallory'], 'mallory-password')).status);
      // ...then guesses at alice spelled the same way.
      for (let guess = 0; guess < 5; guess++) {
        const res = await post(ip, ['alice'], WRONG);
        statuses.add(res.status);
        if (res.status === 400) expect(res.body.error).toBe('invalid_request');
      }
    }
    for (const username of [{ 0: 'alice' }, true, [['alice']]]) statuses.add((await post(HOME, username, WRONG)).status);
    expect(aliceChecked).toBe(0);
    expect([...statuses]).toEqual([400]);
    expect((await post(HOME, 'alice', 'alice-password')).status).toBe(200);
    expect((await post(HOME, 7, WRONG)).status).toBe(401); // a number reads one way only
  });
});

describe('the victim of distributed guessing is not locked out for long', () => {
  test('during the attack she signs in from an address she has signed in from before; from a new address she waits at most one window', async () => {
    const { app } = await throttledApp({ login: { perUsername: { max: 5, window: '2s' } } });
    expect((await signIn(app, HOME, 'alice')).status).toBe(200);
    for (let i = 0; i < 40; i++) await attempt(app, `203.0.113.${100 + i}`, 'alice', WRONG);
    expectTooManyRequests(await attempt(app, '203.0.113.99', 'alice', WRONG), 2);

    // Known address: no lockout at all (her own mistakes there are counted by its own address + username limit).
    expect((await attempt(app, HOME, 'alice', WRONG)).status).toBe(401);
    expect((await signIn(app, HOME, 'alice')).status).toBe(200);

    // A new address (a hotel): refused, with a Retry-After she can trust, then let in once the window is over.
    const refused = await signIn(app, '192.0.2.77', 'alice');
    expectTooManyRequests(refused, 2);
    const lockedAt = Date.now();
    await sleep(Number(refused.headers['retry-after']) * 1000);
    expect((await signIn(app, '192.0.2.77', 'alice')).status).toBe(200);
    expect(Date.now() - lockedAt).toBeLessThan(2500);
  });

  test('measured: an attacker on ever-new addresses gets at most `max` guesses checked per window, while the victim at home is never refused', async () => {
    const max = 4;
    const { app } = await throttledApp({ login: { perUsername: { max, window: '1s' } } });
    expect((await signIn(app, HOME, 'alice')).status).toBe(200);
    const started = Date.now();
    let guesses = 0;
    let checked = 0;
    const victim: number[] = [];
    let nextVictimLogin = started;
    while (Date.now() - started < 3000) {
      const res = await attempt(app, `10.9.${guesses >> 8}.${guesses & 255}`, 'alice', WRONG);
      guesses += 1;
      if (res.status === 401) checked += 1;
      if (Date.now() >= nextVictimLogin) {
        victim.push((await signIn(app, HOME, 'alice')).status);
        nextVictimLogin += 500;
      }
    }
    const windowsTouched = Math.ceil((Date.now() - started) / 1000) + 1;
    expect(guesses).toBeGreaterThan(100);
    expect(checked).toBeGreaterThanOrEqual(max);
    expect(checked).toBeLessThanOrEqual(max * windowsTouched);
    expect(victim.length).toBeGreaterThanOrEqual(5);
    expect(victim.filter((status) => status !== 200)).toEqual([]);
  });
});

describe('a successful login resets the failures of its address and username', () => {
  test('two failures, a success, then the full allowance again before the 429', async () => {
    const { app } = await throttledApp({ login: { max: 3 } });
    for (let i = 0; i < 2; i++) expect((await attempt(app, HOME, 'alice', WRONG)).status).toBe(401);
    expect((await signIn(app, HOME, 'alice')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await attempt(app, HOME, 'alice', WRONG)).status).toBe(401);
    expectTooManyRequests(await attempt(app, HOME, 'alice', WRONG), 900);
  });
});

describe('successful logins per user', () => {
  test('by default the 31st successful login of one user within a minute is 429 with Retry-After, from any address; other users are not affected', async () => {
    const { app } = await throttledApp();
    for (let i = 0; i < 30; i++) expect((await signIn(app, `203.0.113.${(i % 5) + 1}`, 'alice')).status).toBe(200);
    expectTooManyRequests(await signIn(app, ELSEWHERE, 'alice'), 60);
    expectTooManyRequests(await signIn(app, '203.0.113.1', 'Alice '), 60);
    expect((await signIn(app, ELSEWHERE, 'bob')).status).toBe(200);
  });

  test('failed logins do not spend it; `successes` sets it, `successes: false` turns it off', async () => {
    const { app } = await throttledApp({ login: { successes: { max: 3, window: '1m' } } });
    for (let i = 0; i < 5; i++) expect((await attempt(app, HOME, 'alice', WRONG)).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await signIn(app, HOME, 'alice')).status).toBe(200);
    expectTooManyRequests(await signIn(app, HOME, 'alice'), 60);

    const off = (await throttledApp({ login: { successes: false } })).app;
    for (let i = 0; i < 35; i++) expect((await signIn(off, HOME, 'alice')).status).toBe(200);
  });
});

/** SHA-256 of a text in the encodings a key name could carry it in. */
function unkeyedHashes(text: string): string[] {
  const digest = createHash('sha256').update(text).digest();
  return [digest.toString('hex'), digest.toString('base64url'), digest.toString('base64')];
}

describe('what the throttling keeps in Redis', () => {
  test('no key names a client address in any form, a username, or an unkeyed hash of either; every throttling key expires', async () => {
    const { app, keys, pttl } = await throttledApp();
    const ipv4 = '198.51.100.23';
    const ipv6 = '2001:db8:4:4321::17';
    for (const ip of [ipv4, ipv6]) {
      await attempt(app, ip, 'alice', WRONG).expect(401);
      await attempt(app, ip, 'carol@example.com', WRONG).expect(401);
      const session = await signIn(app, ip, 'alice').expect(200);
      const cookie = refreshCookieOf(session) as string;
      for (const value of [cookie, forgedRefreshToken(cookie.slice(0, 22))]) {
        await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('X-Forwarded-For', ip).set('Cookie', `__Host-refresh=${value}`);
      }
    }
    const addressForms = [
      ipv4,
      `::ffff:${ipv4}`,
      'c6336417', // its 32 bits in hex
      ipv6,
      '2001:0db8:0004:4321:0000:0000:0000:0017',
      '2001:db8:4:4300::', // the /56 it is counted by
      '2001:db8:4:4300::/56',
    ];
    const forbidden = [...addressForms, ...addressForms.flatMap(unkeyedHashes), ...['alice', 'carol@example.com'].flatMap(unkeyedHashes)];
    const all = await keys();
    for (const key of all)
      for (const text of forbidden) expect({ key, contains: key.toLowerCase().includes(text.toLowerCase()) }).toEqual({ key, contains: false });

    const throttling = all.filter((key) => /:rl:/.test(key));
    const kinds = new Set(throttling.map((key) => /:rl:([a-z-]+):/.exec(key)?.[1]));
    expect(kinds.size).toBeGreaterThanOrEqual(4); // failures per address + username, per address, per username; successes; known addresses
    for (const key of throttling) {
      expect(key).toMatch(/:rl:[a-z-]+:[A-Za-z0-9_-]{43}$/); // an HMAC under a key derived from refreshToken.secret
      expect(key).not.toMatch(/alice|carol/i);
      expect(await pttl(key)).toBeGreaterThan(0);
    }
  });
});

/** POST /auth/login without X-Forwarded-For: every attempt from the one test address. */
function postLogin(app: Express, username: string, password: string): request.Test {
  return request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username, password });
}

/** Waits (up to 2 s) until the one login counter under `keyPrefix` holds `value` (`null`: until there is none). */
async function counterBack(client: Redis, keyPrefix: string, value: string | null): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const keys = await keysUnder(client, keyPrefix);
    if (value === null ? keys.length === 0 : keys.length === 1 && (await client.get(keys[0] as string)) === value) return;
    if (Date.now() > deadline) throw new Error(`the login counter under ${keyPrefix} never went back to ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// SPEC §5: "Login throttling with express-rate-limit (rate-limit-redis on Redis), failed logins only,
// on by default, `rateLimit: false` to turn it off", through the router createAuth builds, with its default options.
// On Redis the counters are RedisStore's own express-rate-limit Store (rate-limit-redis' script, run through the
// store's command gate), as docs/design-decisions.md says.
describe('login throttling as createAuth mounts it', () => {
  test('on by default: failed logins only are counted, in Redis (two instances share the count); the 11th attempt is 429', async () => {
    const { store, client, prefix } = await redisStore();
    const a = testApp(store).app; // default options: no rateLimit key at all
    const b = testApp(new RedisStore({ client: await redisClient(), prefix })).app;

    for (let i = 0; i < 9; i++) expect((await postLogin(i % 2 === 0 ? a : b, 'alice', WRONG)).status).toBe(401);
    await counterBack(client, `${prefix}rl:login:`, '9');
    // A successful login starts the count again (once answered: wait for it, so this checks the reset, not the race).
    expect((await postLogin(a, 'alice', 'alice-password')).status).toBe(200);
    await counterBack(client, `${prefix}rl:login:`, null);
    for (let i = 0; i < 10; i++) expect((await postLogin(i % 2 === 0 ? b : a, 'alice', WRONG)).status).toBe(401); // the 10th: still answered

    for (const [app, password] of [
      [a, WRONG],
      [b, 'alice-password'], // locked out at this address even with the right password
    ] as const) {
      const res = await postLogin(app, 'alice', password);
      expect(res.status).toBe(429);
      expect(res.body).toEqual({ error: 'too_many_requests' });
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(900);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    // Per account: another user behind the same address is not locked out.
    expect((await postLogin(a, 'bob', 'bob-password')).status).toBe(200);
  });

  test('two overlapping correct logins near the limit never lock the account: a refused attempt is given back too', async () => {
    const { store, client, prefix } = await redisStore();
    // A credential check slow enough that the second login is counted while the first is still in it:
    // the two surely overlap (without it they may run one after the other, and pass on old code too).
    const check = authOptions(store).authenticate;
    const slow: typeof check = async (req) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return check(req);
    };
    const a = testApp(store, { authenticate: slow }).app;
    const b = testApp(new RedisStore({ client: await redisClient(), prefix }), { authenticate: slow }).app;
    for (let i = 0; i < 9; i++) expect((await postLogin(a, 'alice', WRONG)).status).toBe(401);
    // Two tabs (or two instances) sign in at once with the right password: the count reaches 11, so
    // one of them is refused; neither checked a wrong password, so neither stays counted.
    const statuses = (await Promise.all([postLogin(a, 'alice', 'alice-password'), postLogin(b, 'alice', 'alice-password')])).map((res) => res.status);
    expect(statuses.sort()).toEqual([200, 429]);
    await counterBack(client, `${prefix}rl:login:`, null); // the refused one given back, then the success's reset
    expect((await postLogin(b, 'alice', 'alice-password')).status).toBe(200);
    expect((await postLogin(a, 'alice', 'alice-password')).status).toBe(200);
  });

  test('`rateLimit: false` turns it off: 25 failed logins are all 401, and the right password then works', async () => {
    const { app } = testApp(memoryStore(), { rateLimit: false });
    for (let i = 0; i < 25; i++) expect((await postLogin(app, 'alice', WRONG)).status).toBe(401);
    expect((await postLogin(app, 'alice', 'alice-password')).status).toBe(200);
  });
});
