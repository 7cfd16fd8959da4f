// auth.updateClaims: new claims for every live session of a user, and (immediate) the user's older access tokens refused everywhere.
import { optionalStoreMethod, type SessionRecord, type SessionStore, type StoreClock } from '../store/session-store';

/**
 * The claims `auth.updateClaims` gives a user's sessions: one object for every session, or a function
 * called once per live session with that session's current claims (sessions may differ) and its record.
 */
export type ClaimsUpdate = Record<string, unknown> | ((current: Readonly<Record<string, unknown>>, session: SessionRecord) => Record<string, unknown>);

/** What {@link updateUserClaims} needs: the store's methods, its clock, and the claims check. */
export interface ClaimsUpdateDeps {
  store: SessionStore;
  clock: StoreClock;
  /** How long feeds remember a claims change: the access-token lifetime plus leeway. */
  retainMs: number;
  /** Checks one session's new claims (throws a TypeError naming what is wrong) and returns what to store. */
  check(claims: unknown, session: SessionRecord): Record<string, unknown>;
}

/**
 * A time on the store's clock just past now (a whole millisecond), and a wait until the store's clock
 * has passed it, measured without reading it again: at least as much time has passed on it since it
 * was read as here since its reading arrived (clocks differ in what time they show, not in how fast
 * it passes). `revokeUser` and `updateClaims` mark their changes with it, so a login that began in the
 * very millisecond of the call counts as before the change, and one that begins once the call
 * resolved as after it.
 */
export async function markJustPast(clock: StoreClock): Promise<{ mark: number; passed(): Promise<void> }> {
  const storeTime = await clock.read();
  const readAt = performance.now();
  const mark = Math.floor(storeTime) + 1;
  const early = (): number => mark - storeTime - (performance.now() - readAt);
  return {
    mark,
    async passed() {
      for (let left = early(); left > 0; left = early()) await new Promise((resolve) => setTimeout(resolve, Math.ceil(left)));
    },
  };
}

/** How many times the sessions are listed again for logins that raced the update. */
const MAX_CATCH_UP_ROUNDS = 10;

/** When a session's claims date from: their last update, else the login. */
const claimsTimeOf = (session: SessionRecord): number => session.claimsUpdatedAt ?? session.createdAt;

/**
 * Gives every live session of `userId` its new claims, dated `T` (the store's clock, just past the
 * call), and resolves with the ids of the sessions updated. Every session's new claims are computed
 * and checked before any is written, so a bad one changes nothing of that round. With `immediate`,
 * the change is then marked in the revocation log (after the sessions: a token issued once the mark
 * is heard, for an updated session, carries `claims_time` T), so every feed refuses the user's access
 * tokens whose claims predate T. Then the user's sessions are listed again, and those whose claims
 * still predate T (logins that were in flight while the first list was read) are updated too, until
 * none is left. What remains: a login whose credential check began before the call and whose session
 * is stored after the last list; with `immediate` its tokens are refused and its first refresh ends it
 * (the feed's verdict on a session that missed the change), so its user signs in again.
 */
export async function updateUserClaims(deps: ClaimsUpdateDeps, userId: string, update: ClaimsUpdate, immediate: boolean): Promise<string[]> {
  const { store, clock } = deps;
  const amendSession = optionalStoreMethod(store, 'amendSession', 'auth.updateClaims');
  const markChange = immediate ? optionalStoreMethod(store, 'markClaimsChanged', 'auth.updateClaims with { immediate: true }') : undefined;
  const { mark, passed } = await markJustPast(clock);
  const updated = new Set<string>();
  const round = async (sessions: SessionRecord[]): Promise<void> => {
    const changes = sessions.map((session) => ({
      session,
      claims: deps.check(typeof update === 'function' ? update(Object.freeze(session.claims), session) : update, session),
    }));
    const records = await Promise.all(changes.map(({ session, claims }) => amendSession(session.sessionId, { claims: { value: claims, updatedAt: mark } })));
    for (const record of records) if (record !== null) updated.add(record.sessionId);
  };
  await round(await store.listSessions(userId));
  await markChange?.(userId, { changedAt: mark, retainMs: deps.retainMs });
  // Bounded, should a custom store not record the update's time (its sessions would never stop looking missed).
  for (let rounds = 0; rounds < MAX_CATCH_UP_ROUNDS; rounds++) {
    const missed = (await store.listSessions(userId)).filter((session) => claimsTimeOf(session) < mark);
    if (missed.length === 0) break;
    await round(missed);
  }
  await passed();
  return [...updated];
}
