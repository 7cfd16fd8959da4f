// The SessionStore contract: what RedisStore and MemoryStore both implement, and what the core relies on.
import type { Store as RateLimitCounters } from 'express-rate-limit';
import { ErrorCodes } from '../errors';
import { configurationError } from '../option-checks';
import type { RevocationFeed, RevocationFeedOptions } from '../revocation/revocation-feed';
import type { Verification } from '../shared/verification';

export type { RevocationFeed, RevocationFeedOptions, RevocationFeedStatus, RevocationVerdict } from '../revocation/revocation-feed';

/**
 * What a store keeps about one session (one refresh-token family). Times are epoch milliseconds.
 * `auth.listSessions` resolves with these.
 *
 * @example
 * ```ts
 * import type { SessionRecord } from 'express-refresh-tokens';
 *
 * const sessions: SessionRecord[] = await auth.listSessions(userId);
 * for (const session of sessions) {
 *   console.log(session.sessionId, session.device, session.network, 'last used', new Date(session.lastUsedAt).toISOString());
 * }
 * ```
 */
export interface SessionRecord {
  /** The session (family) id; also the access token's `sid` claim. */
  sessionId: string;
  /** The user the session belongs to; the access token's `sub` claim. */
  userId: string;
  /** The app's extra claims from `authenticate`, re-issued in every access token. */
  claims: Record<string, unknown>;
  /** When the login that created the family began (before `authenticate` ran); the tokens' `auth_time`. */
  createdAt: number;
  /** When its refresh token was last rotated (or the login time). */
  lastUsedAt: number;
  /** When the family dies: `min(lastUsedAt + idleTtl, createdAt + absoluteTtl)`. */
  expiresAt: number;
  /** The absolute deadline `createdAt + absoluteTtl`; rotation never moves it. */
  absoluteExpiresAt: number;
  /**
   * What the login's client was, for people: browser, major version and operating system, parsed
   * from its `User-Agent` (`Chrome 131 on Windows`, `curl 8`, `Unknown device`), at most 40 characters.
   */
  device: string;
  /**
   * Where the login came from, coarsely: its address's IPv4 /24 or IPv6 /48 (`198.51.100.0/24`,
   * `2001:db8:1234::/48`), the whole address with `sessionNetwork: 'address'`, or `''` with
   * `sessionNetwork: 'off'` or when the address was unknown.
   */
  network: string;
  /**
   * @deprecated The device label, the same as {@link SessionRecord.device}: the raw User-Agent is no
   * longer stored.
   */
  userAgent: string;
  /** Present (true) when every refresh of the family must prove possession of a device key (DPoP); absent otherwise. */
  bound?: true;
  /**
   * How and when the user last proved who they are: the login's proof when `authenticate` said how
   * (`amr`), or the latest step-up (`POST /reauth`); absent when neither. Access tokens carry it.
   */
  verification?: Verification;
  /**
   * When `auth.updateClaims` last changed the session's claims (epoch ms, the store's clock); absent
   * while they are still those of the login. Its access tokens carry it as `claims_time`.
   */
  claimsUpdatedAt?: number;
}

/**
 * What is needed to create a family: what {@link SessionStore.createSession} receives. Only a
 * custom store, or a wrapper around one, deals with it.
 *
 * @example
 * ```ts
 * import { MemoryStore, type NewSession, type SessionRecord } from 'express-refresh-tokens';
 *
 * // A store for tests that counts logins.
 * class CountingStore extends MemoryStore {
 *   created = 0;
 *   override async createSession(session: NewSession): Promise<SessionRecord | null> {
 *     this.created += 1;
 *     return super.createSession(session);
 *   }
 * }
 * ```
 */
