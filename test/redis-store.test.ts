// RedisStore: the shared SessionStore contract, plus Redis specifics (secrets at rest, TTLs, scripts, keys) on the private redis-server.
import { createSecretKey, randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { hashSecret, newSessionId } from '../lib/refresh-token';
import { createAuth } from '../lib';
import { RedisStore, type RedisClientLike } from '../lib/store/redis-store';
import type { PresentationOutcome, SessionRecord, TokenPresentation } from '../lib/store/session-store';
import { authOptions, closeClients, keysUnder, redisClient, redisStore } from './support/harness';
import { describeStoreContract, Family } from './support/store-contract';

// cluster-key-slot ships with ioredis and has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const clusterKeySlot = require('cluster-key-slot') as (key: string) => number;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sleepUntil = (at: number) => sleep(Math.max(0, at - Date.now()));

const MINUTE = 60_000;
const MARKER_TTL_MS = 15 * MINUTE;

afterAll(closeClients);

/** Deletes every key under a prefix (the keys have TTLs anyway; this just keeps the server tidy). */
async function removeKeys(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  if (keys.length > 0) await client.unlink(...keys);
}

describeStoreContract('RedisStore', async () => {
  const { store, client, prefix } = await redisStore();
  return { store, cleanup: () => removeKeys(client, prefix) };
});

describe('RedisStore specifics', () => {
  const key = createSecretKey(randomBytes(32));
  let store: RedisStore;
  let client: Redis;
  let prefix: string;

  beforeEach(async () => {
    ({ store, client, prefix } = await redisStore());
  });

  afterEach(async () => {
    await removeKeys(client, prefix);
  });

  async function create(family: Family, now: number, idleTtlMs: number, absoluteTtlMs: number): Promise<void> {
    await store.createSession(family.newSession(now, { idleTtlMs, absoluteTtlMs }));
  }

  async function present(family: Family, secret: string, now: number, overrides: Partial<TokenPresentation>): Promise<PresentationOutcome> {
    return store.presentToken(family.sessionId, family.presentation(secret, now, overrides));
  }

  async function rotate(family: Family, now: number, overrides: Partial<TokenPresentation>): Promise<SessionRecord> {
    const outcome = await present(family, family.current, now, overrides);
    expect(outcome.status).toBe('rotated');
    family.advance();
    return (outcome as { session: SessionRecord }).session;
  }

  const sessionKey = (sessionId: string) => `${prefix}session:{${sessionId}}`;
  const revokedKey = (sessionId: string) => `${prefix}revoked:{${sessionId}}`;
  const userKey = (userId: string) => `${prefix}user:{${userId}}`;

  async function pexpiretime(redisKey: string): Promise<number> {
    return Number(await client.call('PEXPIRETIME', redisKey));
  }

  /** Every key under the prefix with everything it holds (field names and values), read by TYPE. */
  async function dumpPrefix(): Promise<Map<string, string[]>> {
    const dump = new Map<string, string[]>();
    for (const redisKey of await keysUnder(client, prefix)) {
      const type = await client.type(redisKey);
      let contents: string[];
      if (type === 'hash') contents = Object.entries(await client.hgetall(redisKey)).flat();
      else if (type === 'string') contents = [(await client.get(redisKey)) ?? ''];
      else if (type === 'set') contents = await client.smembers(redisKey);
      else throw new Error(`unexpected key type ${type} for ${redisKey}`);
      dump.set(redisKey, contents);
    }
    return dump;
  }

  describe('(a) no secret at rest', () => {
    test('after logins, rotations, a retry and a reuse, Redis holds only hashes of secrets', async () => {
      const now = Date.now();
      const opts = { idleTtlMs: 10 * MINUTE };
      const userId = `user-${randomBytes(6).toString('hex')}`;
      const families = [new Family(key, userId), new Family(key, userId), new Family(key)];
      for (const family of families) await create(family, now, 10 * MINUTE, 60 * MINUTE);
      for (let step = 1; step <= 3; step++) for (const family of families) await rotate(family, now + step, opts);
      const [live, retried, reused] = families as [Family, Family, Family];
      // A retry inside the window, and a reuse that revokes a family (leaving a revocation marker).
      expect((await present(retried, retried.secrets[2] as string, now + 4, opts)).status).toBe('retried');
      expect((await present(reused, reused.secrets[0] as string, now + 5, opts)).status).toBe('unknown');
      expect((await present(reused, reused.secrets[2] as string, now + 5, { ...opts, reuseGraceMs: 0 })).status).toBe('reuse');

      const forbidden: string[] = [];
      for (const family of families) {
        const secrets = [...family.secrets, family.successorOf(family.current)];
        for (const secret of secrets) forbidden.push(secret, `${family.sessionId}.${secret}`);
      }
      const dump = await dumpPrefix();
      expect(dump.size).toBeGreaterThan(0);
      const everything = [...dump.entries()].flatMap(([redisKey, contents]) => [redisKey, ...contents]);
      for (const secret of forbidden) {
        for (const stored of everything) expect(stored.includes(secret)).toBe(false);
      }

      // What is there instead: the hashes of the current and previous secrets of the live family.
      const stored = await client.hgetall(sessionKey(live.sessionId));
      const hashValues = Object.values(stored);
      expect(hashValues).toContain(hashSecret(live.current));
      expect(hashValues).toContain(hashSecret(live.secrets[live.secrets.length - 2] as string));
      expect(await client.exists(sessionKey(reused.sessionId))).toBe(0);
      expect(await client.exists(revokedKey(reused.sessionId))).toBe(1);
    });
  });

  describe('(b) every key has a TTL', () => {
    test('session hashes, user indexes and revocation markers all expire; TTLs match the family', async () => {
      const now = Date.now();
      const userId = `user-${randomBytes(6).toString('hex')}`;
      const idleBound = new Family(key, userId); // dies at now + idle
      const absoluteBound = new Family(key, userId); // dies at now + absolute
      const revoked = new Family(key);
      await create(idleBound, now, 1 * MINUTE, 3 * MINUTE);
      await create(absoluteBound, now, 5 * MINUTE, 2 * MINUTE);
      await create(revoked, now, 5 * MINUTE, 10 * MINUTE);
      await rotate(revoked, now + 1, { idleTtlMs: 5 * MINUTE });
      expect(await store.revokeSession(revoked.sessionId, MARKER_TTL_MS)).not.toBeNull();

      const keys = await keysUnder(client, prefix);
      expect(keys.sort()).toEqual(
        [sessionKey(idleBound.sessionId), sessionKey(absoluteBound.sessionId), revokedKey(revoked.sessionId), userKey(userId)].sort(),
      );
      // The revoked user's only session left its index, and the empty set is gone with it.
      expect(await client.exists(userKey(revoked.userId))).toBe(0);
      for (const redisKey of keys) {
        const pttl = await client.pttl(redisKey);
        expect({ key: redisKey, positive: pttl > 0 }).toEqual({ key: redisKey, positive: true });
      }

      // The session hash dies exactly at expiresAt = min(now + idle, now + absolute).
      expect(await pexpiretime(sessionKey(idleBound.sessionId))).toBe(now + 1 * MINUTE);
      expect(await pexpiretime(sessionKey(absoluteBound.sessionId))).toBe(now + 2 * MINUTE);
      const idlePttl = await client.pttl(sessionKey(idleBound.sessionId));
      expect(idlePttl).toBeGreaterThan(1 * MINUTE - 5_000);
      expect(idlePttl).toBeLessThanOrEqual(1 * MINUTE);
      const absolutePttl = await client.pttl(sessionKey(absoluteBound.sessionId));
      expect(absolutePttl).toBeGreaterThan(2 * MINUTE - 5_000);
      expect(absolutePttl).toBeLessThanOrEqual(2 * MINUTE);

      // The user index outlives every session it lists (it lives as long as the longest absolute TTL).
      const indexPttl = await client.pttl(userKey(userId));
      expect(indexPttl).toBeGreaterThan(3 * MINUTE - 5_000);
      expect(indexPttl).toBeGreaterThanOrEqual(Math.max(idlePttl, absolutePttl));

      // A revocation marker lives revokedMarkerTtlMs.
      const markerPttl = await client.pttl(revokedKey(revoked.sessionId));
      expect(markerPttl).toBeGreaterThan(MARKER_TTL_MS - 5_000);
      expect(markerPttl).toBeLessThanOrEqual(MARKER_TTL_MS);
    });

    test('a rotation moves the session TTL to the new expiresAt and the user index still outlives it', async () => {
      const now = Date.now();
      const family = new Family(key);
      await create(family, now, 1 * MINUTE, 3 * MINUTE);
      const record = await rotate(family, now + 30_000, { idleTtlMs: 1 * MINUTE });
      expect(record.expiresAt).toBe(now + 90_000);
      expect(await pexpiretime(sessionKey(family.sessionId))).toBe(now + 90_000);
      expect(await pexpiretime(userKey(family.userId))).toBeGreaterThanOrEqual(now + 90_000);
      const reuse = await present(family, family.secrets[0] as string, now + 30_000, { reuseGraceMs: 0 });
      expect(reuse.status).toBe('reuse');
      const markerPttl = await client.pttl(revokedKey(family.sessionId));
      expect(markerPttl).toBeGreaterThan(0);
      expect(markerPttl).toBeLessThanOrEqual(MARKER_TTL_MS);
    });
  });

  describe('(c) expiry in real time', () => {
    test('idleTtlMs 1500: after ~2 s the key is gone and the token is missing', async () => {
      const family = new Family(key);
      await create(family, Date.now(), 1_500, 60_000);
      expect(await client.exists(sessionKey(family.sessionId))).toBe(1);
      await sleep(2_000);
      expect(await client.exists(sessionKey(family.sessionId))).toBe(0);
      expect(await present(family, family.current, Date.now(), { idleTtlMs: 1_500 })).toEqual({ status: 'missing' });
      expect(await store.getSession(family.sessionId)).toBeNull();
      expect(await store.listSessions(family.userId)).toEqual([]);
      // listSessions also prunes the dead id from the user index.
      expect(await client.smembers(userKey(family.userId))).not.toContain(family.sessionId);
      expect(await store.isRevoked(family.sessionId)).toBe(false);
    });

    test('rotation never moves the key expiry past createdAt + absoluteTtl', async () => {
      const createdAt = Date.now();
      const absoluteTtlMs = 10 * MINUTE;
      const idleTtlMs = 5 * MINUTE;
      const family = new Family(key);
      await create(family, createdAt, idleTtlMs, absoluteTtlMs);
      await rotate(family, createdAt + 1 * MINUTE, { idleTtlMs });
      expect(await pexpiretime(sessionKey(family.sessionId))).toBe(createdAt + 6 * MINUTE);
      await rotate(family, createdAt + 4 * MINUTE, { idleTtlMs });
      expect(await pexpiretime(sessionKey(family.sessionId))).toBe(createdAt + 9 * MINUTE);
      await rotate(family, createdAt + 8 * MINUTE, { idleTtlMs });
      expect(await pexpiretime(sessionKey(family.sessionId))).toBe(createdAt + absoluteTtlMs);
      await rotate(family, createdAt + absoluteTtlMs - 1, { idleTtlMs });
      expect(await pexpiretime(sessionKey(family.sessionId))).toBe(createdAt + absoluteTtlMs);
      expect((await store.getSession(family.sessionId))?.expiresAt).toBe(createdAt + absoluteTtlMs);
    });

    test('absoluteTtl 2500ms, rotating every 700ms: the family still dies at ~2.5 s', async () => {
      const createdAt = Date.now();
      const idleTtlMs = 1_000;
      const absoluteTtlMs = 2_500;
      const family = new Family(key);
      await create(family, createdAt, idleTtlMs, absoluteTtlMs);
      for (const offset of [700, 1_400, 2_100]) {
        await sleepUntil(createdAt + offset);
        const record = await rotate(family, Date.now(), { idleTtlMs });
        expect(record.expiresAt).toBeLessThanOrEqual(createdAt + absoluteTtlMs);
        expect(record.absoluteExpiresAt).toBe(createdAt + absoluteTtlMs);
        expect(await pexpiretime(sessionKey(family.sessionId))).toBeLessThanOrEqual(createdAt + absoluteTtlMs);
      }
      await sleepUntil(createdAt + absoluteTtlMs + 300);
      expect(await client.exists(sessionKey(family.sessionId))).toBe(0);
      expect(await present(family, family.current, Date.now(), { idleTtlMs })).toEqual({ status: 'missing' });
    });
  });

  describe('(d) EVALSHA with NOSCRIPT fallback', () => {
    test('after SCRIPT FLUSH, every operation still succeeds', async () => {
      const now = Date.now();
      const opts = { idleTtlMs: 10 * MINUTE };
      const family = new Family(key);
      const other = new Family(key);

      expect(await client.script('FLUSH')).toBe('OK');
      await create(family, now, 10 * MINUTE, 60 * MINUTE);
      expect((await store.getSession(family.sessionId))?.userId).toBe(family.userId);

      expect(await client.script('FLUSH')).toBe('OK');
      await rotate(family, now + 1, opts);

      expect(await client.script('FLUSH')).toBe('OK');
      expect((await present(family, family.secrets[0] as string, now + 2, opts)).status).toBe('retried');

      expect(await client.script('FLUSH')).toBe('OK');
      await create(other, now, 10 * MINUTE, 60 * MINUTE);
      expect(await client.script('FLUSH')).toBe('OK');
      expect((await store.revokeSession(other.sessionId, MARKER_TTL_MS))?.sessionId).toBe(other.sessionId);
      expect(await store.isRevoked(other.sessionId)).toBe(true);

      expect(await client.script('FLUSH')).toBe('OK');
      await rotate(family, now + 3, opts);
    });
  });

  describe('(e) key names, prefix and hash tags', () => {
    test('keys carry the prefix and {sessionId}/{userId} hash tags; a session and its marker share a slot', async () => {
      const now = Date.now();
      const family = new Family(key);
      const revoked = new Family(key, family.userId);
      await create(family, now, 10 * MINUTE, 60 * MINUTE);
      await create(revoked, now, 10 * MINUTE, 60 * MINUTE);
      await store.revokeSession(revoked.sessionId, MARKER_TTL_MS);

      const keys = (await keysUnder(client, prefix)).sort();
      expect(keys).toEqual([revokedKey(revoked.sessionId), sessionKey(family.sessionId), userKey(family.userId)].sort());
      for (const redisKey of keys) expect(redisKey.startsWith(prefix)).toBe(true);

      for (const sessionId of [family.sessionId, revoked.sessionId]) {
        const slot = clusterKeySlot(sessionId);
        expect(clusterKeySlot(sessionKey(sessionId))).toBe(slot);
        expect(clusterKeySlot(revokedKey(sessionId))).toBe(slot);
      }
      expect(clusterKeySlot(userKey(family.userId))).toBe(clusterKeySlot(family.userId));
      // Without the tags the two keys of a session would (almost always) land on different slots.
      const untagged = [`${prefix}session:${family.sessionId}`, `${prefix}revoked:${family.sessionId}`].map(clusterKeySlot);
      expect(untagged[0] === untagged[1] && untagged[0] === clusterKeySlot(family.sessionId)).toBe(false);
    });
  });

  describe('(f) prefixes isolate stores', () => {
    test('two stores with different prefixes never see each other’s sessions', async () => {
      const { store: otherStore, client: otherClient, prefix: otherPrefix } = await redisStore();
      try {
        const now = Date.now();
        const opts = { idleTtlMs: 10 * MINUTE };
        const mine = new Family(key);
        await create(mine, now, 10 * MINUTE, 60 * MINUTE);

        expect(await otherStore.getSession(mine.sessionId)).toBeNull();
        expect(await otherStore.listSessions(mine.userId)).toEqual([]);
        expect(await otherStore.presentToken(mine.sessionId, mine.presentation(mine.current, now + 1, opts))).toEqual({ status: 'missing' });
        // The other store's failed presentation did not touch this store.
        expect(await store.isRevoked(mine.sessionId)).toBe(false);
        expect((await store.getSession(mine.sessionId))?.userId).toBe(mine.userId);
        await rotate(mine, now + 2, opts);

        // The same session id in the other store is a different family.
        const twin = new Family(key, `user-${randomBytes(6).toString('hex')}`);
        Object.defineProperty(twin, 'sessionId', { value: mine.sessionId });
        await otherStore.createSession(twin.newSession(now, { idleTtlMs: 10 * MINUTE }));
        expect((await otherStore.getSession(mine.sessionId))?.userId).toBe(twin.userId);
        expect((await store.getSession(mine.sessionId))?.userId).toBe(mine.userId);
        expect((await otherStore.presentToken(mine.sessionId, mine.presentation(mine.current, now + 3, opts))).status).toBe('unknown');

        await store.revokeSession(mine.sessionId, MARKER_TTL_MS);
        expect(await store.isRevoked(mine.sessionId)).toBe(true);
        expect(await otherStore.isRevoked(mine.sessionId)).toBe(false);
        expect((await otherStore.getSession(mine.sessionId))?.userId).toBe(twin.userId);
        // And the other way round: revoking in the other store ends only its own twin.
        expect((await otherStore.revokeSession(mine.sessionId, MARKER_TTL_MS))?.userId).toBe(twin.userId);
        expect(await store.revokeSession(mine.sessionId, MARKER_TTL_MS)).toBeNull();
        expect((await store.listSessions(mine.userId))).toEqual([]);

        for (const redisKey of await keysUnder(client, prefix)) expect(redisKey.startsWith(otherPrefix)).toBe(false);
        for (const redisKey of await keysUnder(otherClient, otherPrefix)) expect(redisKey.startsWith(prefix)).toBe(false);
      } finally {
        await removeKeys(otherClient, otherPrefix);
      }
    });
  });

  describe('(g) constructor validation', () => {
    test.each([
      ['no options', undefined],
      ['null options', null],
      ['a string', 'redis://localhost'],
    ])('rejects %s with a TypeError showing the expected shape', (_label, options) => {
      expect(() => new RedisStore(options as never)).toThrow(TypeError);
      expect(() => new RedisStore(options as never)).toThrow(/client: new Redis\(/);
    });

    test.each([
      ['a missing client', {}],
      ['a null client', { client: null }],
      ['a URL string as client', { client: 'redis://localhost:6379' }],
      ['an object that is not an ioredis client', { client: { get: () => undefined } }],
    ])('rejects %s with a TypeError saying to pass an ioredis client', (_label, options) => {
      const thrown = constructionError(options);
      expect(thrown).toBeInstanceOf(TypeError);
      const message = (thrown as Error).message;
      expect(message).toMatch(/`client`/);
      expect(message).toMatch(/ioredis Redis or Cluster/);
      expect(message).toMatch(/new Redis\(process\.env\.REDIS_URL\)/);
      expect(message).toMatch(/received /);
    });

    test.each([[42], [null], [{ prefix: 'auth:' }], [['auth:']]])('rejects prefix %p with a TypeError asking for a string', async (prefixValue) => {
      const thrown = constructionError({ client: await redisClient(), prefix: prefixValue });
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toMatch(/`prefix` must be a string such as 'auth:'/);
      expect((thrown as Error).message).toMatch(/received /);
    });

    test.each([[0], [-5], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY], ['1000']])(
      'rejects commandTimeoutMs %p with a RangeError asking for positive whole milliseconds',
      async (timeout) => {
        const thrown = constructionError({ client: await redisClient(), commandTimeoutMs: timeout });
        expect(thrown).toBeInstanceOf(RangeError);
        expect((thrown as Error).message).toMatch(/`commandTimeoutMs` must be a positive whole number of milliseconds/);
        expect((thrown as Error).message).toMatch(/received /);
      },
    );

    test('rejects a commandTimeoutMs too large for setTimeout (Node would clamp it to 1 ms)', async () => {
      const realClient = await redisClient();
      expect(() => new RedisStore({ client: realClient, commandTimeoutMs: 2 ** 31 })).toThrow(RangeError);
      expect(() => new RedisStore({ client: realClient, commandTimeoutMs: 2_147_483_647 })).not.toThrow();
    });

    test('accepts a real client with the defaults, and a custom prefix and timeout', async () => {
      const realClient: RedisClientLike = await redisClient();
      expect(new RedisStore({ client: realClient })).toBeInstanceOf(RedisStore);
      const custom = new RedisStore({ client: realClient, prefix: prefix, commandTimeoutMs: 5_000 });
      const family = new Family(key);
      await custom.createSession(family.newSession(Date.now()));
      expect(await client.exists(sessionKey(family.sessionId))).toBe(1);
      expect(newSessionId()).not.toBe(family.sessionId);
    });
  });
});

describe('auth.close()', () => {
  test('leaves the Redis client it was given open and working', async () => {
    const { store, client } = await redisStore();
    const auth = createAuth(authOptions(store));
    await auth.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    expect(await auth.listSessions('user-alice')).toEqual([]);
  });
});

/** What `new RedisStore(options)` throws (the test fails if it throws nothing). */
function constructionError(options: unknown): Error {
  try {
    new RedisStore(options as never);
  } catch (error) {
    return error as Error;
  }
  throw new Error('new RedisStore(...) did not throw');
}
