// The revocation feed's contract: the synchronous verdicts requireAuth asks, and the options a store opens one with.
import type { KeyObject } from 'node:crypto';

/** Options for `SessionStore.openRevocationFeed`. */
export interface RevocationFeedOptions {
  /** How long the feed may go unconfirmed before {@link RevocationFeed.verdict} answers `stale`. */
  maxStalenessMs: number;
  /** How long a store-wide "everything before this is suspect" mark must outlive the last session. */
  retainMs: number;
  /**
   * The key that authenticates messages on the store's revocation channel, derived from
   * `refreshToken.secret` (createAuth passes it). A store signs what it publishes with the keys of
   * the feeds opened on it; a feed ignores every message not signed with its own, so whoever can
   * publish on the channel without the secret can neither revoke nor hide that a feed is stale.
   */
  channelKey: KeyObject;
}

/**
 * What the feed says about an access token or session:
 * - `valid`: not revoked, and the feed is fresh;
 * - `revoked`: its session or user was revoked, its claims predate a change of the user's claims
 *   (`auth.updateClaims` with `immediate`), or it predates a loss of the store's data;
 * - `stale`: the feed has been out of touch longer than `maxStalenessMs`: fail closed;
 * - `loading`: not loaded yet; wait for {@link RevocationFeed.ready} and ask again.
 */
export type RevocationVerdict = 'valid' | 'revoked' | 'stale' | 'loading';

/**
 * An in-process, always-current copy of the store's revocations, so that `requireAuth` asks a
 * synchronous question and never a store round trip. Loaded at start, fed by the store, re-synced
 * after every reconnect. Revocations made through the same store object apply at once.
 */
export interface RevocationFeed {
  /**
   * The verdict for a session of a user whose login began at `authTime` (epoch ms), whose claims date
   * from `claimsTime` (epoch ms: when `auth.updateClaims` last changed them, else the login; defaults
   * to `authTime`): `revoked` also when the user's claims changed after `claimsTime`. Synchronous. A
   * custom feed that ignores `claimsTime` only misses `updateClaims`' `immediate`.
   */
  verdict(sessionId: string, userId: string, authTime: number, claimsTime?: number): RevocationVerdict;
  /** Whether the feed can vouch for its contents now (`fresh`), or not yet, or no longer. Synchronous. */
  freshness(): 'loading' | 'stale' | 'fresh';
  /** Resolves once the feed is loaded; rejects with a `StoreUnavailableError` after a bounded wait. */
  ready(): Promise<void>;
  /**
   * Why the feed cannot vouch for itself, when it knows (a refused connection, a command that timed
   * out): named in the message of the 503's `ERR_REVOCATION_FEED_STALE` error, and its `cause`. Optional.
   */
  lastFailure?(): unknown;
  /**
   * What an operator needs to know about the feed now: health checks, metrics and the state-change
   * log read it. Optional: a feed without it is judged on {@link RevocationFeed.freshness} alone.
   */
  status?(): RevocationFeedStatus;
  /** Stops the feed's timers and connections. */
  close(): Promise<void>;
}

/** Why a feed (re)loaded the store's revocations: its first load, a reconnection, or a gap in what it heard. */
export type FeedReloadCause = 'start' | 'reconnect' | 'gap';

/** A revocation feed's state, as {@link RevocationFeed.status} reports it. */
export interface RevocationFeedStatus {
  /** The same answer as {@link RevocationFeed.freshness}: `requireAuth` answers 503 unless it is `fresh`. */
  freshness: 'loading' | 'stale' | 'fresh';
  /** Milliseconds since the feed last proved it held every revocation; `Infinity` before its first load. */
  stalenessMs: number;
  /** Revocations held in memory (sessions and users). */
  entries: number;
  /** The last revocation applied in order: the store's data generation (`epoch`) and its number in it (`version`). */
  position?: { epoch: string; version: number } | undefined;
  /** Completed loads since the feed opened, by cause. */
  reloads: Record<FeedReloadCause, number>;
  /** The latest completed load: its cause, and when (epoch ms). */
  lastReload?: { cause: FeedReloadCause; at: number } | undefined;
  /** How many times the feed found the store's data replaced (Redis lost its data: every earlier session is refused). */
  dataLosses: number;
  /** When it last found that (epoch ms). */
  lastDataLossAt?: number | undefined;
}

/**
 * How often a feed confirms it is current (and a watcher of its state looks): four times per
 * `maxStaleness`, at most once a second and at least every 25 ms.
 */
export function feedCheckIntervalMs(maxStalenessMs: number): number {
  return Math.min(1000, Math.max(25, Math.floor(maxStalenessMs / 4)));
}

/** Reload counts with nothing counted yet. */
export function noReloads(): Record<FeedReloadCause, number> {
  return { start: 0, reconnect: 0, gap: 0 };
}
