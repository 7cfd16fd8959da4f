// auth.updateClaims over HTTP on both stores: new claims at the next refresh, `immediate` refusing older access tokens on every instance, the function form, validation, the event, and logins that race it.
import type { Express } from 'express';
import jwt from 'jsonwebtoken';
import { type Auth, type AuthEventMap, type ErrorCode, MemoryStore, type SessionRecord, type SessionStore } from '../lib';
import {
  closeAll,
  closeAuths,
  expectAccessRejected,
  expectRefreshRejected,
  login,
  me,
  memoryStore,
  redisStore,
  refresh,
  refreshCookieOf,
  statusWithin,
  testApp,
  uniquePrefix,
} from './support/harness';
import { closePrivateInstances, privateServer, readyInstanceOn } from './support/private-instances';
import { sidOf } from './support/tokens';

afterAll(async () => {
  await closeAuths();
  await closeAll();
  await closePrivateInstances();
});

/** The payload of an access token (its signature is requireAuth's business). */
const payloadOf = (token: string): Record<string, unknown> => jwt.decode(token) as Record<string, unknown>;

/** Refreshes with a refresh cookie, expecting a rotation; returns the new tokens. */
async function refreshed(app: Express, refreshToken: string): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await refresh(app, refreshToken);
  expect(res.status).toBe(200);
  return { accessToken: res.body.accessToken as string, refreshToken: refreshCookieOf(res) as string };
}

const STORES: Array<[string, () => Promise<SessionStore>]> = [
  ['MemoryStore', async () => memoryStore()],
  ['RedisStore', async () => (await redisStore()).store],
];