export interface NewSession {
  /** The new session's id (random, URL-safe). */
  sessionId: string;
  /** The user's id from `authenticate`. */
  userId: string;
  /** The app's claims from `authenticate`. */
  claims: Record<string, unknown>;
  /** The login's device label ({@link SessionRecord.device}): what the store keeps instead of the User-Agent. */
  device: string;
  /** The login's network label ({@link SessionRecord.network}). */
  network: string;
  /**
   * A keyed hash (base64url) of the login's device label and network, never the pair itself: the
   * store remembers it per user as long as a session with it could live, and reports on the created
   * record whether it was new ({@link CreatedSession.newDevice}). Absent: nothing is remembered.
   */
  deviceHash?: string;
  /** Hash of the first refresh secret; the secret itself is never stored. */
  secretHash: string;
  /** The fingerprint of the client that logged in (see TokenPresentation.clientHash). */
  clientHash: string;
  /** True when the family is bound to a device key: the record says so ({@link SessionRecord.bound}). */
  bound?: boolean;
  /** How the user proved who they are at this login, when `authenticate` said ({@link SessionRecord.verification}). */
  verification?: Verification | undefined;
  /** When the login began (before `authenticate` ran), on the store's clock ({@link StoreClock.read}): the family's `createdAt`. */
  now: number;
  /** `refreshToken.idleTtl`, in milliseconds. */
  idleTtlMs: number;
  /** `refreshToken.absoluteTtl`, in milliseconds. */
  absoluteTtlMs: number;
  /**
   * The most live sessions the user may have: creating one beyond it ends the oldest (its refresh
   * token stops working and its access tokens are refused for `revocationTtlMs`).
   */
  maxSessionsPerUser: number;
  /** How long a revocation must be remembered by the feed: the access-token lifetime plus leeway. */
  revocationTtlMs: number;
}

/**
 * What {@link SessionStore.createSession} resolves with: the new session's record, and whether its
 * device was new to the user.
 */
export interface CreatedSession extends SessionRecord {
  /**
   * True when no session of the user that could still be alive (one whose absolute deadline has not
   * passed, ended or not) came from the same device label and network ({@link NewSession.deviceHash}),
   * the user's first login included; false when one did. Absent when the store does not track it (a
   * custom store may leave it out): then no `new_device` event is emitted.
   */
  newDevice?: boolean;
}

/**
 * Which of a user's live sessions (oldest first) the cap of `max` ends: every one whose login began
 * before `revokedBefore` (one user revocation, however many), and `oneByOne` those that began in the
 * very millisecond of the oldest one kept, ended each by itself so that the mark spares it. `null`
 * when none is beyond the cap. Both stores decide it this one way.
 */
export function sessionsBeyondCap(live: readonly SessionRecord[], max: number): { revokedBefore: number; oneByOne: SessionRecord[] } | null {
  const ended = live.slice(0, Math.max(0, live.length - max));
  const newest = ended[ended.length - 1];
  if (newest === undefined) return null;
  const tied = live[ended.length]?.createdAt === newest.createdAt;
  const revokedBefore = tied ? newest.createdAt : newest.createdAt + 1;
  return { revokedBefore, oneByOne: ended.filter((record) => record.createdAt >= revokedBefore) };
}

/**
 * The record a new family starts with: created and last used now, dying at
 * `min(now + idleTtl, now + absoluteTtl)`. Both stores and the caller build it this one way.
 */
export function newSessionRecord(session: NewSession): SessionRecord {
  const absoluteExpiresAt = session.now + session.absoluteTtlMs;
  const record: SessionRecord = {
    sessionId: session.sessionId,
    userId: session.userId,
    claims: session.claims,
    createdAt: session.now,
    lastUsedAt: session.now,
    expiresAt: Math.min(session.now + session.idleTtlMs, absoluteExpiresAt),
    absoluteExpiresAt,
    userAgent: session.device,
    device: session.device,
    network: session.network,
  };
  if (session.bound) record.bound = true;
  if (session.verification !== undefined) record.verification = session.verification;
  return record;
}

/**
 * One presentation of a refresh token. Both hashes are computed by the caller, so a store never sees
 * a secret: `presentedHash` is the hash of the presented secret, `successorHash` the hash of the
 * secret derived from it (`HMAC(refreshToken.secret, sessionId ‖ secret)`). The store decides with
 * its own clock (Redis' `TIME` for RedisStore), so every instance measures the grace window alike.
 * What {@link SessionStore.presentToken} receives; only a custom store, or a wrapper, deals with it.
 *
 * @example
 * ```ts
 * import { MemoryStore, type PresentationOutcome, type TokenPresentation } from 'express-refresh-tokens';
 *
 * class AuditedStore extends MemoryStore {
 *   override async presentToken(sessionId: string, presentation: TokenPresentation): Promise<PresentationOutcome> {
 *     const outcome = await super.presentToken(sessionId, presentation);
 *     log.info({ sessionId, action: presentation.action, generation: presentation.generation, status: outcome.status });
 *     return outcome;
 *   }
 * }
 * ```
 */
