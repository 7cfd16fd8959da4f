// The shared SessionStore contract suite: every store (MemoryStore, RedisStore) must pass it unchanged.
import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import type {
  NewSession,
  PresentationOutcome,
  RevocationFeed,
  RevocationFeedOptions,
  RevocationVerdict,
  SessionRecord,
  SessionStore,
  StoreClock,
  TokenPresentation,
} from '../../lib/store/session-store';
import { deriveSuccessor, hashSecret, newRefreshSecret, newSessionId, type RefreshTokenKeys, refreshTokenKeys } from '../../lib/tokens/refresh-token';

/** What a store factory hands the contract: the store and, optionally, how to tidy up after one test. */
export interface StoreUnderTest {
  store: SessionStore;
  cleanup?: () => Promise<void>;
  /**
   * Another store object over the same data (RedisStore: same client and prefix), whose feeds learn
   * nothing locally from `store` and must load from the backend. Defaults to `store` itself.
   */
  sibling?: () => SessionStore;
}

const MINUTE = 60_000;
/** Defaults for the tests: generous enough that real time never expires anything by accident. */
const IDLE_TTL_MS = 10 * MINUTE;
const ABSOLUTE_TTL_MS = 60 * MINUTE;
const REUSE_GRACE_MS = 30_000;
const REVOCATION_TTL_MS = 15 * MINUTE;
const RETAIN_MS = 2 * ABSOLUTE_TTL_MS;
/** A short grace window for the window's edges in real time, and a sleep that surely leaves it. */
const SHORT_GRACE_MS = 300;
const PAST_SHORT_GRACE_MS = 400;
/** Fingerprints of two clients (what SessionService derives from IP address and User-Agent). */
export const CLIENT_A = 'client-a-fingerp';
export const CLIENT_B = 'client-b-fingerp';
/** Hashes of the `jti` of three device-key proofs (what SessionService derives for a key-bound family). */
const PROOF_1 = 'proof-1-jti-hash';
const PROOF_2 = 'proof-2-jti-hash';
const PROOF_3 = 'proof-3-jti-hash';
/** The key that authenticates the revocation channel in these tests (createAuth derives it from the refresh secret). */
export const CHANNEL_KEY = createSecretKey(randomBytes(32));
/** The options of every feed the contract opens. */
export const FEED_OPTIONS: RevocationFeedOptions = { maxStalenessMs: 5000, retainMs: 3_600_000, channelKey: CHANNEL_KEY };

/**
 * One refresh-token family as the core (lib/session-service.ts) would drive it: random first
 * secret, successors derived with the HMAC key, only hashes handed to the store.
 */
export class Family {
  readonly sessionId = newSessionId();
  /** Every secret the family has had, oldest first; the last is the current one. */
  readonly secrets: string[] = [newRefreshSecret()];

  private readonly keys: RefreshTokenKeys;

  constructor(
    key: KeyObject,
    readonly userId = `user-${randomBytes(6).toString('hex')}`,
  ) {
    this.keys = refreshTokenKeys(key);
  }

  get current(): string {
    return this.secrets[this.secrets.length - 1] as string;
  }

  successorOf(secret: string): string {
    return deriveSuccessor(this.keys, this.sessionId, secret);
  }

  newSession(now: number, overrides: Partial<NewSession> = {}): NewSession {
    return {
      sessionId: this.sessionId,
      userId: this.userId,
      claims: { role: 'admin', tenant: { id: 7, name: 'acme' } },
      device: 'Firefox 133 on Linux',
      network: '198.51.100.0/24',
      secretHash: hashSecret(this.secrets[0] as string),
      clientHash: CLIENT_A,
      now,
      idleTtlMs: IDLE_TTL_MS,
      absoluteTtlMs: ABSOLUTE_TTL_MS,
      maxSessionsPerUser: 100,
      revocationTtlMs: REVOCATION_TTL_MS,
      ...overrides,
    };
  }

  /** The presentation of `secret` the way SessionService.present builds it (the store reads its own clock). */
  presentation(secret: string, overrides: Partial<TokenPresentation> = {}): TokenPresentation {
    const generation = this.secrets.indexOf(secret);
    return {
      presentedHash: hashSecret(secret),
      successorHash: hashSecret(this.successorOf(secret)),
      // A secret the family never had (a forgery that got past the MAC would be one) claims the latest generation.
      generation: generation === -1 ? this.secrets.length - 1 : generation,
      clientHash: CLIENT_A,
      action: 'rotate',
      idleTtlMs: IDLE_TTL_MS,
      reuseGraceMs: REUSE_GRACE_MS,
      revocationTtlMs: REVOCATION_TTL_MS,
      ...overrides,
    };
  }

  /** Records that the current secret was rotated (call after the store answered `rotated`). */
  advance(): string {
    const next = this.successorOf(this.current);
    this.secrets.push(next);
    return next;
  }
}

