// MemoryStore: the shared SessionStore contract, plus its own warning, expiry sweeping, revocation pruning and close().
import { randomBytes } from 'node:crypto';
import { MemoryStore } from '../lib/store/memory-store';
import type { NewSession } from '../lib/store/session-store';
import { hashSecret, newRefreshSecret, newSessionId } from '../lib/tokens/refresh-token';
import { describeStoreContract, FEED_OPTIONS, openLoadedFeed, sleep } from './support/store-contract';

describeStoreContract('MemoryStore', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

function newSession(now: number, overrides: Partial<NewSession> = {}): NewSession {
  return {
    sessionId: newSessionId(),
    userId: `user-${randomBytes(6).toString('hex')}`,
    claims: { role: 'reader' },
    device: 'jest',
    network: '127.0.0.0/24',
    secretHash: hashSecret(newRefreshSecret()),
    clientHash: 'client',
    now,
    maxSessionsPerUser: 100,
    revocationTtlMs: 60_000,
    idleTtlMs: 60_000,
    absoluteTtlMs: 120_000,
    ...overrides,
  };
}

/** The private maps of a MemoryStore (and of its revocation set), read only to prove that expired entries are freed. */
interface Internals {
  families: Map<string, unknown>;
  sessionsByUser: Map<string, Set<string>>;
  revocations: { sessions: Map<string, number>; users: Map<string, unknown> };
}

function internals(store: MemoryStore): Internals {
  const view = store as unknown as Internals;
  // Guard against a rename turning every "has(...) is false" below into a vacuous pass.
  expect(view.families).toBeInstanceOf(Map);
  expect(view.sessionsByUser).toBeInstanceOf(Map);
  expect(view.revocations.sessions).toBeInstanceOf(Map);
  expect(view.revocations.users).toBeInstanceOf(Map);
  return view;
}

describe('MemoryStore specifics', () => {
  describe('production warning', () => {
    const originalEnv = process.env.NODE_ENV;
    let emitWarning: jest.SpyInstance;

    beforeEach(() => {
      emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    });

    afterEach(() => {
      emitWarning.mockRestore();
      if (originalEnv === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = originalEnv;
    });

    function warningCodes(): unknown[] {
      return emitWarning.mock.calls.map((args: unknown[]) => {
        const options = args[1];
        if (options !== null && typeof options === 'object') return (options as { code?: unknown }).code;
        return args[2];
      });
    }

    test('warns with code ERT_MEMORY_STORE_IN_PRODUCTION under NODE_ENV=production', async () => {
      process.env.NODE_ENV = 'production';
      const store = new MemoryStore();
      await store.close();
      expect(warningCodes()).toEqual(['ERT_MEMORY_STORE_IN_PRODUCTION']);
      const message = String(emitWarning.mock.calls[0]?.[0]);
      expect(message).toMatch(/RedisStore/);
      expect(message).toMatch(/production/);
    });

    test.each([['test'], ['development'], [undefined]])('does not warn under NODE_ENV=%s', async (env) => {
      if (env === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = env;
      const store = new MemoryStore();
      await store.close();
      expect(warningCodes()).not.toContain('ERT_MEMORY_STORE_IN_PRODUCTION');
      expect(emitWarning).not.toHaveBeenCalled();
    });
  });

  describe('expiry with real time', () => {
    test('a session past its idle TTL disappears from getSession, listSessions and presentToken', async () => {
      const store = new MemoryStore();
      const feed = await openLoadedFeed(store);
      try {
        const session = newSession(Date.now(), { idleTtlMs: 300 });
        expect(await store.createSession(session)).not.toBeNull();
        expect(await store.getSession(session.sessionId)).not.toBeNull();
        await sleep(400);
        expect(await store.getSession(session.sessionId)).toBeNull();
        expect(await store.listSessions(session.userId)).toEqual([]);
        const outcome = await store.presentToken(session.sessionId, {
          presentedHash: session.secretHash,
          successorHash: hashSecret(newRefreshSecret()),
          generation: 0,
          clientHash: 'client',
          action: 'rotate',
          idleTtlMs: 300,
          reuseGraceMs: 30_000,
          revocationTtlMs: 60_000,
        });
        expect(outcome).toEqual({ status: 'missing' });
        // Expiry is not revocation.
        expect(feed.verdict(session.sessionId, session.userId, Date.now())).toBe('valid');
      } finally {
        await feed.close();
        await store.close();
      }
    });

    test('the sweeper frees expired sessions and lapsed user cut-offs nobody asks about', async () => {
      const store = new MemoryStore({ sweepIntervalMs: 50 });
      try {
        const expiring = newSession(Date.now(), { idleTtlMs: 200 });
        const lasting = newSession(Date.now());
        const revokedUser = `user-${randomBytes(6).toString('hex')}`;
        const rememberedUser = `user-${randomBytes(6).toString('hex')}`;
        await store.createSession(expiring);
        await store.createSession(lasting);
        await store.revokeUser(revokedUser, { revokedBefore: Date.now(), retainMs: 200 });
        await store.revokeUser(rememberedUser, { revokedBefore: Date.now(), retainMs: 60_000 });
        const view = internals(store);
        expect(view.families.has(expiring.sessionId)).toBe(true);
        expect(view.sessionsByUser.has(expiring.userId)).toBe(true);
        expect(view.revocations.users.has(revokedUser)).toBe(true);
        await sleep(500);
        // Nothing was read in between: only the sweep can have removed them.
        expect(view.families.has(expiring.sessionId)).toBe(false);
        expect(view.sessionsByUser.has(expiring.userId)).toBe(false);
        expect(view.revocations.users.has(revokedUser)).toBe(false);
        expect(view.revocations.users.has(rememberedUser)).toBe(true);
        expect(view.families.has(lasting.sessionId)).toBe(true);
        expect(await store.getSession(lasting.sessionId)).not.toBeNull();
      } finally {
        await store.close();
      }
    });
  });

  describe('revocation feed', () => {
    afterEach(() => {
      jest.useRealTimers();
    });

    test('never goes stale, and forgets revocations once they lapse (pruned by its timer)', async () => {
      jest.useFakeTimers({ now: Date.now() });
      const store = new MemoryStore();
      const feed = await openLoadedFeed(store);
      try {
        jest.advanceTimersByTime(10); // so that a cut-off just before "now" is after the store's epoch
        const session = newSession(Date.now());
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const revokedBefore = Date.now();
        await store.createSession(session);
        await store.revokeSession(session.sessionId, 200);
        await store.revokeUser(userId, { revokedBefore, retainMs: 200 });
        const view = internals(store);
        expect(view.revocations.sessions.has(session.sessionId)).toBe(true);
        expect(view.revocations.users.has(userId)).toBe(true);

        jest.advanceTimersByTime(100);
        expect(feed.verdict(session.sessionId, session.userId, Date.now())).toBe('revoked');
        expect(feed.verdict(newSessionId(), userId, revokedBefore - 1)).toBe('revoked');

        // Well past both lapses and past maxStalenessMs: pruned, and still answering (never 'stale').
        jest.advanceTimersByTime(Math.max(10_000, FEED_OPTIONS.maxStalenessMs) + 100);
        expect(view.revocations.sessions.has(session.sessionId)).toBe(false);
        expect(view.revocations.users.has(userId)).toBe(false);
        expect(feed.verdict(session.sessionId, session.userId, Date.now())).toBe('valid');
        expect(feed.verdict(newSessionId(), userId, revokedBefore - 1)).toBe('valid');
      } finally {
        await feed.close();
        await store.close();
      }
    });
  });

  describe('close()', () => {
    test('its timers (sweep and revocation pruning) do not keep the process alive', async () => {
      const setIntervalSpy = jest.spyOn(global, 'setInterval');
      let store: MemoryStore | undefined;
      try {
        store = new MemoryStore({ sweepIntervalMs: 1_000 });
        expect(setIntervalSpy).toHaveBeenCalledTimes(2);
        for (const result of setIntervalSpy.mock.results) {
          const timer = result.value as NodeJS.Timeout;
          expect(timer.hasRef()).toBe(false);
        }
      } finally {
        setIntervalSpy.mockRestore();
        await store?.close();
      }
    });

    test('close() clears its timers: no sweep runs afterwards', async () => {
      const setIntervalSpy = jest.spyOn(global, 'setInterval');
      const clearIntervalSpy = jest.spyOn(global, 'clearInterval');
      try {
        const store = new MemoryStore({ sweepIntervalMs: 20 });
        const timers = setIntervalSpy.mock.results.map((result) => result.value as NodeJS.Timeout);
        expect(timers).toHaveLength(2);
        const sweep = jest.spyOn(store as unknown as { sweep(now: number): void }, 'sweep');
        await sleep(150);
        expect(sweep.mock.calls.length).toBeGreaterThan(0);

        await store.close();
        for (const timer of timers) expect(clearIntervalSpy).toHaveBeenCalledWith(timer);
        sweep.mockClear();
        await sleep(150);
        expect(sweep).not.toHaveBeenCalled();
      } finally {
        setIntervalSpy.mockRestore();
        clearIntervalSpy.mockRestore();
      }
    });
  });
});