export interface TokenPresentation {
  /** The hash of the presented token's secret. */
  presentedHash: string;
  /** The hash of the successor derived from the presented secret. */
  successorHash: string;
  /** The token's generation (0 at login). The caller checked the token's MAC, so it is authentic. */
  generation: number;
  /**
   * A keyed fingerprint of the presenting client (IP address and User-Agent). A rotation records it;
   * a retry of the previous token inside the grace window gets the successor only from that client.
   * For a family bound to a client-held key (DPoP), a keyed hash of the key's thumbprint instead.
   */
  clientHash: string;
  /**
   * For a family bound to a client-held key (DPoP): a hash of the `jti` of the proof that came with
   * this presentation (base64url, never a `~` or a space); absent otherwise. A rotation records it
   * together with the client. A later presentation of the previous token carrying the same
   * `proofHash` as the one the rotation recorded is that request replayed (a legitimate retry
   * always carries a fresh proof): `unknown`, nothing changes, checked before the grace-window and
   * reuse rules, whatever the window. A store that does not keep it answers such a replay as it
   * answers any retry from that client.
   */
  proofHash?: string;
  /** `'rotate'` for `/refresh`; `'revoke'` for logout and re-login (end the family if the token is its own). */
  action: 'rotate' | 'revoke';
  /** `refreshToken.idleTtl`, in milliseconds: a rotation pushes the expiry this far (never past the absolute deadline). */
  idleTtlMs: number;
  /** `refreshToken.reuseGrace`, in milliseconds; `0` means no grace window. */
  reuseGraceMs: number;
  /** How long a revocation must be remembered by the feed: the access-token lifetime plus leeway. */
  revocationTtlMs: number;
}

/**
 * The outcome of a {@link TokenPresentation}, decided atomically by the store:
 * - `rotated`: the presented token was current; the successor is now current.
 * - `retried`: the presented token was the previous one, inside the grace window, from the client
 *   that rotated it; the successor (already current) is answered again. Nothing changes.
 * - `revoked`: action `revoke` and the token was the family's current one, or the previous one
 *   inside the grace window; family ended.
 * - `reuse`: the token was an earlier one of the family (the previous one outside the window or
 *   from another client, or an older generation), whatever the action; the family was revoked.
 * - `unknown`: the session exists but the token is none of its tokens (its generation is not behind
 *   the family's, yet its secret matches nothing), or it is the previous token presented again with
 *   the proof its rotation recorded (a replayed proof, see {@link TokenPresentation.proofHash}):
 *   refused, nothing changes.
 * - `missing`: no such session (never existed, expired or revoked).
 *
 * @example
 * ```ts
 * import type { PresentationOutcome } from 'express-refresh-tokens';
 *
 * function describeOutcome(outcome: PresentationOutcome): string {
 *   switch (outcome.status) {
 *     case 'reuse':
 *       return `replayed token: session ${outcome.session.sessionId} of ${outcome.session.userId} revoked`;
 *     case 'unknown':
 *     case 'missing':
 *       return 'refused';
 *     default:
 *       return `${outcome.status}: ${outcome.session.sessionId}`;
 *   }
 * }
 * ```
 */
export type PresentationOutcome =
  | { status: 'rotated' | 'retried' | 'revoked' | 'reuse'; session: SessionRecord }
  | { status: 'unknown' }
  | { status: 'missing' };

/**
 * What {@link SessionStore.amendSession} changes in a live session; fields left out stay as they are.
 *
 * @example
 * ```ts
 * import { MemoryStore, type SessionAmendment, type SessionRecord } from 'express-refresh-tokens';
 *
 * class AuditedStore extends MemoryStore {
 *   override async amendSession(sessionId: string, amendment: SessionAmendment): Promise<SessionRecord | null> {
 *     log.info({ sessionId, stepUp: amendment.verification?.amr });
 *     return super.amendSession(sessionId, amendment);
 *   }
 * }
 * ```
 */