export function sessionOf(outcome: PresentationOutcome): SessionRecord {
  if (!('session' in outcome)) throw new Error(`expected an outcome with a session, got ${JSON.stringify(outcome)}`);
  return outcome.session;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const sleepUntil = (at: number) => sleep(Math.max(0, at - Date.now()));

/** Opens a feed with {@link FEED_OPTIONS} and waits until it is loaded. */
export async function openLoadedFeed(store: SessionStore): Promise<RevocationFeed> {
  const feed = store.openRevocationFeed(FEED_OPTIONS);
  try {
    await feed.ready();
  } catch (error) {
    await feed.close();
    throw error;
  }
  return feed;
}

/**
 * A feed's verdict for a session whose login began now, asserting that the feed could answer at
 * all: a `stale` or `loading` feed must not pass for "not revoked".
 */
export function currentVerdict(feed: RevocationFeed, sessionId: string, userId: string): RevocationVerdict {
  const verdict = feed.verdict(sessionId, userId, Date.now());
  expect(['valid', 'revoked']).toContain(verdict);
  return verdict;
}

/**
 * Defines `describe(name)` with the contract every SessionStore must meet. `makeStore` is called
 * before each test and must return a fresh, empty store (or one whose keys no other test sees).
 */
export function describeStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`${name}: SessionStore contract`, () => {
    const key = createSecretKey(randomBytes(32));
    let ctx: StoreUnderTest;
    let store: SessionStore;
    /** The one feed of `store` that `isRevoked` asks, opened before each test. */
    let feed: RevocationFeed;
    /** Every other feed and sibling store a test opened, closed after it. */
    let extraFeeds: RevocationFeed[];
    let siblings: SessionStore[];

    beforeEach(async () => {
      ctx = await makeStore();
      store = ctx.store;
      extraFeeds = [];
      siblings = [];
      feed = await openLoadedFeed(store);
    });

    afterEach(async () => {
      await Promise.all([feed, ...extraFeeds].map((opened) => opened.close()));
      await Promise.all(siblings.filter((other) => other !== store).map((other) => other.close?.()));
      await ctx.cleanup?.();
    });

    /** Whether `store`'s feed refuses the session now (an access token of a login made just now). */
    function isRevoked(family: { sessionId: string; userId: string }): boolean {
      return currentVerdict(feed, family.sessionId, family.userId) === 'revoked';
    }

    /** Another store object over the same data (see {@link StoreUnderTest.sibling}), closed after the test. */
    function sibling(): SessionStore {
      const other = ctx.sibling?.() ?? store;
      siblings.push(other);
      return other;
    }

    /** A feed of `on`, loaded, closed after the test. */
    async function extraFeed(on: SessionStore): Promise<RevocationFeed> {
      const opened = await openLoadedFeed(on);
      extraFeeds.push(opened);
      return opened;
    }

    /** Creates a family in the store at `now` and returns it. */
    async function created(now = Date.now(), overrides: Partial<NewSession> = {}, userId?: string): Promise<Family> {
      const family = new Family(key, userId);
      expect(await store.createSession(family.newSession(now, overrides))).not.toBeNull();
      return family;
    }

    /**
     * Rotates the family's current token, asserting it rotated at a time of the store's clock
     * within the call, with the idle deadline slid from then (or capped by the absolute one).
     */
    async function rotate(family: Family, overrides: Partial<TokenPresentation> = {}): Promise<SessionRecord> {
      const before = Date.now();
      const outcome = await store.presentToken(family.sessionId, family.presentation(family.current, overrides));
      const after = Date.now();
      expect(outcome.status).toBe('rotated');
      family.advance();
      const record = sessionOf(outcome);
      expect(record.lastUsedAt).toBeGreaterThanOrEqual(before);
      expect(record.lastUsedAt).toBeLessThanOrEqual(after);
      expect(record.expiresAt).toBe(Math.min(record.lastUsedAt + (overrides.idleTtlMs ?? IDLE_TTL_MS), record.absoluteExpiresAt));
      return record;
    }

    describe('createSession, getSession, listSessions', () => {
      test('createSession, getSession and listSessions return the created record', async () => {
        const now = Date.now();
        const family = new Family(key);
        const returned = await store.createSession(family.newSession(now));
        const expected: SessionRecord = {
          sessionId: family.sessionId,
          userId: family.userId,
          claims: { role: 'admin', tenant: { id: 7, name: 'acme' } },
          userAgent: 'Firefox 133 on Linux',
          device: 'Firefox 133 on Linux',
          network: '198.51.100.0/24',
          createdAt: now,
          lastUsedAt: now,
          expiresAt: now + IDLE_TTL_MS,
          absoluteExpiresAt: now + ABSOLUTE_TTL_MS,
        };
        expect(returned).toEqual(expected);
        expect(await store.getSession(family.sessionId)).toEqual(expected);
        expect(await store.listSessions(family.userId)).toEqual([expected]);
      });

      test('createdAt is the login start it was given, even in the past', async () => {
        const loginBegan = Date.now() - 5_000;
        const family = await created(loginBegan);
        const record = await store.getSession(family.sessionId);
        expect(record?.createdAt).toBe(loginBegan);
        expect(record?.lastUsedAt).toBe(loginBegan);
        expect(record?.expiresAt).toBe(loginBegan + IDLE_TTL_MS);
        expect(record?.absoluteExpiresAt).toBe(loginBegan + ABSOLUTE_TTL_MS);
      });

      test('expiresAt is capped by the absolute deadline when absoluteTtl < idleTtl', async () => {
        const now = Date.now();
        const family = await created(now, { idleTtlMs: 20 * MINUTE, absoluteTtlMs: 5 * MINUTE });
        const record = await store.getSession(family.sessionId);
        expect(record?.expiresAt).toBe(now + 5 * MINUTE);
        expect(record?.absoluteExpiresAt).toBe(now + 5 * MINUTE);
      });

      test('empty device and network labels and empty claims round-trip', async () => {
        const now = Date.now();
        const family = await created(now, { device: '', network: '', claims: {} });
        const record = await store.getSession(family.sessionId);
        expect(record).toMatchObject({ device: '', network: '', userAgent: '', claims: {} });
      });

      test('the device and network labels are kept as given (userAgent repeats the device label) through rotation, listing and revocation', async () => {
        const labels = { device: 'Safari 17 on iPhone', network: '2001:db8:1234::/48' };
        const family = await created(Date.now(), labels);
        const expected = { ...labels, userAgent: labels.device };
        expect(await store.getSession(family.sessionId)).toMatchObject(expected);
        expect(await rotate(family)).toMatchObject(expected);
        expect(await store.listSessions(family.userId)).toMatchObject([expected]);
        expect(await store.revokeSession(family.sessionId, REVOCATION_TTL_MS)).toMatchObject(expected);
      });

      test('returned records are snapshots: mutating one does not change the stored session', async () => {
        const family = await created();
        const first = (await store.getSession(family.sessionId)) as SessionRecord;
        first.userId = 'mallory';
        first.expiresAt = 0;
        (first.claims as { role: string }).role = 'mutated';
        (first.claims as { tenant: { id: number } }).tenant.id = 666;
        const second = await store.getSession(family.sessionId);
        expect(second?.userId).toBe(family.userId);
        expect(second?.expiresAt).toBeGreaterThan(0);
        expect(second?.claims).toEqual({ role: 'admin', tenant: { id: 7, name: 'acme' } });
      });

      test('creating a session beyond maxSessionsPerUser ends the oldest: gone from the list, its access tokens refused by the feed', async () => {
        const base = Date.now(); // after the feed loaded: logins from before it would be refused anyway
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const oldest = await created(base, { maxSessionsPerUser: 2 }, userId);
        const middle = await created(base + 1, { maxSessionsPerUser: 2 }, userId);
        // An access token carries its session's login start (auth_time).
        expect(feed.verdict(oldest.sessionId, userId, base)).toBe('valid');
        const newest = await created(base + 2, { maxSessionsPerUser: 2 }, userId);
        expect((await store.listSessions(userId)).map((record) => record.sessionId)).toEqual([middle.sessionId, newest.sessionId]);
        expect(await store.getSession(oldest.sessionId)).toBeNull();
        expect(feed.verdict(oldest.sessionId, userId, base)).toBe('revoked');
        expect(feed.verdict(middle.sessionId, userId, base + 1)).toBe('valid');
        expect(feed.verdict(newest.sessionId, userId, base + 2)).toBe('valid');
      });

      test('the cap ends only as many sessions as it must, even when logins began in the same millisecond as the last one it ends', async () => {
        const base = Date.now();
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const twins = [await created(base, { maxSessionsPerUser: 2 }, userId), await created(base, { maxSessionsPerUser: 2 }, userId)];
        const newest = await created(base + 1, { maxSessionsPerUser: 2 }, userId);
        const listed = (await store.listSessions(userId)).map((record) => record.sessionId);
        expect(listed).toHaveLength(2);
        expect(listed).toContain(newest.sessionId);
        const kept = twins.filter((twin) => listed.includes(twin.sessionId));
        expect(kept).toHaveLength(1);
        expect(feed.verdict(kept[0]?.sessionId as string, userId, base)).toBe('valid');
        expect(feed.verdict(newest.sessionId, userId, base + 1)).toBe('valid');
      });

      test('the cap counts live sessions only: an expired one does not make a live one go', async () => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const cap = { maxSessionsPerUser: 2, idleTtlMs: 1_500 };
        const kept = await created(Date.now() - 1_400, cap, userId);
        await rotate(kept); // now lives on (idle deadline moved ten minutes out)
        await created(Date.now() - 1_390, cap, userId); // expires about 100 ms from now
        await sleep(250);
        const newest = await created(Date.now(), cap, userId);
        expect((await store.listSessions(userId)).map((record) => record.sessionId)).toEqual([kept.sessionId, newest.sessionId]);
        expect(isRevoked(kept)).toBe(false);
      });

      test('discardSession removes a family nobody was given, and an unknown id is a no-op', async () => {
        const family = await created();
        const kept = await created(Date.now(), {}, family.userId);
        await store.discardSession(family.sessionId);
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect((await store.listSessions(family.userId)).map((record) => record.sessionId)).toEqual([kept.sessionId]);
        expect((await store.presentToken(family.sessionId, family.presentation(family.current))).status).toBe('missing');
        await expect(store.discardSession(newSessionId())).resolves.toBeUndefined();
      });

      test('getSession of an unknown id is null; listSessions of an unknown user is empty', async () => {
        expect(await store.getSession(newSessionId())).toBeNull();
        expect(await store.listSessions(`nobody-${randomBytes(6).toString('hex')}`)).toEqual([]);
      });

      test("listSessions returns only that user's live sessions, oldest first", async () => {
        const base = Date.now() - 1_000;
        const userId = `user-${randomBytes(6).toString('hex')}`;
        // Created newest first, so insertion order and age order disagree.
        const newest = await created(base + 30, {}, userId);
        const revoked = await created(base + 20, {}, userId);
        const middle = await created(base + 10, {}, userId);
        const oldest = await created(base, {}, userId);
        const other = await created(base + 5);
        expect(await store.revokeSession(revoked.sessionId, REVOCATION_TTL_MS)).not.toBeNull();

        const mine = await store.listSessions(userId);
        expect(mine.map((record) => record.sessionId)).toEqual([oldest.sessionId, middle.sessionId, newest.sessionId]);
        expect(mine.map((record) => record.createdAt)).toEqual([base, base + 10, base + 30]);
        expect(mine.every((record) => record.userId === userId)).toBe(true);
        expect((await store.listSessions(other.userId)).map((record) => record.sessionId)).toEqual([other.sessionId]);
      });
    });

    describe('createSession: new devices (deviceHash)', () => {
      const login = (userId: string, deviceHash?: string, overrides: Partial<NewSession> = {}) => {
        const family = new Family(key, userId);
        return store.createSession(family.newSession(Date.now(), deviceHash === undefined ? overrides : { ...overrides, deviceHash }));
      };

      test("a user's first device is new, the same one again is not, another one is; without a deviceHash nothing is said", async () => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const first = await login(userId);
        expect(first).not.toBeNull();
        expect(first).not.toHaveProperty('newDevice');
        expect((await login(userId, 'device-a'))?.newDevice).toBe(true);
        expect((await login(userId, 'device-a'))?.newDevice).toBe(false);
        expect((await login(userId, 'device-b'))?.newDevice).toBe(true);
        expect((await login(userId, 'device-a'))?.newDevice).toBe(false);
        // Devices are the user's own: another user's first login from the same one is new to them.
        expect((await login(`${userId}-other`, 'device-a'))?.newDevice).toBe(true);
        // The flag rides on the record only: what the store keeps and lists has no such field.
        for (const record of await store.listSessions(userId)) expect(record).not.toHaveProperty('newDevice');
      });

      test('a device stays known while a session from it could live, even once that session ended', async () => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const created = await login(userId, 'device-a');
        expect(created?.newDevice).toBe(true);
        await store.revokeSession(created?.sessionId as string, REVOCATION_TTL_MS);
        expect(await store.listSessions(userId)).toEqual([]);
        expect((await login(userId, 'device-a'))?.newDevice).toBe(false);
      });

      test('a device whose sessions have all passed their absolute deadline is new again', async () => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        expect((await login(userId, 'device-a', { idleTtlMs: 200, absoluteTtlMs: 200 }))?.newDevice).toBe(true);
        expect((await login(userId, 'device-a'))?.newDevice).toBe(false);
        expect((await login(userId, 'device-b', { idleTtlMs: 200, absoluteTtlMs: 200 }))?.newDevice).toBe(true);
        await sleep(300);
        // device-a lives on through its second, long session; device-b's only session has passed its deadline.
        expect((await login(userId, 'device-a'))?.newDevice).toBe(false);
        expect((await login(userId, 'device-b'))?.newDevice).toBe(true);
      });

      test('a login refused because the user was revoked after it began records no device', async () => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const began = Date.now() - 1_000;
        await store.revokeUser(userId, { revokedBefore: began + 1, retainMs: RETAIN_MS });
        const refused = new Family(key, userId);
        expect(await store.createSession(refused.newSession(began, { deviceHash: 'device-a' }))).toBeNull();
        expect((await login(userId, 'device-a'))?.newDevice).toBe(true);
      });
    });

    describe('presentToken: rotation', () => {
      test('the current hash rotates at the store’s time: lastUsedAt and expiresAt move, absoluteExpiresAt does not', async () => {
        const createdAt = Date.now() - 5_000;
        const family = await created(createdAt);
        const before = Date.now();
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.current));
        const after = Date.now();
        expect(outcome.status).toBe('rotated');
        const session = sessionOf(outcome);
        expect(session.lastUsedAt).toBeGreaterThanOrEqual(before);
        expect(session.lastUsedAt).toBeLessThanOrEqual(after);
        const expected: SessionRecord = {
          sessionId: family.sessionId,
          userId: family.userId,
          claims: { role: 'admin', tenant: { id: 7, name: 'acme' } },
          userAgent: 'Firefox 133 on Linux',
          device: 'Firefox 133 on Linux',
          network: '198.51.100.0/24',
          createdAt,
          lastUsedAt: session.lastUsedAt,
          expiresAt: session.lastUsedAt + IDLE_TTL_MS,
          absoluteExpiresAt: createdAt + ABSOLUTE_TTL_MS,
        };
        expect(session).toEqual(expected);
        expect(await store.getSession(family.sessionId)).toEqual(expected);
        expect(await store.listSessions(family.userId)).toEqual([expected]);
      });

      test('successive successors keep rotating; each rotation slides the idle deadline', async () => {
        const createdAt = Date.now() - 5_000;
        const family = await created(createdAt);
        let previousUse = createdAt;
        for (let step = 1; step <= 4; step++) {
          const record = await rotate(family);
          expect(record.lastUsedAt).toBeGreaterThanOrEqual(previousUse);
          expect(record.expiresAt).toBe(record.lastUsedAt + IDLE_TTL_MS);
          expect(record.createdAt).toBe(createdAt);
          previousUse = record.lastUsedAt;
        }
        expect(previousUse).toBeGreaterThan(createdAt);
        // The token two rotations back is not current any more: it is never rotated again.
        const stale = await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string));
        expect(stale.status).not.toBe('rotated');
      });

      test('a rotation resets the idle deadline: a family used in time outlives its first idle deadline', async () => {
        const idleTtlMs = 1_500;
        // Logins that began 1.1 s ago: their first idle deadline is 400 ms from now.
        const createdAt = Date.now() - 1_100;
        const used = await created(createdAt, { idleTtlMs });
        const unused = await created(createdAt, { idleTtlMs });
        const rotated = await rotate(used, { idleTtlMs });
        expect(rotated.expiresAt).toBe(rotated.lastUsedAt + idleTtlMs);
        expect(rotated.expiresAt).toBeGreaterThan(createdAt + idleTtlMs);

        await sleepUntil(createdAt + idleTtlMs + 100);
        // Past the original createdAt + idleTtl, but within lastUse + idleTtl.
        expect(await store.getSession(unused.sessionId)).toBeNull();
        expect(await store.presentToken(unused.sessionId, unused.presentation(unused.current, { idleTtlMs }))).toEqual({ status: 'missing' });
        await rotate(used, { idleTtlMs });
      });

      test('expiresAt never goes beyond absoluteExpiresAt, however late the rotation', async () => {
        const absoluteTtlMs = 10 * MINUTE;
        // A login that began 4 minutes ago: its absolute deadline is 6 minutes from now.
        const createdAt = Date.now() - 4 * MINUTE;
        const family = await created(createdAt, { idleTtlMs: 5 * MINUTE, absoluteTtlMs });
        const early = await rotate(family, { idleTtlMs: 5 * MINUTE });
        expect(early.expiresAt).toBe(early.lastUsedAt + 5 * MINUTE);
        expect(early.expiresAt).toBeLessThan(createdAt + absoluteTtlMs);
        expect(early.absoluteExpiresAt).toBe(createdAt + absoluteTtlMs);
        // A longer idle TTL would reach past the absolute deadline: capped.
        for (const idleTtlMs of [7 * MINUTE, 30 * MINUTE]) {
          const late = await rotate(family, { idleTtlMs });
          expect(late.lastUsedAt + idleTtlMs).toBeGreaterThan(createdAt + absoluteTtlMs);
          expect(late.expiresAt).toBe(createdAt + absoluteTtlMs);
          expect(late.absoluteExpiresAt).toBe(createdAt + absoluteTtlMs);
        }
        expect((await store.getSession(family.sessionId))?.expiresAt).toBe(createdAt + absoluteTtlMs);
      });
    });

    describe('presentToken: grace window and reuse', () => {
      test('the previous hash inside the grace window is retried and changes nothing', async () => {
        const family = await created(Date.now() - 5_000);
        const afterRotation = await rotate(family);
        const previous = family.secrets[0] as string;

        for (let attempt = 0; attempt < 3; attempt++) {
          const retried = await store.presentToken(family.sessionId, family.presentation(previous));
          expect(retried.status).toBe('retried');
          expect(sessionOf(retried)).toEqual(afterRotation);
          expect(await store.getSession(family.sessionId)).toEqual(afterRotation);
        }
        expect(isRevoked(family)).toBe(false);

        // The successor already issued is still the current token: presenting it rotates.
        const next = await rotate(family);
        expect(next.lastUsedAt).toBeGreaterThanOrEqual(afterRotation.lastUsedAt);
      });

      test('the previous hash after the grace window is reuse: the family is revoked', async () => {
        const reuseGraceMs = SHORT_GRACE_MS;
        const family = await created(Date.now() - 5_000);
        const afterRotation = await rotate(family);
        const previous = family.secrets[0] as string;
        // Inside the short window it is still a retry...
        expect((await store.presentToken(family.sessionId, family.presentation(previous, { reuseGraceMs }))).status).toBe('retried');

        // ...and once the store's clock has left it, reuse.
        await sleepUntil(afterRotation.lastUsedAt + PAST_SHORT_GRACE_MS);
        const outcome = await store.presentToken(family.sessionId, family.presentation(previous, { reuseGraceMs }));
        expect(outcome.status).toBe('reuse');
        expect(sessionOf(outcome)).toEqual(afterRotation);
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(await store.listSessions(family.userId)).toEqual([]);
        expect(isRevoked(family)).toBe(true);
        // The family's current token stops working too.
        const current = await store.presentToken(family.sessionId, family.presentation(family.current));
        expect(current).toEqual({ status: 'missing' });
      });

      test('reuseGraceMs 0 disables the window: the previous hash is reuse even at once', async () => {
        const family = await created();
        await rotate(family);
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string, { reuseGraceMs: 0 }));
        expect(outcome.status).toBe('reuse');
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(isRevoked(family)).toBe(true);
      });

      test('the grandparent (its successor is the previous token) is reuse even inside the window', async () => {
        const family = await created();
        await rotate(family);
        await rotate(family);
        const grandparent = family.secrets[0] as string;
        const presentation = family.presentation(grandparent);
        expect(presentation.successorHash).toBe(hashSecret(family.secrets[1] as string));

        const outcome = await store.presentToken(family.sessionId, presentation);
        expect(outcome.status).toBe('reuse');
        expect(sessionOf(outcome).sessionId).toBe(family.sessionId);
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(isRevoked(family)).toBe(true);
        expect((await store.presentToken(family.sessionId, family.presentation(family.current))).status).toBe('missing');
      });

      test('a secret of no generation this family had is unknown and changes nothing (forgeries never revoke)', async () => {
        const family = await created();
        const forged = newRefreshSecret();
        expect(await store.presentToken(family.sessionId, family.presentation(forged))).toEqual({ status: 'unknown' });

        await rotate(family);
        const afterTwo = await rotate(family);
        // Claiming the current generation (or a later one) with a secret that is not the family's.
        expect(await store.presentToken(family.sessionId, family.presentation(forged, { generation: 2 }))).toEqual({ status: 'unknown' });
        expect(await store.presentToken(family.sessionId, family.presentation(forged, { generation: 7 }))).toEqual({ status: 'unknown' });
        const revokeAttempt = await store.presentToken(family.sessionId, family.presentation(forged, { generation: 2, action: 'revoke' }));
        expect(revokeAttempt.status).toBe('unknown');

        expect(await store.getSession(family.sessionId)).toEqual(afterTwo);
        expect(isRevoked(family)).toBe(false);
        // The previous one is still inside its window and the current one still rotates.
        expect((await store.presentToken(family.sessionId, family.presentation(family.secrets[1] as string))).status).toBe('retried');
        await rotate(family);
      });

      test('an earlier generation is reuse in one step, however long ago: after 50 rotations, the first token revokes', async () => {
        const family = await created();
        for (let i = 0; i < 50; i++) await rotate(family);
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string));
        expect(outcome.status).toBe('reuse');
        expect(isRevoked(family)).toBe(true);
      });

      test('the previous token inside the window from another client is reuse, never the successor', async () => {
        const family = await created();
        await rotate(family);
        const replay = await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string, { clientHash: CLIENT_B }));
        expect(replay.status).toBe('reuse');
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(isRevoked(family)).toBe(true);
      });

      test('a rotation records its client: the retry must come from the client that rotated, not the one that logged in', async () => {
        const family = await created(); // logged in as CLIENT_A
        await rotate(family, { clientHash: CLIENT_B });
        const fromB = await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string, { clientHash: CLIENT_B }));
        expect(fromB.status).toBe('retried');
        const fromA = await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string, { clientHash: CLIENT_A }));
        expect(fromA.status).toBe('reuse');
      });

      test('20 concurrent presentations of the current token: exactly one rotated, 19 retried', async () => {
        const family = await created();
        const token = family.current;
        const outcomes = await Promise.all(Array.from({ length: 20 }, () => store.presentToken(family.sessionId, family.presentation(token))));
        const statuses = outcomes.map((outcome) => outcome.status);
        expect(statuses.filter((status) => status === 'rotated')).toHaveLength(1);
        expect(statuses.filter((status) => status === 'retried')).toHaveLength(19);
        const rotated = outcomes.find((outcome) => outcome.status === 'rotated') as PresentationOutcome;
        for (const outcome of outcomes) expect(sessionOf(outcome)).toEqual(sessionOf(rotated));
        expect(isRevoked(family)).toBe(false);

        // One successor only: the derived one is current.
        family.advance();
        expect((await store.presentToken(family.sessionId, family.presentation(family.current))).status).toBe('rotated');
      });
    });

    describe('a family bound to a device key', () => {
      test('says so in every record the store answers (create, rotate, retry, get, list, revoke); an unbound one has no bound field', async () => {
        const now = Date.now();
        const boundFamily = new Family(key);
        const createdRecord = await store.createSession(boundFamily.newSession(now, { bound: true }));
        expect(createdRecord?.bound).toBe(true);
        const rotatedRecord = await rotate(boundFamily, { proofHash: PROOF_1 });
        expect(rotatedRecord.bound).toBe(true);
        const retried = await store.presentToken(boundFamily.sessionId, boundFamily.presentation(boundFamily.secrets[0] as string, { proofHash: PROOF_2 }));
        expect(sessionOf(retried).bound).toBe(true);
        expect((await store.getSession(boundFamily.sessionId))?.bound).toBe(true);
        expect((await store.listSessions(boundFamily.userId)).map((record) => record.bound)).toEqual([true]);

        const unbound = await created(now);
        const unboundRecord = await store.getSession(unbound.sessionId);
        expect(unboundRecord).not.toBeNull();
        expect(unboundRecord as SessionRecord).not.toHaveProperty('bound');
        expect(await rotate(unbound)).not.toHaveProperty('bound');

        expect((await store.revokeSession(boundFamily.sessionId, REVOCATION_TTL_MS))?.bound).toBe(true);
      });
    });

    describe('presentToken: a replayed proof (proofHash)', () => {
      test('the previous token with the proof its rotation recorded is a replayed proof: unknown, whatever the window, client or action, and nothing changes', async () => {
        const family = await created(Date.now() - 5_000);
        const afterRotation = await rotate(family, { proofHash: PROOF_1 });
        const previous = family.secrets[0] as string;

        const replays: Array<Partial<TokenPresentation>> = [
          { proofHash: PROOF_1 },
          { proofHash: PROOF_1, reuseGraceMs: 0 },
          { proofHash: PROOF_1, clientHash: CLIENT_B },
          { proofHash: PROOF_1, action: 'revoke' },
        ];
        for (const overrides of replays) {
          expect(await store.presentToken(family.sessionId, family.presentation(previous, overrides))).toEqual({ status: 'unknown' });
          expect(await store.getSession(family.sessionId)).toEqual(afterRotation);
        }
        expect(isRevoked(family)).toBe(false);

        // Nothing changed: the successor already issued is still the current token, and rotates.
        const next = await rotate(family, { proofHash: PROOF_2 });
        expect(next.lastUsedAt).toBeGreaterThanOrEqual(afterRotation.lastUsedAt);
      });

      test('the previous token with a fresh proof inside the window from the same client is retried; from another client it is reuse', async () => {
        const family = await created(Date.now() - 5_000);
        const afterRotation = await rotate(family, { proofHash: PROOF_1 });
        const previous = family.secrets[0] as string;

        const retried = await store.presentToken(family.sessionId, family.presentation(previous, { proofHash: PROOF_2 }));
        expect(retried.status).toBe('retried');
        expect(sessionOf(retried)).toEqual(afterRotation);
        // A retry records nothing: the rotation's proof is still the one refused as replayed.
        expect(await store.presentToken(family.sessionId, family.presentation(previous, { proofHash: PROOF_1 }))).toEqual({ status: 'unknown' });
        expect(await store.getSession(family.sessionId)).toEqual(afterRotation);
        expect(isRevoked(family)).toBe(false);

        // The window is still bound to the client that rotated: a fresh proof from another one is reuse.
        const other = await store.presentToken(family.sessionId, family.presentation(previous, { proofHash: PROOF_3, clientHash: CLIENT_B }));
        expect(other.status).toBe('reuse');
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(isRevoked(family)).toBe(true);
      });

      test('a replay of the recorded proof after the grace window is still unknown, not reuse: the family lives on', async () => {
        const reuseGraceMs = SHORT_GRACE_MS;
        const family = await created(Date.now() - 5_000);
        const afterRotation = await rotate(family, { proofHash: PROOF_1 });
        const previous = family.secrets[0] as string;

        await sleepUntil(afterRotation.lastUsedAt + PAST_SHORT_GRACE_MS);
        const replay = await store.presentToken(family.sessionId, family.presentation(previous, { proofHash: PROOF_1, reuseGraceMs }));
        expect(replay).toEqual({ status: 'unknown' });
        expect(await store.getSession(family.sessionId)).toEqual(afterRotation);
        expect(isRevoked(family)).toBe(false);
        await rotate(family, { proofHash: PROOF_2 });
      });

      test('without proofHash a presentation is judged as before, also after a rotation that recorded one; a rotation without one records none', async () => {
        // Rotated with a proof: a retry without one is still answered to the client that rotated, and is reuse from another.
        const bound = await created();
        const boundRotation = await rotate(bound, { proofHash: PROOF_1 });
        const boundRetry = await store.presentToken(bound.sessionId, bound.presentation(bound.secrets[0] as string));
        expect(boundRetry.status).toBe('retried');
        expect(sessionOf(boundRetry)).toEqual(boundRotation);
        expect((await store.presentToken(bound.sessionId, bound.presentation(bound.secrets[0] as string, { clientHash: CLIENT_B }))).status).toBe('reuse');
        expect(isRevoked(bound)).toBe(true);

        // Rotated without a proof: no proof is recorded, so any proof with the previous token is an ordinary retry.
        const unbound = await created();
        await rotate(unbound);
        for (const proofHash of [PROOF_1, PROOF_2]) {
          expect((await store.presentToken(unbound.sessionId, unbound.presentation(unbound.secrets[0] as string, { proofHash }))).status).toBe('retried');
        }
        expect(isRevoked(unbound)).toBe(false);
        await rotate(unbound);
      });
    });

    describe('presentToken: revoke action', () => {
      test('revoke with the current hash ends the family', async () => {
        const family = await created();
        const before = await store.getSession(family.sessionId);
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.current, { action: 'revoke' }));
        expect(outcome.status).toBe('revoked');
        expect(sessionOf(outcome)).toEqual(before);
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(await store.listSessions(family.userId)).toEqual([]);
        expect(isRevoked(family)).toBe(true);
        expect((await store.presentToken(family.sessionId, family.presentation(family.current))).status).toBe('missing');
      });

      test('revoke with the previous hash ends the family: revoked inside the window, reuse outside it', async () => {
        const reuseGraceMs = SHORT_GRACE_MS;
        const inside = await created();
        const outside = await created();
        await rotate(inside);
        const outsideRotation = await rotate(outside);
        const cases: Array<[Family, 'revoked' | 'reuse']> = [
          [inside, 'revoked'],
          [outside, 'reuse'],
        ];
        for (const [family, status] of cases) {
          if (family === outside) await sleepUntil(outsideRotation.lastUsedAt + PAST_SHORT_GRACE_MS);
          const outcome = await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string, { action: 'revoke', reuseGraceMs }));
          expect(outcome.status).toBe(status);
          expect(sessionOf(outcome).userId).toBe(family.userId);
          expect(await store.getSession(family.sessionId)).toBeNull();
          expect(isRevoked(family)).toBe(true);
          expect((await store.presentToken(family.sessionId, family.presentation(family.current))).status).toBe('missing');
        }
      });
    });

    describe('presentToken: missing and expired', () => {
      test('an unknown session id is missing', async () => {
        const family = new Family(key);
        expect(await store.presentToken(family.sessionId, family.presentation(family.current))).toEqual({ status: 'missing' });
        expect(isRevoked(family)).toBe(false);
      });

      test('a presentation at or after the idle deadline is missing; just before it rotates', async () => {
        const idleTtlMs = 1_000;
        const now = Date.now();
        // Its idle deadline is the moment it was created: any presentation is at or after it.
        const dead = await created(now - idleTtlMs, { idleTtlMs });
        const later = await created(now - 5 * idleTtlMs, { idleTtlMs });
        // 300 ms left: one rotates at once, the other is presented once its deadline has passed.
        const alive = await created(now - idleTtlMs + 300, { idleTtlMs });
        const expiring = await created(now - idleTtlMs + 300, { idleTtlMs });
        for (const family of [dead, later]) {
          expect(await store.presentToken(family.sessionId, family.presentation(family.current, { idleTtlMs }))).toEqual({ status: 'missing' });
          expect(await store.getSession(family.sessionId)).toBeNull();
        }
        await rotate(alive, { idleTtlMs });
        expect(await store.getSession(expiring.sessionId)).not.toBeNull();
        await sleepUntil(now + 300 + 100);
        expect(await store.presentToken(expiring.sessionId, expiring.presentation(expiring.current, { idleTtlMs }))).toEqual({ status: 'missing' });
        expect((await store.listSessions(expiring.userId)).map((record) => record.sessionId)).toEqual([]);
        // Expiry is not revocation.
        expect(isRevoked(expiring)).toBe(false);
      });

      test('a presentation after the absolute deadline is missing even for a family in constant use', async () => {
        const absoluteTtlMs = 10 * MINUTE;
        const idleTtlMs = 450;
        // A login whose absolute deadline is 750 ms from now, used every 200 ms (well within idleTtl).
        const createdAt = Date.now() - absoluteTtlMs + 750;
        const deadline = createdAt + absoluteTtlMs;
        const family = await created(createdAt, { idleTtlMs: absoluteTtlMs, absoluteTtlMs });
        for (const offset of [0, 200, 400, 600]) {
          await sleepUntil(createdAt + absoluteTtlMs - 750 + offset);
          const record = await rotate(family, { idleTtlMs });
          expect(record.expiresAt).toBeLessThanOrEqual(deadline);
          expect(record.absoluteExpiresAt).toBe(deadline);
        }
        expect((await store.getSession(family.sessionId))?.expiresAt).toBe(deadline);
        await sleepUntil(deadline + 50);
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.current, { idleTtlMs }));
        expect(outcome).toEqual({ status: 'missing' });
        expect(await store.getSession(family.sessionId)).toBeNull();
      });
    });

    describe('revokeSession and the revocation feed', () => {
      test('the feed answers valid for a live session and for an unknown id', async () => {
        const family = await created();
        expect(isRevoked(family)).toBe(false);
        expect(isRevoked({ sessionId: newSessionId(), userId: family.userId })).toBe(false);
      });

      test('revokeSession ends the session, returns its record and has the feed refuse it', async () => {
        const createdAt = Date.now() - 5_000;
        const family = await created(createdAt);
        const keep = await created(createdAt + 1, {}, family.userId);
        const record = await store.getSession(family.sessionId);

        expect(await store.revokeSession(family.sessionId, REVOCATION_TTL_MS)).toEqual(record);
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(isRevoked(family)).toBe(true);
        expect(isRevoked(keep)).toBe(false);
        expect((await store.listSessions(family.userId)).map((r) => r.sessionId)).toEqual([keep.sessionId]);
        expect((await store.presentToken(family.sessionId, family.presentation(family.current))).status).toBe('missing');
        // Revoking again finds nothing to end, and the session stays revoked.
        expect(await store.revokeSession(family.sessionId, REVOCATION_TTL_MS)).toBeNull();
        expect(isRevoked(family)).toBe(true);
      });

      test('revokeSession of an unknown id returns null', async () => {
        expect(await store.revokeSession(newSessionId(), REVOCATION_TTL_MS)).toBeNull();
      });

      test('a revocation with a short revocationTtlMs is refused at once', async () => {
        const family = await created();
        expect(await store.revokeSession(family.sessionId, 300)).not.toBeNull();
        expect(isRevoked(family)).toBe(true);
        expect(await store.getSession(family.sessionId)).toBeNull();
      });

      test("a revoked session is 'revoked' in a feed opened before the revocation and in one opened after it", async () => {
        const family = await created();
        const other = await created(Date.now(), {}, family.userId);
        const early = await extraFeed(store);
        expect(currentVerdict(early, family.sessionId, family.userId)).toBe('valid');

        await store.revokeSession(family.sessionId, REVOCATION_TTL_MS);
        // Applied at once to the store's own feeds: no waiting for a message.
        expect(early.verdict(family.sessionId, family.userId, Date.now())).toBe('revoked');
        expect(early.verdict(other.sessionId, other.userId, Date.now())).toBe('valid');

        // A feed opened afterwards (on another store object over the same data) loads it.
        const late = await extraFeed(sibling());
        expect(late.verdict(family.sessionId, family.userId, Date.now())).toBe('revoked');
        expect(late.verdict(other.sessionId, other.userId, Date.now())).toBe('valid');
      });

      test('reuse revocations reach feeds opened before and after, like revokeSession', async () => {
        const family = await created();
        const early = await extraFeed(store);
        await rotate(family);
        expect((await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string, { reuseGraceMs: 0 }))).status).toBe('reuse');
        expect(early.verdict(family.sessionId, family.userId, Date.now())).toBe('revoked');
        const late = await extraFeed(sibling());
        expect(late.verdict(family.sessionId, family.userId, Date.now())).toBe('revoked');
        expect(late.verdict(newSessionId(), family.userId, Date.now())).toBe('valid');
      });

      test("a feed refuses logins from before the store's data began (its epoch), not later ones", async () => {
        const family = await created();
        expect(feed.verdict(family.sessionId, family.userId, Date.now())).toBe('valid');
        expect(feed.verdict(family.sessionId, family.userId, 0)).toBe('revoked');
        expect(feed.verdict(family.sessionId, family.userId, Date.now() - 24 * 60 * MINUTE)).toBe('revoked');
      });
    });

    describe('the store’s clock (what login starts and revokeUser marks are times of)', () => {
      /** The store's clock: both stores have one. */
      function clockOf(): StoreClock {
        expect(store.clock).toBeDefined();
        return store.clock as StoreClock;
      }

      test('read() is the store’s time (on this machine, this process’s within a few ms); now() agrees without a round trip', async () => {
        const before = Date.now();
        const read = await clockOf().read();
        const after = Date.now();
        expect(read).toBeGreaterThanOrEqual(before - 1);
        expect(read).toBeLessThanOrEqual(after + 1);
        // now() adds an offset estimated from a round trip, good to half of one: a few ms on a quiet
        // machine, more under a loaded test run's round trips; a real skew is seconds.
        expect(Math.abs(clockOf().now() - Date.now())).toBeLessThanOrEqual(25);
      });

      test('a mark just past a reading ends the login started at that reading; a login started once the clock passed the mark is kept', async () => {
        const startedAt = Math.floor(await clockOf().read());
        const early = await created(startedAt);
        const revokedBefore = startedAt + 1;
        await store.revokeUser(early.userId, { revokedBefore, retainMs: RETAIN_MS });
        let laterStart = Math.floor(await clockOf().read());
        while (laterStart < revokedBefore) {
          await sleep(1);
          laterStart = Math.floor(await clockOf().read());
        }
        const later = new Family(key, early.userId);
        expect(await store.createSession(later.newSession(laterStart))).not.toBeNull();
        expect(await store.getSession(early.sessionId)).toBeNull();
        expect(feed.verdict(early.sessionId, early.userId, startedAt)).toBe('revoked');
        expect(feed.verdict(later.sessionId, later.userId, laterStart)).toBe('valid');
      });
    });

    describe('revokeUser', () => {
      /** A cut-off a little after the feed was loaded, so times just before it are not refused by the epoch. */
      async function cutOff(): Promise<number> {
        await sleep(30);
        return Date.now();
      }

      test('ends exactly the sessions created before revokedBefore and resolves with their records', async () => {
        const revokedBefore = await cutOff();
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const old = await created(revokedBefore - 5_000, {}, userId);
        const justBefore = await created(revokedBefore - 1, {}, userId);
        const atCut = await created(revokedBefore, {}, userId);
        const after = await created(revokedBefore + 10, {}, userId);
        const bystander = await created(revokedBefore - 5_000);
        const records = await Promise.all([old, justBefore].map((family) => store.getSession(family.sessionId)));
        const kept = await store.listSessions(userId);
        expect(kept).toHaveLength(4);

        const ended = await store.revokeUser(userId, { revokedBefore, retainMs: RETAIN_MS });
        expect([...ended].sort((a, b) => a.createdAt - b.createdAt)).toEqual(records);

        for (const family of [old, justBefore]) {
          expect(await store.getSession(family.sessionId)).toBeNull();
          expect((await store.presentToken(family.sessionId, family.presentation(family.current))).status).toBe('missing');
        }
        expect((await store.listSessions(userId)).map((record) => record.sessionId)).toEqual([atCut.sessionId, after.sessionId]);
        expect(await store.getSession(atCut.sessionId)).toEqual(kept[2]);
        await rotate(after);
        expect((await store.listSessions(bystander.userId)).map((record) => record.sessionId)).toEqual([bystander.sessionId]);

        // Nothing left to end the second time.
        expect(await store.revokeUser(userId, { revokedBefore, retainMs: RETAIN_MS })).toEqual([]);
      });

      test('a login that began before revokedBefore resolves null and leaves nothing; a later one works', async () => {
        const revokedBefore = await cutOff();
        const userId = `user-${randomBytes(6).toString('hex')}`;
        expect(await store.revokeUser(userId, { revokedBefore, retainMs: RETAIN_MS })).toEqual([]);

        // In flight when revokeUser ran: its login began before the cut-off.
        const inFlight = new Family(key, userId);
        expect(await store.createSession(inFlight.newSession(revokedBefore - 1))).toBeNull();
        expect(await store.getSession(inFlight.sessionId)).toBeNull();
        expect(await store.listSessions(userId)).toEqual([]);
        expect(await store.presentToken(inFlight.sessionId, inFlight.presentation(inFlight.current))).toEqual({ status: 'missing' });

        // Another user is not affected.
        const otherUser = new Family(key);
        expect(await store.createSession(otherUser.newSession(revokedBefore - 1))).not.toBeNull();

        const later = new Family(key, userId);
        const record = await store.createSession(later.newSession(revokedBefore));
        expect(record?.sessionId).toBe(later.sessionId);
        expect(record?.createdAt).toBe(revokedBefore);
        expect(await store.getSession(later.sessionId)).toEqual(record);
        expect((await store.listSessions(userId)).map((listed) => listed.sessionId)).toEqual([later.sessionId]);
        await rotate(later);
      });

      test('the cut-off only moves forward: an earlier revokeUser does not re-admit logins', async () => {
        const revokedBefore = await cutOff();
        const userId = `user-${randomBytes(6).toString('hex')}`;
        await store.revokeUser(userId, { revokedBefore, retainMs: RETAIN_MS });
        await store.revokeUser(userId, { revokedBefore: revokedBefore - 1_000, retainMs: RETAIN_MS });
        const between = new Family(key, userId);
        expect(await store.createSession(between.newSession(revokedBefore - 10))).toBeNull();
        expect(await store.getSession(between.sessionId)).toBeNull();
        expect(feed.verdict(between.sessionId, userId, revokedBefore - 10)).toBe('revoked');
        expect(await store.createSession(new Family(key, userId).newSession(revokedBefore))).not.toBeNull();
      });

      test("the feed answers 'revoked' for the user's logins before revokedBefore and 'valid' from it on", async () => {
        const revokedBefore = await cutOff();
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const otherUser = `user-${randomBytes(6).toString('hex')}`;
        const anySid = newSessionId();
        const early = revokedBefore - 10;
        // Before the revocation the early login was fine (so its refusal below is not the epoch's).
        expect(feed.verdict(anySid, userId, early)).toBe('valid');

        await store.revokeUser(userId, { revokedBefore, retainMs: RETAIN_MS });
        const late = await extraFeed(sibling());
        for (const observer of [feed, late]) {
          expect(observer.verdict(anySid, userId, early)).toBe('revoked');
          expect(observer.verdict(newSessionId(), userId, revokedBefore - 1)).toBe('revoked');
          expect(observer.verdict(anySid, userId, revokedBefore)).toBe('valid');
          expect(observer.verdict(anySid, userId, Date.now() + 1_000)).toBe('valid');
          expect(observer.verdict(anySid, otherUser, early)).toBe('valid');
        }
      });
    });

    describe('amendSession with claims, and markClaimsChanged', () => {
      /** New claims through the store's optional amendSession, which both stores have. */
      const updateClaims = (sessionId: string, claims: Record<string, unknown>, updatedAt: number): Promise<SessionRecord | null> => {
        if (!store.amendSession) throw new Error('this store has no amendSession');
        return store.amendSession(sessionId, { claims: { value: claims, updatedAt } });
      };

      test('replaces the claims of a live session and records when; reads, lists and rotations keep both', async () => {
        const family = await created();
        const before = await store.getSession(family.sessionId);
        expect(before).not.toHaveProperty('claimsUpdatedAt');
        const at = Date.now();
        const updated = await updateClaims(family.sessionId, { role: 'reader', teams: ['a', 'b'] }, at);
        expect(updated).toEqual({ ...before, claims: { role: 'reader', teams: ['a', 'b'] }, claimsUpdatedAt: at });
        expect(await store.getSession(family.sessionId)).toEqual(updated);
        expect(await store.listSessions(family.userId)).toEqual([updated]);
        const rotated = await rotate(family);
        expect(rotated.claims).toEqual({ role: 'reader', teams: ['a', 'b'] });
        expect(rotated.claimsUpdatedAt).toBe(at);
        // The expiry is untouched by an update.
        expect(rotated.expiresAt).toBeGreaterThan((before as SessionRecord).expiresAt - 1);
      });

      test('a missing, ended or expired session is not updated (null) and nothing is created', async () => {
        expect(await updateClaims(newSessionId(), { role: 'x' }, Date.now())).toBeNull();
        const ended = await created();
        await store.revokeSession(ended.sessionId, REVOCATION_TTL_MS);
        expect(await updateClaims(ended.sessionId, { role: 'x' }, Date.now())).toBeNull();
        expect(await store.getSession(ended.sessionId)).toBeNull();
        expect(await store.listSessions(ended.userId)).toEqual([]);
        const expiring = await created(Date.now(), { idleTtlMs: 200 });
        await sleep(300);
        expect(await updateClaims(expiring.sessionId, { role: 'x' }, Date.now())).toBeNull();
        expect(await store.getSession(expiring.sessionId)).toBeNull();
      });

      test('a proof of identity (a step-up) replaces the recorded one; reads, lists and rotations keep it; claims and expiry are untouched', async () => {
        const family = await created();
        const before = (await store.getSession(family.sessionId)) as SessionRecord;
        expect(before).not.toHaveProperty('verification');
        const amend = store.amendSession?.bind(store);
        if (!amend) throw new Error('this store has no amendSession');
        const verification = { at: Date.now(), amr: ['hwk', 'user'], acr: 'urn:example:aal2' };
        const amended = await amend(family.sessionId, { verification });
        expect(amended).toEqual({ ...before, verification });
        expect(await store.getSession(family.sessionId)).toEqual(amended);
        expect(await store.listSessions(family.userId)).toEqual([amended]);
        const later = { at: verification.at + 1000, amr: ['pwd'] };
        expect(await amend(family.sessionId, { verification: later })).toEqual({ ...before, verification: later });
        const rotated = await rotate(family);
        expect(rotated.verification).toEqual(later);
        expect(rotated.claims).toEqual(before.claims);
        expect(await amend(newSessionId(), { verification })).toBeNull();
      });

      test('the latest change wins: an update dated before the recorded one changes nothing', async () => {
        const family = await created();
        const at = Date.now();
        await updateClaims(family.sessionId, { role: 'newer' }, at);
        expect(await updateClaims(family.sessionId, { role: 'older' }, at - 1)).toBeNull();
        expect(await store.getSession(family.sessionId)).toMatchObject({ claims: { role: 'newer' }, claimsUpdatedAt: at });
        // The same time again is a repeat, applied.
        expect(await updateClaims(family.sessionId, { role: 'again' }, at)).toMatchObject({ claims: { role: 'again' }, claimsUpdatedAt: at });
      });

      test("markClaimsChanged: every feed refuses the user's tokens whose claims predate the change, and no others", async () => {
        if (!store.markClaimsChanged) throw new Error('this store has no markClaimsChanged');
        await sleep(30); // past the feed's load, so earlier times are not refused by the epoch
        const changedAt = Date.now();
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const otherUser = `user-${randomBytes(6).toString('hex')}`;
        const sid = newSessionId();
        const login = changedAt - 10;
        expect(feed.verdict(sid, userId, login)).toBe('valid');
        await store.markClaimsChanged(userId, { changedAt, retainMs: REVOCATION_TTL_MS });
        const late = await extraFeed(sibling());
        for (const observer of [feed, late]) {
          // Claims of the login (no claims time: the login's), or of an update before the change: refused.
          expect(observer.verdict(sid, userId, login)).toBe('revoked');
          expect(observer.verdict(sid, userId, login, login)).toBe('revoked');
          expect(observer.verdict(sid, userId, login, changedAt - 1)).toBe('revoked');
          // Claims of the change or later: valid, whenever the login was.
          expect(observer.verdict(sid, userId, login, changedAt)).toBe('valid');
          expect(observer.verdict(sid, userId, changedAt)).toBe('valid');
          expect(observer.verdict(sid, otherUser, login)).toBe('valid');
        }
        // A user revocation and a claims change of one user live side by side.
        await store.revokeUser(userId, { revokedBefore: login, retainMs: RETAIN_MS });
        expect(feed.verdict(sid, userId, login - 1, changedAt)).toBe('revoked');
        expect(feed.verdict(sid, userId, login, changedAt)).toBe('valid');
        expect(feed.verdict(sid, userId, login, login)).toBe('revoked');
      });
    });
  });
}