describe.each(STORES)('%s: auth.updateClaims', (_name, makeStore) => {
  let app: Express;
  let auth: Auth;
  beforeEach(async () => {
    ({ app, auth } = testApp(await makeStore()));
    await auth.ready();
  });

  test('the next refresh carries the new claims and claims_time; without immediate the old access token keeps working with the old claims', async () => {
    const session = await login(app);
    expect(payloadOf(session.accessToken)).not.toHaveProperty('claims_time'); // a session never updated: tokens as before
    const before = Date.now();
    const ids = await auth.updateClaims('user-alice', { role: 'reader', tenant: 7 });
    const after = Date.now();
    expect(ids).toEqual([sidOf(session.accessToken)]);

    // The token issued before the change still works, with its claims, until it expires.
    const old = await me(app, session.accessToken);
    expect(old.status).toBe(200);
    expect(old.body.claims).toEqual({ role: 'admin' });

    const next = await refreshed(app, session.refreshToken);
    const payload = payloadOf(next.accessToken);
    expect(payload).toMatchObject({ role: 'reader', tenant: 7, sub: 'user-alice', sid: sidOf(session.accessToken) });
    const claimsTime = (payload.claims_time as number) * 1000;
    expect(claimsTime).toBeGreaterThanOrEqual(before);
    expect(claimsTime).toBeLessThanOrEqual(after + 1);
    expect(payload.auth_time).toBe(payloadOf(session.accessToken).auth_time); // the login is still the login
    const fresh = await me(app, next.accessToken);
    expect(fresh.status).toBe(200);
    expect(fresh.body.claims).toEqual({ role: 'reader', tenant: 7 }); // claims_time is the library's, not an app claim
    expect((await auth.listSessions('user-alice'))[0]).toMatchObject({ claims: { role: 'reader', tenant: 7 }, claimsUpdatedAt: claimsTime });
  });

  test('with immediate, the old access token is refused at once (401 invalid_token); a refresh gets the new claims, and its token is accepted', async () => {
    const session = await login(app);
    const bob = await login(app, 'bob');
    await auth.updateClaims('user-alice', { role: 'reader' }, { immediate: true });
    await expectAccessRejected(app, session.accessToken);
    expect((await me(app, bob.accessToken)).status).toBe(200); // another user is untouched

    const next = await refreshed(app, session.refreshToken);
    const res = await me(app, next.accessToken);
    expect(res.status).toBe(200);
    expect(res.body.claims).toEqual({ role: 'reader' });
    // The session lives on: it rotates again, and a login made after the change is accepted too.
    expect((await me(app, (await refreshed(app, next.refreshToken)).accessToken)).status).toBe(200);
    expect((await me(app, (await login(app)).accessToken)).status).toBe(200);
  });

  test('the function form is called once per live session with that session’s claims and record; the claims replace, not merge', async () => {
    const first = await login(app);
    const second = await login(app, 'alice', 'second-device');
    // Make the two sessions differ first.
    await auth.updateClaims('user-alice', (_current, session) => ({ role: 'admin', device: session.userAgent }));
    const seen: Array<{ current: Record<string, unknown>; session: SessionRecord }> = [];
    const ids = await auth.updateClaims('user-alice', (current, session) => {
      seen.push({ current: { ...current }, session });
      expect(Object.isFrozen(current)).toBe(true);
      return { role: 'reader', was: current.device };
    });
    expect(new Set(ids)).toEqual(new Set([sidOf(first.accessToken), sidOf(second.accessToken)]));
    expect(seen.map(({ current }) => current).sort((a, b) => String(a.device).localeCompare(String(b.device)))).toEqual([
      { role: 'admin', device: 'jest' },
      { role: 'admin', device: 'second-device' },
    ]);
    expect(new Set(seen.map(({ session }) => session.sessionId))).toEqual(new Set(ids));
    const claims = (await Promise.all([first, second].map(async (s) => payloadOf((await refreshed(app, s.refreshToken)).accessToken)))).map(
      ({ role, was, device }) => ({ role, was, device }),
    );
    expect(claims).toEqual([
      { role: 'reader', was: 'jest', device: undefined },
      { role: 'reader', was: 'second-device', device: undefined },
    ]);
  });

  test('a user without sessions: nothing updated, the event still says so; a revoked user’s sessions are not brought back', async () => {
    const events: Array<AuthEventMap['claims_updated'][0]> = [];
    auth.events.on('claims_updated', (event) => events.push(event));
    expect(await auth.updateClaims('user-nobody', { role: 'x' })).toEqual([]);
    const session = await login(app);
    await auth.revokeUser('user-alice');
    expect(await auth.updateClaims('user-alice', { role: 'x' }, { immediate: true })).toEqual([]);
    expect(await auth.listSessions('user-alice')).toEqual([]);
    await expectRefreshRejected(app, session.refreshToken);
    expect(events).toEqual([
      { userId: 'user-nobody', sessionIds: [], immediate: false },
      { userId: 'user-alice', sessionIds: [], immediate: true },
    ]);
  });

  test('claims_updated fires once with the ids; a listener that throws changes nothing', async () => {
    const session = await login(app);
    const events: Array<AuthEventMap['claims_updated'][0]> = [];
    auth.events.on('claims_updated', () => {
      throw new Error('listener bug');
    });
    auth.events.on('claims_updated', (event) => events.push(event));
    const warnings: string[] = [];
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(((message: string, options?: { code?: string }) => {
      if (options?.code === 'ERT_LISTENER_ERROR') warnings.push(message);
    }) as typeof process.emitWarning);
    const ids = await auth.updateClaims('user-alice', { role: 'reader' }, { immediate: true }).finally(() => spy.mockRestore());
    expect(ids).toEqual([sidOf(session.accessToken)]);
    expect(events).toEqual([{ userId: 'user-alice', sessionIds: ids, immediate: true }]);
    expect(warnings).toEqual([expect.stringContaining('listener bug')]);
    expect(payloadOf((await refreshed(app, session.refreshToken)).accessToken).role).toBe('reader');
  });

  describe('validation: a TypeError (ERR_INVALID_ARGUMENT) before anything is written', () => {
    const cyclic: Record<string, unknown> = { role: 'x' };
    cyclic.self = cyclic;
    const cases: Array<[string, unknown, RegExp]> = [
      ['not an object', 'admin', /claims that are .*plain object/],
      ['an array', ['admin'], /claims that are .*plain object/],
      ['null', null, /claims that are null/],
      ['a reserved name (sub)', { sub: 'someone-else' }, /reserved claim names \(sub\)/],
      ['a reserved name (claims_time)', { claims_time: 1 }, /reserved claim names \(claims_time\)/],
      ['a reserved name (auth_time)', { auth_time: 1 }, /reserved claim names \(auth_time\)/],
      ['__proto__ (as JSON.parse makes it)', JSON.parse('{"__proto__": {"isAdmin": true}}'), /prototype .*__proto__/],
      ['constructor', { constructor: 'x' }, /prototype .*constructor/],
      ['a Date inside', { since: new Date() }, /claims\.since is .*not a plain object/],
      ['a class instance', new (class Claims {})(), /not a plain object/],
      ['undefined inside', { role: undefined }, /claims\.role is undefined/],
      ['a function inside', { check: () => true }, /claims\.check is .*function/],
      ['a BigInt inside', { id: 10n }, /claims\.id is .*JSON cannot hold/],
      ['NaN inside', { score: Number.NaN }, /claims\.score is NaN/],
      ['a cycle', cyclic, /claims\.self refers back/],
      ['too large for an Authorization header', { blob: 'x'.repeat(9000) }, /too large for an access token/],
    ];
    test.each(cases)('%s', async (_label, claims, message) => {
      const session = await login(app);
      const error = await auth.updateClaims('user-alice', claims as Record<string, unknown>).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as { code?: ErrorCode }).code).toBe('ERR_INVALID_ARGUMENT');
      expect((error as Error).message).toMatch(/^auth\.updateClaims/);
      expect((error as Error).message).toMatch(message);
      // The function form is held to the same rules, per session.
      const fromFunction = await auth.updateClaims('user-alice', () => claims as Record<string, unknown>).catch((caught: unknown) => caught);
      expect((fromFunction as Error).message).toMatch(/^auth\.updateClaims: the claims function returned/);
      expect((fromFunction as Error).message).toMatch(message);
      expect((await auth.listSessions('user-alice'))[0]?.claims).toEqual({ role: 'admin' });
      expect(payloadOf((await refreshed(app, session.refreshToken)).accessToken)).not.toHaveProperty('claims_time');
    });

    test('a bad user id or options', async () => {
      await expect(auth.updateClaims('', { role: 'x' })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARGUMENT',
        message: /`userId` must be a non-empty string/,
      });
      await expect(auth.updateClaims('user-alice', { role: 'x' }, { immediate: 'yes' } as never)).rejects.toThrow(/`immediate` must be a boolean/);
      await expect(auth.updateClaims('user-alice', { role: 'x' }, { imediate: true } as never)).rejects.toMatchObject({
        code: 'ERR_UNKNOWN_OPTION',
        message: /immediate/,
      });
      await expect(auth.updateClaims('user-alice', { role: 'x' }, true as never)).rejects.toThrow(/options must be an object/);
    });

    test('when the function fails for one session, no session is updated', async () => {
      await login(app);
      await login(app, 'alice', 'second-device');
      let calls = 0;
      const failing = (): Record<string, unknown> => {
        calls += 1;
        return calls === 2 ? { sub: 'x' } : { role: 'reader' };
      };
      await expect(auth.updateClaims('user-alice', failing)).rejects.toThrow(/reserved claim names/);
      expect((await auth.listSessions('user-alice')).map((session) => session.claims)).toEqual([{ role: 'admin' }, { role: 'admin' }]);
    });
  });
});

