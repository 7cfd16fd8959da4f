// The shared SessionStore contract suite: every store (MemoryStore, RedisStore) must pass it unchanged.
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { deriveSuccessor, hashSecret, newRefreshSecret, newSessionId } from '../../lib/refresh-token';
import type { NewSession, PresentationOutcome, SessionRecord, SessionStore, TokenPresentation } from '../../lib/store/session-store';

/** What a store factory hands the contract: the store and, optionally, how to tidy up after one test. */
export interface StoreUnderTest {
  store: SessionStore;
  cleanup?: () => Promise<void>;
}

const MINUTE = 60_000;
/** Defaults for the tests: generous enough that real time never expires anything by accident. */
const IDLE_TTL_MS = 10 * MINUTE;
const ABSOLUTE_TTL_MS = 60 * MINUTE;
const REUSE_GRACE_MS = 30_000;
const MARKER_TTL_MS = 15 * MINUTE;

/**
 * One refresh-token family as the core (lib/session-service.ts) would drive it: random first
 * secret, successors derived with the HMAC key, only hashes handed to the store.
 */
export class Family {
  readonly sessionId = newSessionId();
  /** Every secret the family has had, oldest first; the last is the current one. */
  readonly secrets: string[] = [newRefreshSecret()];

  constructor(
    private readonly key: KeyObject,
    readonly userId = `user-${randomBytes(6).toString('hex')}`,
  ) {}

  get current(): string {
    return this.secrets[this.secrets.length - 1] as string;
  }

  successorOf(secret: string): string {
    return deriveSuccessor(this.key, this.sessionId, secret);
  }

  newSession(now: number, overrides: Partial<NewSession> = {}): NewSession {
    return {
      sessionId: this.sessionId,
      userId: this.userId,
      claims: { role: 'admin', tenant: { id: 7, name: 'acme' } },
      userAgent: 'Mozilla/5.0 (contract test)',
      secretHash: hashSecret(this.secrets[0] as string),
      now,
      idleTtlMs: IDLE_TTL_MS,
      absoluteTtlMs: ABSOLUTE_TTL_MS,
      ...overrides,
    };
  }