export interface SessionAmendment {
  /** The user's newest proof of identity (a step-up): replaces {@link SessionRecord.verification}. */
  verification?: Verification;
  /**
   * New claims (`auth.updateClaims`), changed at `updatedAt` (epoch ms, the store's clock, recorded as
   * {@link SessionRecord.claimsUpdatedAt}). A session whose claims were changed at a later time keeps
   * them: nothing is amended, and the store resolves with `null` (the latest change wins, whatever
   * order the calls land in).
   */
  claims?: { value: Record<string, unknown>; updatedAt: number };
}

/** What `revokeUser` needs: the cut-off time and how long the feed must remember it. */
export interface UserRevocation {
  /** Every session whose login began before this time (epoch ms, the store's clock) ends, including logins in flight. */
  revokedBefore: number;
  /** How long the cut-off must be remembered: the longest a session can live (absoluteTtl) plus leeway. */
  retainMs: number;
}

/**
 * What {@link SessionStore.markClaimsChanged} records: a user's claims changed at `changedAt`, so
 * every feed refuses the user's access tokens whose claims are older, for `retainMs`.
 */
export interface ClaimsChange {
  /** When the claims changed (epoch ms, the store's clock): tokens whose claims time (`claims_time`, else `auth_time`) is before it are refused. */
  changedAt: number;
  /** How long feeds must remember it: the access-token lifetime plus leeway (every older token has expired by then). */
  retainMs: number;
}

/**
 * The clock revocation judges by: login starts, `revokeUser` marks and the store's epoch are
 * times of it, so instances whose own clocks differ still agree on which sessions a revocation
 * ends. RedisStore's is Redis' `TIME`; MemoryStore's is this process's clock.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStore, type StoreClock } from 'express-refresh-tokens';
 *
 * const clock: StoreClock = new RedisStore({ client: new Redis(process.env.REDIS_URL ?? 'redis://localhost:6379') }).clock;
 * console.log(`Redis' clock minus this one: about ${Math.round((await clock.read()) - Date.now())} ms`);
 * ```
 */
export interface StoreClock {
  /** Reads the clock (RedisStore: one round trip); epoch milliseconds, possibly fractional. */
  read(): Promise<number>;
  /**
   * The clock's time estimated without a round trip (RedisStore: this process's clock plus the
   * offset last measured, erring early); what access tokens and cookies are dated with.
   */
  now(): number;
}

/** This process's clock as a {@link StoreClock}: MemoryStore's, and the one used for a store that has none. */
export const PROCESS_CLOCK: StoreClock = { read: async () => Date.now(), now: () => Date.now() };

/**
 * Marks "this username signed in from this address", each for a time: login throttling lets them
 * past the per-username budget. The keys are the caller's HMACs of the pair, so neither the address
 * nor the username is kept.
 */
export interface KnownAddresses {
  /** Whether the mark is there and has not expired. */
  has(key: string): Promise<boolean>;
  /** Sets the mark, or renews it for the whole TTL. */
  add(key: string): Promise<void>;
}

/**
 * The storage contract. Every method is atomic with respect to one session, rejects with a
 * `StoreUnavailableError` when its backend cannot answer in time (and then never takes effect
 * later), and never stores a secret.
 * Implementations: `RedisStore` (production) and `MemoryStore` (one process, development, tests).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { MemoryStore, RedisStore, type SessionStore } from 'express-refresh-tokens';
 *
 * // Redis in production; memory when developing without one.
 * const store: SessionStore = process.env.REDIS_URL
 *   ? new RedisStore({ client: new Redis(process.env.REDIS_URL), prefix: 'auth:' })
 *   : new MemoryStore();
 * const session = await store.getSession(sessionId); // null once it ended or expired
 * ```
 */
