// RedisStore: the shared SessionStore contract, plus Redis specifics (secrets at rest, TTLs, scripts, keys, revocation log) on the private redis-server.
import { createSecretKey, randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import IORedis from 'ioredis';
import { createAuth } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import { decodeSession, encodeTime, SESSION_FIELDS } from '../lib/store/redis-session-layout';
import { type RedisClientLike, RedisStore } from '../lib/store/redis-store';
import type { PresentationOutcome, RevocationFeed, RevocationFeedOptions, SessionRecord, TokenPresentation } from '../lib/store/session-store';
import { hashSecret, newSessionId } from '../lib/tokens/refresh-token';
import { authOptions, buildApp, closeClients, keysUnder, login, redisClient, redisStore, refresh } from './support/harness';
import { startRedisServer } from './support/redis-process';
import { currentVerdict, describeStoreContract, Family, FEED_OPTIONS, openLoadedFeed, sessionOf, sleep, sleepUntil } from './support/store-contract';
import { waitUntil } from './support/wait-until';

// cluster-key-slot ships with ioredis and has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const clusterKeySlot = require('cluster-key-slot') as (key: string) => number;

const MINUTE = 60_000;
const REVOCATION_TTL_MS = 15 * MINUTE;
const RETAIN_MS = 2 * 60 * MINUTE;

afterAll(closeClients);

/** Deletes every key under a prefix (the keys have TTLs anyway; this just keeps the server tidy). */
async function removeKeys(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  if (keys.length > 0) await client.unlink(...keys);
}

describeStoreContract('RedisStore', async () => {
  const { store, client, prefix } = await redisStore();
  return {
    store,
    // A second store object on the same client and prefix: its feeds can only learn from Redis.
    sibling: () => new RedisStore({ client, prefix }),
    cleanup: async () => {
      await store.close();
      await removeKeys(client, prefix);
    },
  };
});

describe('RedisStore specifics', () => {
  const key = createSecretKey(randomBytes(32));
  let store: RedisStore;
  let client: Redis;
  let prefix: string;
  let feeds: RevocationFeed[];
  let extraStores: RedisStore[];

  beforeEach(async () => {
    ({ store, client, prefix } = await redisStore());
    feeds = [];
    extraStores = [];
  });

  afterEach(async () => {
    await Promise.all(feeds.map((feed) => feed.close()));
    await Promise.all([store, ...extraStores].map((opened) => opened.close()));
    await removeKeys(client, prefix);
  });

  /** A loaded feed of `on` (default: the store under test), closed after the test. */
  async function openFeed(on: RedisStore = store, options?: RevocationFeedOptions): Promise<RevocationFeed> {
    const feed = options ? on.openRevocationFeed(options) : await openLoadedFeed(on);
    feeds.push(feed);
    if (options) await feed.ready();
    return feed;
  }

  /** Another RedisStore object on the same client and prefix (nothing is applied to its feeds locally). */
  function siblingStore(): RedisStore {
    const sibling = new RedisStore({ client, prefix });
    extraStores.push(sibling);
    return sibling;
  }

  async function create(family: Family, now: number, idleTtlMs: number, absoluteTtlMs: number): Promise<SessionRecord> {
    const record = await store.createSession(family.newSession(now, { idleTtlMs, absoluteTtlMs }));
    expect(record).not.toBeNull();
    return record as SessionRecord;
  }

  async function present(family: Family, secret: string, overrides: Partial<TokenPresentation> = {}): Promise<PresentationOutcome> {
    return store.presentToken(family.sessionId, family.presentation(secret, overrides));
  }

  /** Rotates the current token, asserting it rotated at a time of Redis' clock within the call. */
  async function rotate(family: Family, overrides: Partial<TokenPresentation> = {}): Promise<SessionRecord> {
    const before = Date.now();
    const outcome = await present(family, family.current, overrides);
    const after = Date.now();
    expect(outcome.status).toBe('rotated');
    family.advance();
    const record = sessionOf(outcome);
    expect(record.lastUsedAt).toBeGreaterThanOrEqual(before);
    expect(record.lastUsedAt).toBeLessThanOrEqual(after);
    return record;
  }

  const keys = () => redisKeys(prefix);
  const sessionKey = (sessionId: string) => keys().session(sessionId);
  const userKey = (userId: string) => keys().userIndex(userId);
  const userRevokedKey = (userId: string) => keys().userRevoked(userId);
  const logKey = () => keys().log;
  const epochKey = () => keys().epoch;

  async function pexpiretime(redisKey: string): Promise<number> {
    return Number(await client.call('PEXPIRETIME', redisKey));
  }

  /** The decoded fields of a stored session string, or null. */
  async function storedSession(sessionId: string): Promise<ReturnType<typeof decodeSession> | null> {
    const value = await client.get(sessionKey(sessionId));
    return value === null ? null : decodeSession(value);
  }

  /** Every key under the prefix with everything it holds (members, scores, fields, values), read by TYPE. */
  async function dumpPrefix(): Promise<Map<string, string[]>> {
    const dump = new Map<string, string[]>();
    for (const redisKey of await keysUnder(client, prefix)) {
      const type = await client.type(redisKey);
      let contents: string[];
      if (type === 'hash') contents = Object.entries(await client.hgetall(redisKey)).flat();
      else if (type === 'string') {
        const value = (await client.get(redisKey)) ?? '';
        // Session strings are decoded too, so each field is checked on its own as well.
        contents = redisKey.startsWith(`${prefix}s:`) ? [value, ...Object.values(decodeSession(value))] : [value];
      } else if (type === 'set') contents = await client.smembers(redisKey);
      else if (type === 'zset') contents = await client.zrange(redisKey, 0, -1, 'WITHSCORES');
      else throw new Error(`unexpected key type ${type} for ${redisKey}`);
      dump.set(redisKey, contents);
    }
    return dump;
  }

  describe('(a) no secret at rest', () => {
    test('after logins, rotations, a retry, a reuse and revocations, Redis holds only hashes of secrets', async () => {
      const now = Date.now() - 5_000;
      const userId = `user-${randomBytes(6).toString('hex')}`;
      const families = [new Family(key, userId), new Family(key, userId), new Family(key), new Family(key), new Family(key)];
      await openFeed(); // creates the epoch key
      for (const family of families) await create(family, now, 10 * MINUTE, 60 * MINUTE);
      for (let step = 1; step <= 3; step++) for (const family of families) await rotate(family);
      const [live, retried, reused, revoked, userRevoked] = families as [Family, Family, Family, Family, Family];
      // A retry inside the window, and a reuse that revokes a family (logging a revocation).
      expect((await present(retried, retried.secrets[2] as string)).status).toBe('retried');
      expect((await present(reused, reused.secrets[0] as string)).status).toBe('reuse'); // an earlier generation
      expect(await store.revokeSession(revoked.sessionId, REVOCATION_TTL_MS)).not.toBeNull();
      expect(await store.revokeUser(userRevoked.userId, { revokedBefore: Date.now(), retainMs: RETAIN_MS })).toHaveLength(1);

      const forbidden: string[] = [];
      for (const family of families) {
        const secrets = [...family.secrets, family.successorOf(family.current)];
        for (const secret of secrets) forbidden.push(secret, `${family.sessionId}.${secret}`);
      }
      const dump = await dumpPrefix();
      // Sessions, a user index, a user's cut-off, the log, the users hash, the version and the epoch: all of them were read.
      const types = await Promise.all([...dump.keys()].map((redisKey) => client.type(redisKey)));
      expect(new Set(types)).toEqual(new Set(['string', 'zset', 'hash']));
      expect(dump.has(logKey())).toBe(true);
      expect(dump.has(keys().users)).toBe(true);
      expect(dump.has(keys().version)).toBe(true);
      expect(dump.has(epochKey())).toBe(true);
      expect(dump.has(userRevokedKey(userRevoked.userId))).toBe(true);
      expect(dump.has(userKey(userId))).toBe(true);
      const everything = [...dump.entries()].flatMap(([redisKey, contents]) => [redisKey, ...contents]);
      for (const secret of forbidden) {
        for (const stored of everything) expect(stored.includes(secret)).toBe(false);
      }

      // What is there instead: the hashes of the current and previous secrets of the live family.
      const stored = await storedSession(live.sessionId);
      expect(stored?.cur).toBe(hashSecret(live.current));
      expect(stored?.prev).toBe(hashSecret(live.secrets[live.secrets.length - 2] as string));
      expect(stored?.gen).toBe('3');
      for (const ended of [reused, revoked, userRevoked]) expect(await client.exists(sessionKey(ended.sessionId))).toBe(0);
      // No per-session revocation markers any more: the log holds the revocations.
      expect(await client.zscore(logKey(), reused.sessionId)).not.toBeNull();
      expect(await client.zscore(logKey(), revoked.sessionId)).not.toBeNull();
      expect([...dump.keys()].filter((redisKey) => redisKey.startsWith(`${prefix}revoked:`))).toEqual([]);
    });
  });

  describe('(b) every key has a TTL', () => {
    test('sessions, user indexes, user cut-offs, the log and the epoch all expire; TTLs match', async () => {
      const now = Date.now() - 1_000;
      const userId = `user-${randomBytes(6).toString('hex')}`;
      const idleBound = new Family(key, userId); // dies at now + idle
      const absoluteBound = new Family(key, userId); // dies at now + absolute
      const revoked = new Family(key);
      const userRevoked = new Family(key);
      const idleRecord = await create(idleBound, now, 1 * MINUTE, 3 * MINUTE);
      const absoluteRecord = await create(absoluteBound, now, 5 * MINUTE, 2 * MINUTE);
      await create(revoked, now, 5 * MINUTE, 10 * MINUTE);
      await create(userRevoked, now, 5 * MINUTE, 10 * MINUTE);
      await rotate(revoked, { idleTtlMs: 5 * MINUTE });
      expect(await store.revokeSession(revoked.sessionId, REVOCATION_TTL_MS)).not.toBeNull();
      expect(await store.revokeUser(userRevoked.userId, { revokedBefore: Date.now(), retainMs: RETAIN_MS })).toHaveLength(1);
      await openFeed();

      const keys = await keysUnder(client, prefix);
      expect(keys.sort()).toEqual(
        [
          sessionKey(idleBound.sessionId),
          sessionKey(absoluteBound.sessionId),
          userKey(userId),
          userRevokedKey(userRevoked.userId),
          logKey(),
          redisKeys(prefix).users,
          redisKeys(prefix).version,
          epochKey(),
        ].sort(),
      );
      // The revoked users' only sessions left their indexes, and the empty sets are gone with them.
      expect(await client.exists(userKey(revoked.userId))).toBe(0);
      expect(await client.exists(userKey(userRevoked.userId))).toBe(0);
      for (const redisKey of keys) {
        const pttl = await client.pttl(redisKey);
        expect({ key: redisKey, positive: pttl > 0 }).toEqual({ key: redisKey, positive: true });
      }

      // The session string dies exactly at expiresAt = min(now + idle, now + absolute).
      expect(idleRecord.expiresAt).toBe(now + 1 * MINUTE);
      expect(absoluteRecord.expiresAt).toBe(now + 2 * MINUTE);
      expect(await pexpiretime(sessionKey(idleBound.sessionId))).toBe(idleRecord.expiresAt);
      expect(await pexpiretime(sessionKey(absoluteBound.sessionId))).toBe(absoluteRecord.expiresAt);
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

      // A user's cut-off lives retainMs; the users hash as long as its longest-lived entry.
      for (const redisKey of [userRevokedKey(userRevoked.userId), redisKeys(prefix).users]) {
        const pttl = await client.pttl(redisKey);
        expect(pttl).toBeGreaterThan(RETAIN_MS - 5_000);
        expect(pttl).toBeLessThanOrEqual(RETAIN_MS);
      }
      // The epoch lives as long as the feed's retainMs (heartbeats keep it alive).
      const epochPttl = await client.pttl(epochKey());
      expect(epochPttl).toBeGreaterThan(3_600_000 - 5_000);
      expect(epochPttl).toBeLessThanOrEqual(3_600_000);
    });

    test('a revocation alone keeps the log alive for revocationTtlMs', async () => {
      const before = Date.now();
      await store.revokeSession(newSessionId(), REVOCATION_TTL_MS);
      const logPttl = await client.pttl(logKey());
      expect(logPttl).toBeGreaterThan(REVOCATION_TTL_MS - 5_000);
      expect(logPttl).toBeLessThanOrEqual(REVOCATION_TTL_MS);
      expect(await pexpiretime(logKey())).toBeGreaterThanOrEqual(before + REVOCATION_TTL_MS);
    });

    test('the user index is a sorted set scored by createdAt, oldest first, outliving its sessions', async () => {
      const base = Date.now() - 10_000;
      const userId = `user-${randomBytes(6).toString('hex')}`;
      // Created newest first, so insertion order and age order disagree.
      const newest = new Family(key, userId);
      const middle = new Family(key, userId);
      const oldest = new Family(key, userId);
      await create(newest, base + 2_000, 1 * MINUTE, 5 * MINUTE);
      await create(middle, base + 1_000, 1 * MINUTE, 5 * MINUTE);
      await create(oldest, base, 1 * MINUTE, 5 * MINUTE);

      expect(await client.type(userKey(userId))).toBe('zset');
      expect(await client.zrange(userKey(userId), 0, -1, 'WITHSCORES')).toEqual([
        oldest.sessionId,
        String(base),
        middle.sessionId,
        String(base + 1_000),
        newest.sessionId,
        String(base + 2_000),
      ]);
      const indexDies = await pexpiretime(userKey(userId));
      for (const family of [newest, middle, oldest]) {
        const record = await store.getSession(family.sessionId);
        expect(await pexpiretime(sessionKey(family.sessionId))).toBe(record?.expiresAt);
        expect(indexDies).toBeGreaterThanOrEqual(record?.absoluteExpiresAt ?? Number.POSITIVE_INFINITY);
      }
    });

    test('a rotation moves the session TTL to the new expiresAt and the user index still outlives it', async () => {
      const createdAt = Date.now() - 30_000;
      const family = new Family(key);
      await create(family, createdAt, 1 * MINUTE, 3 * MINUTE);
      expect(await pexpiretime(sessionKey(family.sessionId))).toBe(createdAt + 1 * MINUTE);
      const record = await rotate(family, { idleTtlMs: 1 * MINUTE });
      expect(record.expiresAt).toBe(record.lastUsedAt + 1 * MINUTE);
      expect(await pexpiretime(sessionKey(family.sessionId))).toBe(record.expiresAt);
      expect(await pexpiretime(userKey(family.userId))).toBeGreaterThanOrEqual(record.expiresAt);
      expect(await client.pttl(userKey(family.userId))).toBeGreaterThan(0);

      const before = Date.now();
      const reuse = await present(family, family.secrets[0] as string, { reuseGraceMs: 0 });
      const after = Date.now();
      expect(reuse.status).toBe('reuse');
      expect(await client.exists(sessionKey(family.sessionId))).toBe(0);
      const until = Number(await client.zscore(logKey(), family.sessionId));
      expect(until).toBeGreaterThanOrEqual(before + REVOCATION_TTL_MS);
      expect(until).toBeLessThanOrEqual(after + REVOCATION_TTL_MS);
      const logPttl = await client.pttl(logKey());
      expect(logPttl).toBeGreaterThan(0);
      expect(logPttl).toBeLessThanOrEqual(REVOCATION_TTL_MS);
    });
  });

  describe('(c) expiry in real time', () => {
    test('idleTtlMs 1500: once it has passed the key is gone and the token is missing', async () => {
      const feed = await openFeed();
      const family = new Family(key);
      // A login that began 1.3 s ago: 200 ms left.
      const record = await create(family, Date.now() - 1_300, 1_500, 60_000);
      expect(await client.exists(sessionKey(family.sessionId))).toBe(1);
      expect(await client.zscore(userKey(family.userId), family.sessionId)).not.toBeNull();
      await sleepUntil(record.expiresAt + 100);
      expect(await client.exists(sessionKey(family.sessionId))).toBe(0);
      expect(await present(family, family.current, { idleTtlMs: 1_500 })).toEqual({ status: 'missing' });
      expect(await store.getSession(family.sessionId)).toBeNull();
      expect(await store.listSessions(family.userId)).toEqual([]);
      // listSessions also prunes the dead id from the user index.
      expect(await client.zscore(userKey(family.userId), family.sessionId)).toBeNull();
      // Expiry is not revocation.
      expect(currentVerdict(feed, family.sessionId, family.userId)).toBe('valid');
    });

    test('rotation never moves the key expiry past createdAt + absoluteTtl', async () => {
      const absoluteTtlMs = 10 * MINUTE;
      // Its absolute deadline is 6 minutes from now.
      const createdAt = Date.now() - 4 * MINUTE;
      const family = new Family(key);
      await create(family, createdAt, 5 * MINUTE, absoluteTtlMs);
      const early = await rotate(family, { idleTtlMs: 5 * MINUTE });
      expect(early.expiresAt).toBe(early.lastUsedAt + 5 * MINUTE);
      expect(await pexpiretime(sessionKey(family.sessionId))).toBe(early.expiresAt);
      for (const idleTtlMs of [7 * MINUTE, 30 * MINUTE]) {
        const late = await rotate(family, { idleTtlMs });
        expect(late.expiresAt).toBe(createdAt + absoluteTtlMs);
        expect(await pexpiretime(sessionKey(family.sessionId))).toBe(createdAt + absoluteTtlMs);
      }
      expect((await store.getSession(family.sessionId))?.expiresAt).toBe(createdAt + absoluteTtlMs);
    });

    test('rotating a family every 250 ms: its key still dies at the absolute deadline', async () => {
      const absoluteTtlMs = 10 * MINUTE;
      const idleTtlMs = 400;
      // Its absolute deadline is 500 ms from now.
      const createdAt = Date.now() - absoluteTtlMs + 500;
      const deadline = createdAt + absoluteTtlMs;
      const family = new Family(key);
      await create(family, createdAt, absoluteTtlMs, absoluteTtlMs);
      for (const offset of [0, 250]) {
        await sleepUntil(deadline - 500 + offset);
        const record = await rotate(family, { idleTtlMs });
        expect(record.expiresAt).toBe(Math.min(record.lastUsedAt + idleTtlMs, deadline));
        expect(record.absoluteExpiresAt).toBe(deadline);
        expect(await pexpiretime(sessionKey(family.sessionId))).toBe(record.expiresAt);
      }
      expect(await pexpiretime(sessionKey(family.sessionId))).toBe(deadline);
      await sleepUntil(deadline + 100);
      expect(await client.exists(sessionKey(family.sessionId))).toBe(0);
      expect(await present(family, family.current, { idleTtlMs })).toEqual({ status: 'missing' });
    });
  });

  describe('(d) EVALSHA with NOSCRIPT fallback', () => {
    test('after SCRIPT FLUSH, every operation still succeeds', async () => {
      const now = Date.now() - 5_000;
      const family = new Family(key);
      const other = new Family(key);
      const victim = new Family(key);
      const flush = async () => expect(await client.script('FLUSH')).toBe('OK');

      await flush();
      await create(family, now, 10 * MINUTE, 60 * MINUTE);
      expect((await store.getSession(family.sessionId))?.userId).toBe(family.userId);
      expect(await client.zscore(userKey(family.userId), family.sessionId)).toBe(String(now));

      await flush();
      await rotate(family);

      await flush();
      expect((await present(family, family.secrets[0] as string)).status).toBe('retried');

      await create(other, now, 10 * MINUTE, 60 * MINUTE);
      await flush();
      expect((await store.revokeSession(other.sessionId, REVOCATION_TTL_MS))?.sessionId).toBe(other.sessionId);
      expect(await client.zscore(logKey(), other.sessionId)).not.toBeNull();

      // A reuse: the family is deleted by one script, then logged by another (whose failure would be swallowed).
      await create(victim, now, 10 * MINUTE, 60 * MINUTE);
      await rotate(victim);
      await flush();
      expect((await present(victim, victim.secrets[0] as string, { reuseGraceMs: 0 })).status).toBe('reuse');
      expect(await client.exists(sessionKey(victim.sessionId))).toBe(0);
      expect(await client.zscore(logKey(), victim.sessionId)).not.toBeNull();

      await flush();
      const revokedBefore = Date.now();
      const ended = await store.revokeUser(family.userId, { revokedBefore, retainMs: RETAIN_MS });
      expect(ended.map((record) => record.sessionId)).toEqual([family.sessionId]);
      expect(await client.exists(sessionKey(family.sessionId))).toBe(0);
      expect(await client.get(userRevokedKey(family.userId))).toBe(String(revokedBefore));

      // A refused login: created, refused by the index, then deleted (a cleanup whose failure would be swallowed).
      await flush();
      const refused = new Family(key, family.userId);
      expect(await store.createSession(refused.newSession(revokedBefore - 1))).toBeNull();
      expect(await client.exists(sessionKey(refused.sessionId))).toBe(0);

      // A feed loads the log, then keeps itself fresh with heartbeats (every 100 ms for 400 ms of staleness).
      await flush();
      const feed = await openFeed(siblingStore(), { ...FEED_OPTIONS, maxStalenessMs: 400 });
      expect(feed.verdict(other.sessionId, other.userId, Date.now())).toBe('revoked');
      expect(feed.verdict(victim.sessionId, victim.userId, Date.now())).toBe('revoked');
      expect(feed.verdict(newSessionId(), family.userId, revokedBefore - 1)).toBe('revoked');
      expect(feed.verdict(newSessionId(), other.userId, Date.now())).toBe('valid');
      await flush();
      await sleep(550);
      // Without a heartbeat received since, the feed would be 'stale' by now.
      expect(feed.verdict(newSessionId(), other.userId, Date.now())).toBe('valid');

      await flush();
      const next = new Family(key);
      await create(next, Date.now(), 10 * MINUTE, 60 * MINUTE);
      await rotate(next);
    });
  });

  describe('(e) key names, prefix and hash tags', () => {
    test('keys carry the prefix and hash tags: a session on its id’s slot, a user’s keys together, the log with the epoch', async () => {
      const now = Date.now() - 5_000;
      const family = new Family(key);
      const revoked = new Family(key, family.userId);
      const userRevoked = new Family(key);
      await create(family, now, 10 * MINUTE, 60 * MINUTE);
      await create(revoked, now, 10 * MINUTE, 60 * MINUTE);
      await create(userRevoked, now, 10 * MINUTE, 60 * MINUTE);
      await store.revokeSession(revoked.sessionId, REVOCATION_TTL_MS);
      await store.revokeUser(userRevoked.userId, { revokedBefore: Date.now(), retainMs: RETAIN_MS });
      await openFeed();

      const keys = (await keysUnder(client, prefix)).sort();
      expect(keys).toEqual(
        [
          sessionKey(family.sessionId),
          userKey(family.userId),
          userRevokedKey(userRevoked.userId),
          logKey(),
          redisKeys(prefix).users,
          redisKeys(prefix).version,
          epochKey(),
        ].sort(),
      );

      expect(clusterKeySlot(sessionKey(family.sessionId))).toBe(clusterKeySlot(family.sessionId));
      for (const userId of [family.userId, userRevoked.userId]) {
        const slot = clusterKeySlot(userId);
        expect(clusterKeySlot(userKey(userId))).toBe(slot);
        expect(clusterKeySlot(userRevokedKey(userId))).toBe(slot);
      }
      expect(clusterKeySlot(logKey())).toBe(clusterKeySlot('revocations'));
      expect(clusterKeySlot(epochKey())).toBe(clusterKeySlot('revocations'));
      expect(clusterKeySlot(redisKeys(prefix).users)).toBe(clusterKeySlot('revocations'));
      expect(clusterKeySlot(redisKeys(prefix).version)).toBe(clusterKeySlot('revocations'));
      // Without the tags a user's two keys would (almost always) land on different slots.
      const untagged = [`${prefix}u:${family.userId}`, `${prefix}ur:${family.userId}`].map(clusterKeySlot);
      expect(untagged[0] === untagged[1] && untagged[0] === clusterKeySlot(family.userId)).toBe(false);
    });
  });

  describe('(f) prefixes isolate stores', () => {
    test('two stores with different prefixes never see each other’s sessions or revocations', async () => {
      const { store: otherStore, client: otherClient, prefix: otherPrefix } = await redisStore();
      extraStores.push(otherStore);
      try {
        const now = Date.now() - 5_000;
        const mine = new Family(key);
        await create(mine, now, 10 * MINUTE, 60 * MINUTE);
        const myFeed = await openFeed();
        const otherFeed = await openFeed(otherStore);

        expect(await otherStore.getSession(mine.sessionId)).toBeNull();
        expect(await otherStore.listSessions(mine.userId)).toEqual([]);
        expect(await otherStore.presentToken(mine.sessionId, mine.presentation(mine.current))).toEqual({ status: 'missing' });
        // The other store's failed presentation did not touch this store.
        expect(currentVerdict(myFeed, mine.sessionId, mine.userId)).toBe('valid');
        expect((await store.getSession(mine.sessionId))?.userId).toBe(mine.userId);
        await rotate(mine);

        // The same session id in the other store is a different family.
        const twin = new Family(key, `user-${randomBytes(6).toString('hex')}`);
        Object.defineProperty(twin, 'sessionId', { value: mine.sessionId });
        expect(await otherStore.createSession(twin.newSession(now, { idleTtlMs: 10 * MINUTE }))).not.toBeNull();
        expect((await otherStore.getSession(mine.sessionId))?.userId).toBe(twin.userId);
        expect((await store.getSession(mine.sessionId))?.userId).toBe(mine.userId);
        expect((await otherStore.presentToken(mine.sessionId, mine.presentation(mine.current))).status).toBe('unknown');

        await store.revokeSession(mine.sessionId, REVOCATION_TTL_MS);
        await store.revokeUser(mine.userId, { revokedBefore: Date.now(), retainMs: RETAIN_MS });
        expect(currentVerdict(myFeed, mine.sessionId, mine.userId)).toBe('revoked');
        await sleep(100); // time for a message on a shared channel to arrive, were there one
        expect(currentVerdict(otherFeed, mine.sessionId, twin.userId)).toBe('valid');
        expect(otherFeed.verdict(newSessionId(), mine.userId, Date.now() - 1)).toBe('valid');
        // Nor does the other store's log hold it.
        const otherLate = await openFeed(otherStore);
        expect(currentVerdict(otherLate, mine.sessionId, twin.userId)).toBe('valid');
        expect((await otherStore.getSession(mine.sessionId))?.userId).toBe(twin.userId);
        // And the other way round: revoking in the other store ends only its own twin.
        expect((await otherStore.revokeSession(mine.sessionId, REVOCATION_TTL_MS))?.userId).toBe(twin.userId);
        expect(currentVerdict(otherFeed, mine.sessionId, twin.userId)).toBe('revoked');
        expect(await store.revokeSession(mine.sessionId, REVOCATION_TTL_MS)).toBeNull();
        expect(await store.listSessions(mine.userId)).toEqual([]);

        expect((await keysUnder(otherClient, otherPrefix)).length).toBeGreaterThan(0);
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

    test.each([['{tenant}:'], ['auth{'], ['auth}'], ['a{b}c:']])('rejects prefix %p holding a brace with a TypeError about hash tags', async (prefixValue) => {
      const thrown = constructionError({ client: await redisClient(), prefix: prefixValue });
      expect(thrown).toBeInstanceOf(TypeError);
      const message = (thrown as Error).message;
      expect(message).toMatch(/`prefix` must not contain '\{' or '\}'/);
      expect(message).toMatch(/hash tags/);
      expect(message).toContain(prefixValue);
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

    test('accepts a real client with the defaults, and a custom prefix (with colons, dashes and dots) and timeout', async () => {
      const realClient: RedisClientLike = await redisClient();
      expect(new RedisStore({ client: realClient })).toBeInstanceOf(RedisStore);
      expect(new RedisStore({ client: realClient, prefix: 'app-1.auth:v2:' })).toBeInstanceOf(RedisStore);
      const custom = new RedisStore({ client: realClient, prefix: prefix, commandTimeoutMs: 5_000 });
      extraStores.push(custom);
      const family = new Family(key);
      expect(await custom.createSession(family.newSession(Date.now()))).not.toBeNull();
      expect(await client.exists(sessionKey(family.sessionId))).toBe(1);
      expect(newSessionId()).not.toBe(family.sessionId);
    });
  });

  describe('(h) the revocation log, the channel and the epoch', () => {
    test('a rotation publishes nothing and sends no announcement; a reuse is sent again with one, which the script publishes as it ends the family', async () => {
      const family = new Family(key);
      await create(family, Date.now() - 5_000, 10 * MINUTE, 60 * MINUTE);
      await openFeed(); // the store signs what it publishes with its feeds' channel key
      // A feed of another store object learns of the reuse only through Redis.
      const siblingFeed = await openFeed(siblingStore());
      const listener = client.duplicate();
      const watcher = client.duplicate();
      let monitor: Redis | undefined;
      const published: string[] = [];
      const presentations: string[][] = [];
      const seen: string[] = [];
      let markers = 0;
      /** Resolves once MONITOR and the channel have shown everything sent before it (a marker sent after, seen by both). */
      const settled = async (): Promise<void> => {
        const marker = `settled-${++markers}`;
        await client.echo(marker);
        await client.publish(keys().channel, marker); // unsigned: every feed ignores it
        await waitUntil(() => seen.includes(marker) && published.includes(marker), 2000, `marker ${marker}`);
      };
      try {
        await listener.subscribe(keys().channel);
        listener.on('message', (_channel: string, message: string) => published.push(message));
        monitor = await watcher.monitor();
        monitor.on('monitor', (_time: string, args: string[], source: string) => {
          if (args[0]?.toUpperCase() === 'ECHO') seen.push(args[1] ?? '');
          if (source !== 'lua' && args[0]?.toUpperCase() === 'EVALSHA' && args[3] === sessionKey(family.sessionId)) presentations.push(args);
        });
        await rotate(family); // the script is loaded (NOSCRIPT → EVAL) before anything is counted
        await settled();
        presentations.length = 0;

        await rotate(family);
        await settled();
        expect(presentations.map((args) => args.at(-1))).toEqual(['']);
        expect(published.filter((message) => message.includes(family.sessionId))).toEqual([]);

        presentations.length = 0;
        const reuse = await present(family, family.secrets[0] as string);
        expect(reuse.status).toBe('reuse');
        expect(await client.exists(sessionKey(family.sessionId))).toBe(0);
        await settled();
        // Asked first without the announcement (nothing changed), then again with it.
        expect(presentations).toHaveLength(2);
        expect(presentations[0]?.at(-1)).toBe('');
        const announcement = presentations[1]?.at(-1) ?? '';
        expect(announcement).toMatch(new RegExp(`^r - \\d+ s ${family.sessionId} `));
        // The script's unnumbered announcement reached the channel, and the other store's feed.
        expect(published).toContain(announcement);
        expect(currentVerdict(siblingFeed, family.sessionId, family.userId)).toBe('revoked');
      } finally {
        monitor?.disconnect();
        listener.disconnect();
        watcher.disconnect();
      }
    });

    test('revokeSession and revokeUser log entries scored by when they stop mattering; revokeUser keeps the cut-off', async () => {
      const family = new Family(key);
      await create(family, Date.now() - 5_000, 10 * MINUTE, 60 * MINUTE);
      const before = Date.now();
      await store.revokeSession(family.sessionId, REVOCATION_TTL_MS);
      const after = Date.now();
      const sessionUntil = Number(await client.zscore(logKey(), family.sessionId));
      expect(sessionUntil).toBeGreaterThanOrEqual(before + REVOCATION_TTL_MS);
      expect(sessionUntil).toBeLessThanOrEqual(after + REVOCATION_TTL_MS);

      const userId = `user-${randomBytes(6).toString('hex')}`;
      const revokedBefore = Date.now();
      await store.revokeUser(userId, { revokedBefore, retainMs: RETAIN_MS });
      expect(await client.hget(keys().users, userId)).toBe(`${revokedBefore} ${revokedBefore + RETAIN_MS}`);
      expect(await client.get(userRevokedKey(userId))).toBe(String(revokedBefore));
      // An earlier cut-off does not move the kept one back.
      await store.revokeUser(userId, { revokedBefore: revokedBefore - 1_000, retainMs: RETAIN_MS });
      expect(await client.get(userRevokedKey(userId))).toBe(String(revokedBefore));
    });

    test('a login refused by revokeUser leaves no key behind and is not indexed', async () => {
      const userId = `user-${randomBytes(6).toString('hex')}`;
      const revokedBefore = Date.now();
      await store.revokeUser(userId, { revokedBefore, retainMs: RETAIN_MS });
      const refused = new Family(key, userId);
      const kept = new Family(key, userId);
      expect(await store.createSession(refused.newSession(revokedBefore - 1))).toBeNull();
      await create(kept, revokedBefore, 10 * MINUTE, 60 * MINUTE);
      expect(await client.exists(sessionKey(refused.sessionId))).toBe(0);
      expect(await client.zrange(userKey(userId), 0, -1)).toEqual([kept.sessionId]);
      const keys = await keysUnder(client, prefix);
      expect(keys).toContain(sessionKey(kept.sessionId));
      expect(keys.filter((redisKey) => redisKey.includes(refused.sessionId))).toEqual([]);
    });

    test('a feed on another store object learns a revocation from the channel, without reloading', async () => {
      const family = new Family(key);
      await create(family, Date.now() - 5_000, 10 * MINUTE, 60 * MINUTE);
      await openFeed(); // a store signs what it publishes with the channel keys of the feeds opened on it
      const listener = await openFeed(siblingStore());
      expect(currentVerdict(listener, family.sessionId, family.userId)).toBe('valid');
      await store.revokeSession(family.sessionId, REVOCATION_TTL_MS);
      const userId = `user-${randomBytes(6).toString('hex')}`;
      const revokedBefore = Date.now();
      await store.revokeUser(userId, { revokedBefore, retainMs: RETAIN_MS });
      const giveUpAt = Date.now() + 2_000;
      while (listener.verdict(newSessionId(), userId, revokedBefore - 1) !== 'revoked' && Date.now() < giveUpAt) await sleep(10);
      expect(listener.verdict(family.sessionId, family.userId, Date.now())).toBe('revoked');
      expect(listener.verdict(newSessionId(), userId, revokedBefore - 1)).toBe('revoked');
      expect(listener.verdict(newSessionId(), userId, revokedBefore)).toBe('valid');
    });

    test('revocations through the same store object reach its feeds without the channel', async () => {
      const feed = await openFeed();
      // Deaf to the channel (its private subscriber unsubscribed): only local application can tell it.
      const subscriber = (feed as unknown as { subscriber: { unsubscribe(channel: string): Promise<unknown> } }).subscriber;
      expect(typeof subscriber.unsubscribe).toBe('function');
      await subscriber.unsubscribe(`${prefix}revocations`);
      const revoked = new Family(key);
      const reused = new Family(key);
      await create(revoked, Date.now() - 5_000, 10 * MINUTE, 60 * MINUTE);
      await create(reused, Date.now() - 5_000, 10 * MINUTE, 60 * MINUTE);
      const userId = `user-${randomBytes(6).toString('hex')}`;

      await store.revokeSession(revoked.sessionId, REVOCATION_TTL_MS);
      await rotate(reused);
      expect((await present(reused, reused.secrets[0] as string, { reuseGraceMs: 0 })).status).toBe('reuse');
      const revokedBefore = Date.now();
      await store.revokeUser(userId, { revokedBefore, retainMs: RETAIN_MS });

      expect(feed.verdict(revoked.sessionId, revoked.userId, Date.now())).toBe('revoked');
      expect(feed.verdict(reused.sessionId, reused.userId, Date.now())).toBe('revoked');
      expect(feed.verdict(newSessionId(), userId, revokedBefore - 1)).toBe('revoked');
      expect(feed.verdict(newSessionId(), userId, revokedBefore)).toBe('valid');
    });

    test('a lapsed revocation is dropped from the log and not loaded by a new feed', async () => {
      const family = new Family(key);
      const other = new Family(key);
      await create(family, Date.now() - 5_000, 10 * MINUTE, 60 * MINUTE);
      await create(other, Date.now() - 5_000, 10 * MINUTE, 60 * MINUTE);
      await store.revokeSession(family.sessionId, 300);
      await store.revokeSession(other.sessionId, REVOCATION_TTL_MS);
      expect(await client.zscore(logKey(), family.sessionId)).not.toBeNull();
      await sleep(400);
      const late = await openFeed(siblingStore());
      expect(currentVerdict(late, family.sessionId, family.userId)).toBe('valid');
      expect(currentVerdict(late, other.sessionId, other.userId)).toBe('revoked');
      expect(await client.zscore(logKey(), family.sessionId)).toBeNull();
      expect(await client.zscore(logKey(), other.sessionId)).not.toBeNull();
    });

    test('the epoch is made once, by the first feed to load, and feeds refuse logins from before it', async () => {
      expect(await client.exists(epochKey())).toBe(0);
      const before = Date.now();
      const first = await openFeed();
      const after = Date.now();
      const epoch = (await client.get(epochKey())) as string;
      expect(epoch).toMatch(/^\d+\.[A-Za-z0-9_-]+$/);
      const start = Number(epoch.split('.')[0]);
      expect(start).toBeGreaterThanOrEqual(before);
      expect(start).toBeLessThanOrEqual(after);

      const second = await openFeed(siblingStore());
      expect(await client.get(epochKey())).toBe(epoch);
      const sid = newSessionId();
      for (const feed of [first, second]) {
        expect(feed.verdict(sid, 'user-x', start - 1)).toBe('revoked');
        expect(feed.verdict(sid, 'user-x', start)).toBe('valid');
        expect(feed.verdict(sid, 'user-x', Date.now())).toBe('valid');
      }
    });
  });
});

describe('RedisStore next to what version 0.1 left in Redis', () => {
  test('0.1 keys of another type under the same names never break a login, a refresh or a revokeUser (new key names)', async () => {
    const { store, client, prefix } = await redisStore();
    const auth = createAuth(authOptions(store));
    const app = buildApp(auth);
    // What 0.1 kept: a hash per session and a set per user, with up to 30 days to live.
    await client.hset(`${prefix}session:{0.1-session}`, 'u', 'user-alice', 'cur', 'x');
    await client.sadd(`${prefix}user:{user-alice}`, '0.1-session');
    await client.pexpire(`${prefix}user:{user-alice}`, 60_000);

    const session = await login(app);
    expect((await refresh(app, session.refreshToken)).status).toBe(200);
    expect(await auth.revokeUser('user-alice')).toHaveLength(1);
    expect(await client.type(`${prefix}user:{user-alice}`)).toBe('set'); // untouched, left to expire
    await auth.close();
  });
});

describe('RedisStore next to sessions stored in earlier layouts (fewer trailing fields)', () => {
  const RAW_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15';

  /** Rewrites a stored session as an earlier build did: its raw User-Agent in `ua`, and only its first `count` fields. */
  async function storeAsLegacy(client: Redis, key: string, count: number): Promise<string> {
    const fields = ((await client.get(key)) as string).split('\x1f');
    fields[2] = RAW_UA;
    const legacy = fields.slice(0, count).join('\x1f');
    await client.set(key, legacy, 'KEEPTTL');
    return legacy;
  }

  test.each([
    [11, 'before the bound-to-a-key field'],
    [12, 'before the network and proof-of-identity fields'],
  ])('a session of %i fields (%s) is read with the missing ones empty, rotates, is amended, and is written back whole', async (fields) => {
    const { store, client, prefix } = await redisStore();
    const family = new Family(createSecretKey(randomBytes(32)));
    expect(await store.createSession(family.newSession(Date.now()))).not.toBeNull();
    const key = redisKeys(prefix).session(family.sessionId);
    const legacy = await storeAsLegacy(client, key, fields);
    expect(legacy.split('\x1f')).toHaveLength(fields);

    const read = await store.getSession(family.sessionId);
    expect(read).not.toBeNull();
    expect(read).not.toHaveProperty('bound');
    expect(read).not.toHaveProperty('verification');
    expect(read).not.toHaveProperty('claimsUpdatedAt');
    expect((await store.listSessions(family.userId)).map((record) => record.sessionId)).toEqual([family.sessionId]);
    const rotated = await store.presentToken(family.sessionId, family.presentation(family.current));
    expect(rotated.status).toBe('rotated');
    expect(sessionOf(rotated)).not.toHaveProperty('bound');
    const stored = decodeSession((await client.get(key)) as string);
    expect(stored).toMatchObject({ bd: '', nw: '', sv: '', cu: '', ua: RAW_UA });
    expect(((await client.get(key)) as string).split('\x1f')).toHaveLength(SESSION_FIELDS.length);

    await client.set(key, legacy, 'KEEPTTL');
    const amended = await store.amendSession(family.sessionId, { verification: { at: 1_700_000_000_123, amr: ['pwd'] } });
    expect(amended?.verification).toEqual({ at: 1_700_000_000_123, amr: ['pwd'] });
    expect(decodeSession((await client.get(key)) as string).sv).toBe(`${(1_700_000_000_123).toString(36)}|pwd|`);

    // A claims update reads an old row too, and writes every field, keeping the expiry.
    await client.set(key, legacy, 'KEEPTTL');
    const at = Date.now();
    expect(await store.amendSession(family.sessionId, { claims: { value: { role: 'reader' }, updatedAt: at } })).toMatchObject({
      claims: { role: 'reader' },
      claimsUpdatedAt: at,
    });
    expect(decodeSession((await client.get(key)) as string)).toMatchObject({ bd: '', cu: encodeTime(at) });
    expect(await client.pttl(key)).toBeGreaterThan(0);
    await store.close();
  });

  test.each([11, 12])(
    'a session of %i fields holding a raw User-Agent is shown by its device label, with no network, before and after a rotation and an amendment',
    async (count) => {
      const { store, client, prefix } = await redisStore();
      const family = new Family(createSecretKey(randomBytes(32)));
      expect(await store.createSession(family.newSession(Date.now(), { bound: true }))).not.toBeNull();
      const key = redisKeys(prefix).session(family.sessionId);
      await storeAsLegacy(client, key, count);
      const labelled = { device: 'Safari 17 on macOS', userAgent: 'Safari 17 on macOS', network: '' };

      expect(await store.getSession(family.sessionId)).toMatchObject(labelled);
      expect(await store.listSessions(family.userId)).toMatchObject([labelled]);
      const rotated = await store.presentToken(family.sessionId, family.presentation(family.current));
      expect(rotated.status).toBe('rotated');
      expect(sessionOf(rotated)).toMatchObject(labelled);
      // bd is kept when it was stored (12 fields), read as empty when it was not (11).
      expect(sessionOf(rotated).bound).toBe(count === 12 ? true : undefined);
      // Written back whole, its `nw` still empty: the raw User-Agent stays recognisable as one, so it is never shown as a label.
      const written = (await client.get(key)) as string;
      expect(written.split('\x1f')).toHaveLength(SESSION_FIELDS.length);
      expect(decodeSession(written)).toMatchObject({ ua: RAW_UA, nw: '' });
      expect(await store.getSession(family.sessionId)).toMatchObject(labelled);
      expect(await store.amendSession(family.sessionId, { verification: { at: Date.now(), amr: ['pwd'] } })).toMatchObject(labelled);
      await store.close();
    },
  );

  test('a session stored now keeps its device label as stored (the parser is only for raw User-Agents), and a "-" for no network', async () => {
    const { store, client, prefix } = await redisStore();
    const family = new Family(createSecretKey(randomBytes(32)));
    expect(await store.createSession(family.newSession(Date.now(), { device: 'curl/8.4.0 (label as given)' }))).not.toBeNull();
    const stored = (await client.get(redisKeys(prefix).session(family.sessionId))) as string;
    expect(stored.split('\x1f')).toHaveLength(SESSION_FIELDS.length);
    expect(decodeSession(stored)).toMatchObject({ ua: 'curl/8.4.0 (label as given)', nw: '198.51.100.0/24' });
    expect(await store.getSession(family.sessionId)).toMatchObject({ device: 'curl/8.4.0 (label as given)', network: '198.51.100.0/24' });

    const unlabelled = new Family(createSecretKey(randomBytes(32)));
    expect(await store.createSession(unlabelled.newSession(Date.now(), { network: '' }))).not.toBeNull();
    expect(decodeSession((await client.get(redisKeys(prefix).session(unlabelled.sessionId))) as string).nw).toBe('-');
    expect(await store.getSession(unlabelled.sessionId)).toMatchObject({ network: '' });
    await store.close();
  });

  test('a stored string of fewer than eleven fields is no session: reading it fails loudly', async () => {
    const { store, client, prefix } = await redisStore();
    const family = new Family(createSecretKey(randomBytes(32)));
    await store.createSession(family.newSession(Date.now()));
    const key = redisKeys(prefix).session(family.sessionId);
    const ten = ((await client.get(key)) as string).split('\x1f').slice(0, 10).join('\x1f');
    await client.set(key, ten, 'KEEPTTL');
    await expect(store.getSession(family.sessionId)).rejects.toThrow(/10 fields/);
    await expect(store.amendSession(family.sessionId, { claims: { value: { role: 'x' }, updatedAt: Date.now() } })).rejects.toThrow(/wrong number of fields/);
    await store.close();
  });
});

describe("RedisStore's seen devices", () => {
  test("share the user's index as `~<fingerprint>` scored by the negated latest absolute deadline, are no sessions, and outlive revokeUser", async () => {
    const { store, client, prefix } = await redisStore();
    const family = new Family(createSecretKey(randomBytes(32)));
    const created = await store.createSession(family.newSession(Date.now(), { deviceHash: 'fingerprint-1', absoluteTtlMs: 60_000 }));
    expect(created?.newDevice).toBe(true);
    const key = redisKeys(prefix).userIndex(family.userId);
    expect(await client.zrange(key, 0, -1, 'WITHSCORES')).toEqual([
      '~fingerprint-1',
      String(-(created?.absoluteExpiresAt as number)),
      family.sessionId,
      String(created?.createdAt),
    ]);
    expect(await client.pttl(key)).toBeGreaterThan(50_000);
    // A later session from the same device moves its deadline forward, never back.
    const later = new Family(createSecretKey(randomBytes(32)), family.userId);
    const again = await store.createSession(later.newSession(Date.now(), { deviceHash: 'fingerprint-1', absoluteTtlMs: 120_000 }));
    expect(again?.newDevice).toBe(false);
    expect(await client.zscore(key, '~fingerprint-1')).toBe(String(-(again?.absoluteExpiresAt as number)));
    expect(await client.pttl(key)).toBeGreaterThan(110_000);
    const shorter = new Family(createSecretKey(randomBytes(32)), family.userId);
    expect((await store.createSession(shorter.newSession(Date.now(), { deviceHash: 'fingerprint-1', absoluteTtlMs: 10_000 })))?.newDevice).toBe(false);
    expect(await client.zscore(key, '~fingerprint-1')).toBe(String(-(again?.absoluteExpiresAt as number)));
    // Listing, and the cap, see sessions only.
    expect((await store.listSessions(family.userId)).map((record) => record.sessionId)).toEqual([family.sessionId, later.sessionId, shorter.sessionId]);
    // revokeUser ends the sessions and leaves the seen devices alone.
    const ended = await store.revokeUser(family.userId, { revokedBefore: Date.now() + 1, retainMs: 60_000 });
    expect(ended.map((record) => record.sessionId).sort()).toEqual([family.sessionId, later.sessionId, shorter.sessionId].sort());
    expect(await client.zrange(key, 0, -1)).toEqual(['~fingerprint-1']);
    await store.close();
  });

  test('do not count toward maxSessionsPerUser', async () => {
    const { store } = await redisStore();
    const userId = `user-${randomBytes(6).toString('hex')}`;
    const families = [0, 1, 2].map(() => new Family(createSecretKey(randomBytes(32)), userId));
    for (const [index, family] of families.entries()) {
      expect(await store.createSession(family.newSession(Date.now() + index, { deviceHash: `device-${index}`, maxSessionsPerUser: 3 }))).not.toBeNull();
    }
    expect((await store.listSessions(userId)).map((record) => record.sessionId)).toEqual(families.map((family) => family.sessionId));
    await store.close();
  });
});

describe('claims changes in the revocation log', () => {
  test('one field per user in a hash of their own, holding the latest change and the latest end; feeds load it', async () => {
    const { store, client, prefix } = await redisStore();
    const keys = redisKeys(prefix);
    const first = Date.now();
    for (let round = 0; round < 5; round++) await store.markClaimsChanged('user-claims', { changedAt: first + round, retainMs: 60_000 });
    await store.markClaimsChanged('user-claims', { changedAt: first - 1_000, retainMs: 1_000 }); // older: moves nothing back
    expect(await client.hlen(keys.claims)).toBe(1);
    expect(await client.hget(keys.claims, 'user-claims')).toBe(`${first + 4} ${first + 4 + 60_000}`);
    expect(await client.exists(keys.users)).toBe(0);
    expect(await client.pttl(keys.claims)).toBeGreaterThan(50_000);
    expect(Number(await client.get(keys.version))).toBe(6);
    await store.close();
  });
});

describe('the revocation log stays small', () => {
  test('revoking one user again and again keeps one entry for them, holding the latest cut-off', async () => {
    const { store, client, prefix } = await redisStore();
    let latest = 0;
    for (let round = 0; round < 50; round++) {
      latest = Date.now() + round;
      await store.revokeUser('user-looping', { revokedBefore: latest, retainMs: 60_000 });
    }
    expect(await client.hlen(redisKeys(prefix).users)).toBe(1);
    expect(await client.hget(redisKeys(prefix).users, 'user-looping')).toBe(`${latest} ${latest + 60_000}`);
    expect(await client.exists(redisKeys(prefix).log)).toBe(0);
    expect(Number(await client.get(redisKeys(prefix).version))).toBe(50);
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
    await store.close();
  });

  test("stops what it owns: the revocation feed's subscriber connection goes, and no heartbeat is sent after it", async () => {
    const server = await startRedisServer(); // private, so no other suite's connections are counted
    const client = new IORedis({ port: server.port, host: '127.0.0.1' });
    try {
      const pubsubConnections = async () =>
        String(await client.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))
          .split('\n')
          .filter(Boolean).length;
      const auth = createAuth(authOptions(new RedisStore({ client, prefix: 'close:' }), { revocation: { maxStaleness: '200ms' } }));
      await auth.ready();
      expect(await pubsubConnections()).toBe(1);
      await auth.close();
      await sleep(100);
      expect(await pubsubConnections()).toBe(0);
      const heartbeats = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
      const before = await heartbeats();
      await sleep(300); // six heartbeat intervals of 50 ms
      expect(await heartbeats()).toBe(before);
    } finally {
      client.disconnect();
      await server.stop();
    }
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