  /** The presentation of `secret` the way SessionService.present builds it. */
  presentation(secret: string, now: number, overrides: Partial<TokenPresentation> = {}): TokenPresentation {
    return {
      presentedHash: hashSecret(secret),
      successorHash: hashSecret(this.successorOf(secret)),
      now,
      action: 'rotate',
      idleTtlMs: IDLE_TTL_MS,
      reuseGraceMs: REUSE_GRACE_MS,
      revokedMarkerTtlMs: MARKER_TTL_MS,
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

function sessionOf(outcome: PresentationOutcome): SessionRecord {
  if (!('session' in outcome)) throw new Error(`expected an outcome with a session, got ${JSON.stringify(outcome)}`);
  return outcome.session;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Defines `describe(name)` with the contract every SessionStore must meet. `makeStore` is called
 * before each test and must return a fresh, empty store (or one whose keys no other test sees).
 */
export function describeStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`${name}: SessionStore contract`, () => {
    const key = createSecretKey(randomBytes(32));
    let ctx: StoreUnderTest;
    let store: SessionStore;

    beforeEach(async () => {
      ctx = await makeStore();
      store = ctx.store;
    });

    afterEach(async () => {
      await ctx.cleanup?.();
    });

    /** Creates a family in the store at `now` and returns it. */
    async function created(now = Date.now(), overrides: Partial<NewSession> = {}, userId?: string): Promise<Family> {
      const family = new Family(key, userId);
      await store.createSession(family.newSession(now, overrides));
      return family;
    }

    /** Rotates the family's current token at `now`, asserting it rotated. */
    async function rotate(family: Family, now: number, overrides: Partial<TokenPresentation> = {}): Promise<SessionRecord> {
      const outcome = await store.presentToken(family.sessionId, family.presentation(family.current, now, overrides));
      expect(outcome.status).toBe('rotated');
      family.advance();
      return sessionOf(outcome);
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
          userAgent: 'Mozilla/5.0 (contract test)',
          createdAt: now,
          lastUsedAt: now,
          expiresAt: now + IDLE_TTL_MS,
          absoluteExpiresAt: now + ABSOLUTE_TTL_MS,
        };
        expect(returned).toEqual(expected);
        expect(await store.getSession(family.sessionId)).toEqual(expected);
        expect(await store.listSessions(family.userId)).toEqual([expected]);
      });

      test('expiresAt is capped by the absolute deadline when absoluteTtl < idleTtl', async () => {
        const now = Date.now();
        const family = await created(now, { idleTtlMs: 20 * MINUTE, absoluteTtlMs: 5 * MINUTE });
        const record = await store.getSession(family.sessionId);
        expect(record?.expiresAt).toBe(now + 5 * MINUTE);
        expect(record?.absoluteExpiresAt).toBe(now + 5 * MINUTE);
      });

      test('an empty user agent and empty claims round-trip', async () => {
        const now = Date.now();
        const family = await created(now, { userAgent: '', claims: {} });
        const record = await store.getSession(family.sessionId);
        expect(record?.userAgent).toBe('');
        expect(record?.claims).toEqual({});
      });

      test('returned records are snapshots: mutating one does not change the stored session', async () => {
        const family = await created();
        const first = (await store.getSession(family.sessionId)) as SessionRecord;
        first.userId = 'mallory';
        first.expiresAt = 0;
        (first.claims as { role: string }).role = 'mutated';
        ((first.claims as { tenant: { id: number } }).tenant).id = 666;
        const second = await store.getSession(family.sessionId);
        expect(second?.userId).toBe(family.userId);
        expect(second?.expiresAt).toBeGreaterThan(0);
        expect(second?.claims).toEqual({ role: 'admin', tenant: { id: 7, name: 'acme' } });
      });

      test('getSession of an unknown id is null; listSessions of an unknown user is empty', async () => {
        expect(await store.getSession(newSessionId())).toBeNull();
        expect(await store.listSessions(`nobody-${randomBytes(6).toString('hex')}`)).toEqual([]);
      });

      test("listSessions returns only that user's live sessions, oldest first", async () => {
        const base = Date.now();
        const userId = `user-${randomBytes(6).toString('hex')}`;
        // Created newest first, so insertion order and age order disagree.
        const newest = await created(base + 30, {}, userId);
        const revoked = await created(base + 20, {}, userId);
        const middle = await created(base + 10, {}, userId);
        const oldest = await created(base, {}, userId);
        const other = await created(base + 5);
        expect(await store.revokeSession(revoked.sessionId, MARKER_TTL_MS)).not.toBeNull();

        const mine = await store.listSessions(userId);
        expect(mine.map((record) => record.sessionId)).toEqual([oldest.sessionId, middle.sessionId, newest.sessionId]);
        expect(mine.map((record) => record.createdAt)).toEqual([base, base + 10, base + 30]);
        expect(mine.every((record) => record.userId === userId)).toBe(true);
        expect((await store.listSessions(other.userId)).map((record) => record.sessionId)).toEqual([other.sessionId]);
      });
    });

    describe('presentToken: rotation', () => {
      test('the current hash rotates: lastUsedAt and expiresAt move, absoluteExpiresAt does not', async () => {
        const createdAt = Date.now();
        const family = await created(createdAt);
        const at = createdAt + 5_000;
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.current, at));
        expect(outcome.status).toBe('rotated');
        const expected: SessionRecord = {
          sessionId: family.sessionId,
          userId: family.userId,
          claims: { role: 'admin', tenant: { id: 7, name: 'acme' } },
          userAgent: 'Mozilla/5.0 (contract test)',
          createdAt,
          lastUsedAt: at,
          expiresAt: at + IDLE_TTL_MS,
          absoluteExpiresAt: createdAt + ABSOLUTE_TTL_MS,
        };
        expect(sessionOf(outcome)).toEqual(expected);
        expect(await store.getSession(family.sessionId)).toEqual(expected);
        expect(await store.listSessions(family.userId)).toEqual([expected]);
      });