export interface SessionStore {
  /**
   * Creates a family and indexes it under its user. Resolves with its record (saying, when
   * `session.deviceHash` is given, whether the device was new: {@link CreatedSession.newDevice}), or
   * with `null` when a `revokeUser` for this user was called after the login began (`session.now`):
   * nothing is kept.
   */
  createSession(session: NewSession): Promise<CreatedSession | null>;
  /** Applies one refresh-token presentation atomically (see {@link PresentationOutcome}). */
  presentToken(sessionId: string, presentation: TokenPresentation): Promise<PresentationOutcome>;
  /**
   * Ends a session unconditionally and has every feed refuse its access tokens for
   * `revocationTtlMs`. Resolves with the record that was ended, or `null`.
   */
  revokeSession(sessionId: string, revocationTtlMs: number): Promise<SessionRecord | null>;
  /**
   * Deletes a family whose refresh token was never handed out (a login that failed half-way).
   * Unlike every other operation it may still take effect after it timed out, since deleting what
   * nobody holds is always safe; it is sent behind the writes it cleans up after.
   */
  discardSession(sessionId: string): Promise<void>;
  /**
   * Ends every session of a user whose login began before `revokedBefore`, including logins still
   * in flight, and has every feed refuse them. Resolves with the records that were ended.
   */
  revokeUser(userId: string, revocation: UserRevocation): Promise<SessionRecord[]>;
  /**
   * Changes what a live session records, atomically, without touching its tokens or its expiry (see
   * {@link SessionAmendment}): a step-up (`POST /reauth`), new claims (`auth.updateClaims`). Resolves
   * with the amended record, or `null` when the session is not live, or its claims were changed at a
   * later time than those given (nothing is amended). Optional, so a custom store written before it
   * still compiles: `POST /reauth` and `auth.updateClaims` then throw, naming it.
   */
  amendSession?(sessionId: string, amendment: SessionAmendment): Promise<SessionRecord | null>;
  /**
   * Records that a user's claims changed (see {@link ClaimsChange}) in the revocation log, announced
   * like a user revocation: every feed refuses the user's access tokens whose claims predate it.
   * Optional like {@link SessionStore.amendSession}: `auth.updateClaims(…, { immediate: true })`
   * throws without it.
   */
  markClaimsChanged?(userId: string, change: ClaimsChange): Promise<void>;
  /** The live session with this id, or `null`. */
  getSession(sessionId: string): Promise<SessionRecord | null>;
  /** Every live session of a user, oldest first. */
  listSessions(userId: string): Promise<SessionRecord[]>;
  /** Opens this process's copy of the store's revocations (its revocation feed); `createAuth` calls it. */
  openRevocationFeed(options: RevocationFeedOptions): RevocationFeed;
  /**
   * The store's clock, which revocation judges by (see {@link StoreClock}). Optional for a custom
   * store: without it, this process's clock is used, which is right for a store in one process only.
   */
  readonly clock?: StoreClock;
  /**
   * Login throttling's counters named `name` (an express-rate-limit `Store`), shared by every
   * instance on this store and under its time budget. Optional: without it the counters live in
   * the process (express-rate-limit's `MemoryStore`), which is right for a store in one process only.
   */
  rateLimitStore?(name: string): RateLimitCounters;
  /**
   * Login throttling's known-address marks, each kept `ttlMs`, shared like {@link SessionStore.rateLimitStore}.
   * Optional: without it they live in the process.
   */
  knownAddresses?(ttlMs: number): KnownAddresses;
  /**
   * The store's connection state, for health checks and metrics (see {@link StoreStatus}). Optional:
   * a store without it is reported by its revocation feed alone.
   */
  status?(): StoreStatus;
  /** Releases timers and connections the store owns. Never closes a client it was given. */
  close?(): Promise<void>;
}

/** A store's connection state, as {@link SessionStore.status} reports it. */
export interface StoreStatus {
  /** `open` while commands fail at once because the store stopped answering (RedisStore's circuit breaker). */
  circuit: 'closed' | 'open';
  /** Why the store is not answering, when it knows (the connection error, or the timeout that opened the circuit). */
  problem?: unknown;
  /** The store's clock minus this process's, in ms, from the latest measurement; absent when the store uses this process's clock. */
  clockOffsetMs?: number | undefined;
}

/**
 * One of a store's optional methods, bound, for `caller` (what needs it, as its message names it), or
 * a TypeError (code `ERR_INCOMPATIBLE_OPTIONS`) saying the store lacks it: a custom store written
 * before the method existed.
 */
export function optionalStoreMethod<M extends 'amendSession' | 'markClaimsChanged'>(
  store: SessionStore,
  name: M,
  caller: string,
): NonNullable<SessionStore[M]> {
  const method = store[name];
  if (typeof method !== 'function') {
    throw configurationError(
      'type',
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
      `${caller} needs the store's \`${name}\` method, which this store (${store.constructor?.name ?? 'a custom store'}) does not have. ` +
        `Implement it (see SessionStore.${name}), or use RedisStore or MemoryStore.`,
    );
  }
  return method.bind(store) as NonNullable<SessionStore[M]>;
}