describe('a store without the claims methods', () => {
  test('auth.updateClaims rejects naming the missing method (amendSession; markClaimsChanged with immediate)', async () => {
    class OldStore extends MemoryStore {}
    const bare = new OldStore();
    Object.assign(bare, { amendSession: undefined, markClaimsChanged: undefined });
    const { app, auth } = testApp(bare);
    await login(app);
    await expect(auth.updateClaims('user-alice', { role: 'x' })).rejects.toMatchObject({
      code: 'ERR_INCOMPATIBLE_OPTIONS',
      message: /needs the store's `amendSession` method, which this store \(OldStore\) does not have/,
    });
    const half = new MemoryStore();
    Object.assign(half, { markClaimsChanged: undefined });
    const other = testApp(half);
    await expect(other.auth.updateClaims('user-alice', { role: 'x' }, { immediate: true })).rejects.toThrow(
      /with \{ immediate: true \} needs .*`markClaimsChanged`/,
    );
    expect(await other.auth.updateClaims('user-alice', { role: 'x' })).toEqual([]);
    await Promise.all([bare.close(), half.close()]);
  });
});

describe('logins that race updateClaims', () => {
  test('a session stored while the sessions were being updated (a login in flight) is caught up: it gets the claims and is among the ids', async () => {
    // A store where a login in flight lands right after updateClaims first lists the sessions.
    class RacingStore extends MemoryStore {
      land: (() => Promise<void>) | undefined;
      override async listSessions(userId: string): Promise<SessionRecord[]> {
        const listed = await super.listSessions(userId);
        const land = this.land;
        this.land = undefined;
        await land?.();
        return listed;
      }
    }
    const store = new RacingStore();
    // The in-flight login's credential check waits until updateClaims has begun: its login began before the change.
    let open = (): void => undefined;
    let gate: Promise<void> = Promise.resolve();
    let checking = (): void => undefined;
    const { app, auth } = testApp(store, {
      authenticate: async () => {
        checking();
        await gate;
        return { userId: 'user-alice', claims: { role: 'admin' } };
      },
    });
    const early = await login(app);
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const inCheck = new Promise<void>((resolve) => {
      checking = resolve;
    });
    let raced: Awaited<ReturnType<typeof login>> | undefined;
    const inFlight = login(app, 'alice', 'in-flight').then((done) => {
      raced = done;
    });
    await inCheck;
    store.land = async () => {
      open();
      await inFlight;
    };
    const ids = await auth.updateClaims('user-alice', { role: 'reader' }, { immediate: true });
    const racedId = sidOf((raced as Awaited<ReturnType<typeof login>>).accessToken);
    expect(new Set(ids)).toEqual(new Set([sidOf(early.accessToken), racedId]));
    const racedSession = (await auth.listSessions('user-alice')).find((session) => session.sessionId === racedId);
    expect(racedSession?.claims).toEqual({ role: 'reader' });
    // Its first token predates the change: refused; its refresh carries the new claims.
    await expectAccessRejected(app, (raced as Awaited<ReturnType<typeof login>>).accessToken);
    const next = await refreshed(app, (raced as Awaited<ReturnType<typeof login>>).refreshToken);
    expect((await me(app, next.accessToken)).body.claims).toEqual({ role: 'reader' });
    await store.close();
  });

  test('with immediate, a session that missed the change (stored after the last list) ends at its first refresh instead of issuing tokens every instance refuses', async () => {
    const store = new MemoryStore();
    const { app, auth } = testApp(store);
    const session = await login(app);
    // What a session that missed the change looks like: claims from before the mark.
    await store.markClaimsChanged('user-alice', { changedAt: Date.now() + 1, retainMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await expectAccessRejected(app, session.accessToken);
    await expectRefreshRejected(app, session.refreshToken);
    expect(await auth.listSessions('user-alice')).toEqual([]);
    await store.close();
  });
});

describe('two instances on one Redis', () => {
  let a: { app: Express; auth: Auth };
  let b: { app: Express; auth: Auth };
  beforeAll(async () => {
    const server = await privateServer();
    const prefix = uniquePrefix();
    a = await readyInstanceOn(server.port, prefix, { revocation: { maxStaleness: '1s' } });
    b = await readyInstanceOn(server.port, prefix, { revocation: { maxStaleness: '1s' } });
  });

  test('updateClaims with immediate on A: B refuses the older access token within the propagation time, and accepts the refreshed one with the new claims', async () => {
    const session = await login(a.app);
    expect((await me(b.app, session.accessToken)).status).toBe(200);
    const t0 = Date.now();
    await a.auth.updateClaims('user-alice', { role: 'reader' }, { immediate: true });
    await expectAccessRejected(a.app, session.accessToken); // A at once
    expect(
      await statusWithin(
        () => me(b.app, session.accessToken),
        (status) => status === 401,
        1000,
      ),
    ).toBe(401);
    expect(Date.now() - t0).toBeLessThan(1000);
    await expectAccessRejected(b.app, session.accessToken);

    const next = await refreshed(b.app, session.refreshToken);
    for (const app of [a.app, b.app]) {
      const res = await me(app, next.accessToken);
      expect(res.status).toBe(200);
      expect(res.body.claims).toEqual({ role: 'reader' });
    }
  });

  test('without immediate, B keeps accepting the older access token; B’s refresh carries the new claims', async () => {
    const session = await login(a.app, 'bob');
    await a.auth.updateClaims('user-bob', { role: 'editor' });
    await new Promise((resolve) => setTimeout(resolve, 200)); // longer than any propagation
    const old = await me(b.app, session.accessToken);
    expect(old.status).toBe(200);
    expect(old.body.claims).toEqual({ role: 'reader' });
    expect(payloadOf((await refreshed(b.app, session.refreshToken)).accessToken).role).toBe('editor');
  });

  test('a feed that loads after the change (an instance started later) refuses the older token too', async () => {
    const server = await privateServer();
    const prefix = uniquePrefix();
    const first = await readyInstanceOn(server.port, prefix);
    const session = await login(first.app);
    await first.auth.updateClaims('user-alice', { role: 'reader' }, { immediate: true });
    const later = await readyInstanceOn(server.port, prefix);
    await expectAccessRejected(later.app, session.accessToken);
    expect((await me(later.app, (await refreshed(later.app, session.refreshToken)).accessToken)).body.claims).toEqual({ role: 'reader' });
  });
});