      test('successive successors keep rotating; each rotation slides the idle deadline', async () => {
        const createdAt = Date.now();
        const family = await created(createdAt);
        for (let step = 1; step <= 4; step++) {
          const at = createdAt + step * 1_000;
          const record = await rotate(family, at);
          expect(record.lastUsedAt).toBe(at);
          expect(record.expiresAt).toBe(at + IDLE_TTL_MS);
          expect(record.createdAt).toBe(createdAt);
        }
        // The token two rotations back is not current any more: it is never rotated again.
        const stale = await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string, createdAt + 5_000));
        expect(stale.status).not.toBe('rotated');
      });

      test('a rotation resets the idle deadline: a family used in time outlives its first idle deadline', async () => {
        const createdAt = Date.now();
        const idleTtlMs = MINUTE;
        const family = await created(createdAt, { idleTtlMs });
        const rotated = await rotate(family, createdAt + 50_000, { idleTtlMs });
        expect(rotated.expiresAt).toBe(createdAt + 50_000 + idleTtlMs);
        // Past the original createdAt + idleTtl, but within lastUse + idleTtl.
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.current, createdAt + 100_000, { idleTtlMs }));
        expect(outcome.status).toBe('rotated');
      });

      test('expiresAt never goes beyond absoluteExpiresAt, however late the rotation', async () => {
        const createdAt = Date.now();
        const absoluteTtlMs = 10 * MINUTE;
        const idleTtlMs = 5 * MINUTE;
        const family = await created(createdAt, { idleTtlMs, absoluteTtlMs });
        const early = await rotate(family, createdAt + MINUTE, { idleTtlMs });
        expect(early.expiresAt).toBe(createdAt + 6 * MINUTE);
        const middle = await rotate(family, createdAt + 4 * MINUTE, { idleTtlMs });
        expect(middle.expiresAt).toBe(createdAt + 9 * MINUTE);
        const late = await rotate(family, createdAt + 8 * MINUTE, { idleTtlMs });
        expect(late.expiresAt).toBe(createdAt + absoluteTtlMs);
        expect(late.absoluteExpiresAt).toBe(createdAt + absoluteTtlMs);
        const last = await rotate(family, createdAt + absoluteTtlMs - 1, { idleTtlMs });
        expect(last.expiresAt).toBe(createdAt + absoluteTtlMs);
        expect(last.absoluteExpiresAt).toBe(createdAt + absoluteTtlMs);
        expect((await store.getSession(family.sessionId))?.expiresAt).toBe(createdAt + absoluteTtlMs);
      });
    });

    describe('presentToken: grace window and reuse', () => {
      test('the previous hash inside the grace window is retried and changes nothing', async () => {
        const createdAt = Date.now();
        const family = await created(createdAt);
        const rotatedAt = createdAt + 1_000;
        const afterRotation = await rotate(family, rotatedAt);
        const previous = family.secrets[0] as string;

        for (const at of [rotatedAt, rotatedAt + 1, rotatedAt + REUSE_GRACE_MS - 1]) {
          const retried = await store.presentToken(family.sessionId, family.presentation(previous, at));
          expect(retried.status).toBe('retried');
          expect(sessionOf(retried)).toEqual(afterRotation);
          expect(await store.getSession(family.sessionId)).toEqual(afterRotation);
        }
        expect(await store.isRevoked(family.sessionId)).toBe(false);

        // The successor already issued is still the current token: presenting it rotates.
        const next = await store.presentToken(family.sessionId, family.presentation(family.current, rotatedAt + 2_000));
        expect(next.status).toBe('rotated');
        expect(sessionOf(next).lastUsedAt).toBe(rotatedAt + 2_000);
      });

      test('the previous hash after the grace window is reuse: the family is revoked', async () => {
        const createdAt = Date.now();
        const reuseGraceMs = 1_000;
        const family = await created(createdAt);
        const rotatedAt = createdAt + 1_000;
        const afterRotation = await rotate(family, rotatedAt);

        const outcome = await store.presentToken(
          family.sessionId,
          family.presentation(family.secrets[0] as string, rotatedAt + reuseGraceMs + 1, { reuseGraceMs }),
        );
        expect(outcome.status).toBe('reuse');
        expect(sessionOf(outcome)).toEqual(afterRotation);
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(await store.listSessions(family.userId)).toEqual([]);
        expect(await store.isRevoked(family.sessionId)).toBe(true);
        // The family's current token stops working too.
        const current = await store.presentToken(family.sessionId, family.presentation(family.current, rotatedAt + reuseGraceMs + 2));
        expect(current).toEqual({ status: 'missing' });
      });

      test('reuseGraceMs 0 disables the window: the previous hash is reuse even at once', async () => {
        const createdAt = Date.now();
        const family = await created(createdAt);
        await rotate(family, createdAt);
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.secrets[0] as string, createdAt, { reuseGraceMs: 0 }));
        expect(outcome.status).toBe('reuse');
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(await store.isRevoked(family.sessionId)).toBe(true);
      });

      test('the grandparent (its successor is the previous token) is reuse even inside the window', async () => {
        const createdAt = Date.now();
        const family = await created(createdAt);
        await rotate(family, createdAt + 1);
        await rotate(family, createdAt + 2);
        const grandparent = family.secrets[0] as string;
        const presentation = family.presentation(grandparent, createdAt + 3);
        expect(presentation.successorHash).toBe(hashSecret(family.secrets[1] as string));

        const outcome = await store.presentToken(family.sessionId, presentation);
        expect(outcome.status).toBe('reuse');
        expect(sessionOf(outcome).sessionId).toBe(family.sessionId);
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(await store.isRevoked(family.sessionId)).toBe(true);
        expect((await store.presentToken(family.sessionId, family.presentation(family.current, createdAt + 4))).status).toBe('missing');
      });

      test('an unrelated hash is unknown, reports the chain and changes nothing', async () => {
        const createdAt = Date.now();
        const family = await created(createdAt);
        const forged = newRefreshSecret();

        const fresh = await store.presentToken(family.sessionId, family.presentation(forged, createdAt + 1));
        expect(fresh).toEqual({
          status: 'unknown',
          chain: { currentHash: hashSecret(family.secrets[0] as string), previousHash: '', rotations: 0 },
        });

        await rotate(family, createdAt + 2);
        const afterTwo = await rotate(family, createdAt + 3);
        const outcome = await store.presentToken(family.sessionId, family.presentation(forged, createdAt + 4));
        expect(outcome).toEqual({
          status: 'unknown',
          chain: {
            currentHash: hashSecret(family.secrets[2] as string),
            previousHash: hashSecret(family.secrets[1] as string),
            rotations: 2,
          },
        });
        // A revoke presentation of a forged token changes nothing either.
        const revokeAttempt = await store.presentToken(family.sessionId, family.presentation(forged, createdAt + 5, { action: 'revoke' }));
        expect(revokeAttempt.status).toBe('unknown');

        expect(await store.getSession(family.sessionId)).toEqual(afterTwo);
        expect(await store.isRevoked(family.sessionId)).toBe(false);
        // The previous one is still inside its window and the current one still rotates.
        expect((await store.presentToken(family.sessionId, family.presentation(family.secrets[1] as string, createdAt + 6))).status).toBe('retried');
        expect((await store.presentToken(family.sessionId, family.presentation(family.current, createdAt + 7))).status).toBe('rotated');
      });

      test('20 concurrent presentations of the current token: exactly one rotated, 19 retried', async () => {
        const createdAt = Date.now();
        const family = await created(createdAt);
        const token = family.current;
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, index) => store.presentToken(family.sessionId, family.presentation(token, createdAt + 1 + index))),
        );
        const statuses = outcomes.map((outcome) => outcome.status);
        expect(statuses.filter((status) => status === 'rotated')).toHaveLength(1);
        expect(statuses.filter((status) => status === 'retried')).toHaveLength(19);
        const rotated = outcomes.find((outcome) => outcome.status === 'rotated') as PresentationOutcome;
        for (const outcome of outcomes) expect(sessionOf(outcome)).toEqual(sessionOf(rotated));
        expect(await store.isRevoked(family.sessionId)).toBe(false);

        // One successor only: the derived one is current.
        family.advance();
        expect((await store.presentToken(family.sessionId, family.presentation(family.current, createdAt + 100))).status).toBe('rotated');
      });
    });

    describe('presentToken: revoke action', () => {
      test('revoke with the current hash ends the family', async () => {
        const createdAt = Date.now();
        const family = await created(createdAt);
        const before = await store.getSession(family.sessionId);
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.current, createdAt + 1, { action: 'revoke' }));
        expect(outcome.status).toBe('revoked');
        expect(sessionOf(outcome)).toEqual(before);
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(await store.listSessions(family.userId)).toEqual([]);
        expect(await store.isRevoked(family.sessionId)).toBe(true);
        expect((await store.presentToken(family.sessionId, family.presentation(family.current, createdAt + 2))).status).toBe('missing');
      });

      test('revoke with the previous hash ends the family: revoked inside the window, reuse outside it', async () => {
        for (const [delay, status] of [[1, 'revoked'], [10 * REUSE_GRACE_MS, 'reuse']] as const) {
          const createdAt = Date.now();
          const family = await created(createdAt);
          await rotate(family, createdAt + 1);
          const outcome = await store.presentToken(
            family.sessionId,
            family.presentation(family.secrets[0] as string, createdAt + 1 + delay, { action: 'revoke' }),
          );
          expect(outcome.status).toBe(status);
          expect(sessionOf(outcome).userId).toBe(family.userId);
          expect(await store.getSession(family.sessionId)).toBeNull();
          expect(await store.isRevoked(family.sessionId)).toBe(true);
          expect((await store.presentToken(family.sessionId, family.presentation(family.current, createdAt + 2 + delay))).status).toBe('missing');
        }
      });
    });

    describe('presentToken: missing and expired', () => {
      test('an unknown session id is missing', async () => {
        const family = new Family(key);
        expect(await store.presentToken(family.sessionId, family.presentation(family.current, Date.now()))).toEqual({ status: 'missing' });
        expect(await store.isRevoked(family.sessionId)).toBe(false);
      });

      test('a presentation at or after the idle deadline is missing; just before it rotates', async () => {
        const createdAt = Date.now();
        const idleTtlMs = MINUTE;
        const dead = await created(createdAt, { idleTtlMs });
        expect(await store.presentToken(dead.sessionId, dead.presentation(dead.current, createdAt + idleTtlMs, { idleTtlMs }))).toEqual({
          status: 'missing',
        });
        const later = await created(createdAt, { idleTtlMs });
        expect(await store.presentToken(later.sessionId, later.presentation(later.current, createdAt + 5 * idleTtlMs, { idleTtlMs }))).toEqual({
          status: 'missing',
        });
        const alive = await created(createdAt, { idleTtlMs });
        expect((await store.presentToken(alive.sessionId, alive.presentation(alive.current, createdAt + idleTtlMs - 1, { idleTtlMs }))).status).toBe(
          'rotated',
        );
      });

      test('a presentation at the absolute deadline is missing even for a family in constant use', async () => {
        const createdAt = Date.now();
        const absoluteTtlMs = 10 * MINUTE;
        const idleTtlMs = 4 * MINUTE;
        const family = await created(createdAt, { idleTtlMs, absoluteTtlMs });
        for (let at = createdAt + 3 * MINUTE; at < createdAt + absoluteTtlMs; at += 3 * MINUTE) {
          const outcome = await store.presentToken(family.sessionId, family.presentation(family.current, at, { idleTtlMs }));
          expect(outcome.status).toBe('rotated');
          family.advance();
        }
        const outcome = await store.presentToken(family.sessionId, family.presentation(family.current, createdAt + absoluteTtlMs, { idleTtlMs }));
        expect(outcome).toEqual({ status: 'missing' });
      });
    });

    describe('revokeSession and isRevoked', () => {
      test('isRevoked is false for a live session and for an unknown id', async () => {
        const family = await created();
        expect(await store.isRevoked(family.sessionId)).toBe(false);
        expect(await store.isRevoked(newSessionId())).toBe(false);
      });

      test('revokeSession ends the session, returns its record and marks it revoked', async () => {
        const createdAt = Date.now();
        const family = await created(createdAt);
        const keep = await created(createdAt + 1, {}, family.userId);
        const record = await store.getSession(family.sessionId);

        expect(await store.revokeSession(family.sessionId, MARKER_TTL_MS)).toEqual(record);
        expect(await store.getSession(family.sessionId)).toBeNull();
        expect(await store.isRevoked(family.sessionId)).toBe(true);
        expect(await store.isRevoked(keep.sessionId)).toBe(false);
        expect((await store.listSessions(family.userId)).map((r) => r.sessionId)).toEqual([keep.sessionId]);
        expect((await store.presentToken(family.sessionId, family.presentation(family.current, createdAt + 2))).status).toBe('missing');
        // Revoking again finds nothing to end, and the session stays revoked.
        expect(await store.revokeSession(family.sessionId, MARKER_TTL_MS)).toBeNull();
        expect(await store.isRevoked(family.sessionId)).toBe(true);
      });

      test('revokeSession of an unknown id returns null', async () => {
        expect(await store.revokeSession(newSessionId(), MARKER_TTL_MS)).toBeNull();
      });

      test('the revocation marker lasts revokedMarkerTtlMs, then lapses', async () => {
        const family = await created();
        expect(await store.revokeSession(family.sessionId, 300)).not.toBeNull();
        expect(await store.isRevoked(family.sessionId)).toBe(true);
        await sleep(500);
        expect(await store.isRevoked(family.sessionId)).toBe(false);
        expect(await store.getSession(family.sessionId)).toBeNull();
      });
    });
  });
}
