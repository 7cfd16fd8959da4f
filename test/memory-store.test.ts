// MemoryStore: the shared SessionStore contract, plus its own warning, expiry sweeping and close().
import { randomBytes } from 'node:crypto';
import { hashSecret, newRefreshSecret, newSessionId } from '../lib/refresh-token';
import { MemoryStore } from '../lib/store/memory-store';
import type { NewSession } from '../lib/store/session-store';
import { describeStoreContract } from './support/store-contract';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describeStoreContract('MemoryStore', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

function newSession(now: number, overrides: Partial<NewSession> = {}): NewSession {
  return {
    sessionId: newSessionId(),
    userId: `user-${randomBytes(6).toString('hex')}`,
    claims: { role: 'reader' },
    userAgent: 'jest',
    secretHash: hashSecret(newRefreshSecret()),
    now,
    idleTtlMs: 60_000,
    absoluteTtlMs: 120_000,
    ...overrides,
  };
}

/** The private maps of a MemoryStore, read only to prove that expired entries are freed. */
function internals(store: MemoryStore): { families: Map<string, unknown>; revokedUntil: Map<string, number> } {
  return store as unknown as { families: Map<string, unknown>; revokedUntil: Map<string, number> };
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
      try {
        const session = newSession(Date.now(), { idleTtlMs: 300 });
        await store.createSession(session);
        expect(await store.getSession(session.sessionId)).not.toBeNull();
        await sleep(500);
        expect(await store.getSession(session.sessionId)).toBeNull();
        expect(await store.listSessions(session.userId)).toEqual([]);
        const outcome = await store.presentToken(session.sessionId, {
          presentedHash: session.secretHash,
          successorHash: hashSecret(newRefreshSecret()),
          now: Date.now(),
          action: 'rotate',
          idleTtlMs: 300,
          reuseGraceMs: 30_000,
          revokedMarkerTtlMs: 60_000,
        });
        expect(outcome).toEqual({ status: 'missing' });
        // Expiry is not revocation.
        expect(await store.isRevoked(session.sessionId)).toBe(false);
      } finally {
        await store.close();
      }
    });

    test('the sweeper frees expired sessions and lapsed revocation markers nobody asks about', async () => {
      const store = new MemoryStore({ sweepIntervalMs: 50 });
      try {
        const expiring = newSession(Date.now(), { idleTtlMs: 200 });
        const lasting = newSession(Date.now());
        const revoked = newSession(Date.now());
        await store.createSession(expiring);
        await store.createSession(lasting);
        await store.createSession(revoked);
        await store.revokeSession(revoked.sessionId, 200);
        expect(internals(store).families.has(expiring.sessionId)).toBe(true);
        expect(internals(store).revokedUntil.has(revoked.sessionId)).toBe(true);
        await sleep(600);
        // Nothing was read in between: only the sweep can have removed them.
        expect(internals(store).families.has(expiring.sessionId)).toBe(false);
        expect(internals(store).revokedUntil.has(revoked.sessionId)).toBe(false);
        expect(internals(store).families.has(lasting.sessionId)).toBe(true);
        expect(await store.getSession(lasting.sessionId)).not.toBeNull();
      } finally {
        await store.close();
      }
    });
  });

  describe('close()', () => {
    test('its sweep timer does not keep the process alive', async () => {
      const setIntervalSpy = jest.spyOn(global, 'setInterval');
      let store: MemoryStore | undefined;
      try {
        store = new MemoryStore({ sweepIntervalMs: 1_000 });
        expect(setIntervalSpy).toHaveBeenCalledTimes(1);
        const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout;
        expect(timer.hasRef()).toBe(false);
      } finally {
        setIntervalSpy.mockRestore();
        await store?.close();
      }
    });

    test('close() clears the sweep timer: no sweep runs afterwards', async () => {
      const setIntervalSpy = jest.spyOn(global, 'setInterval');
      const clearIntervalSpy = jest.spyOn(global, 'clearInterval');
      try {
        const store = new MemoryStore({ sweepIntervalMs: 20 });
        const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout;
        const sweep = jest.spyOn(store as unknown as { sweep(now: number): void }, 'sweep');
        await sleep(150);
        expect(sweep.mock.calls.length).toBeGreaterThan(0);

        await store.close();
        expect(clearIntervalSpy).toHaveBeenCalledWith(timer);
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
