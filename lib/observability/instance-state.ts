// One reading of an instance's revocation feed and store, and that state in words: what the health check reports and the state-change log says.
import { describeMs } from '../duration';
import { describeStoreCause } from '../errors';
import type { RevocationFeed, RevocationFeedStatus } from '../revocation/revocation-feed';
import type { SessionStore, StoreStatus } from '../store/session-store';

/** Where an instance's state is read: its revocation feed and store, and how stale the feed may grow (`revocation.maxStaleness`). */
export interface StateSources {
  readonly feed: RevocationFeed;
  /** Only its connection state is read. */
  readonly store: Pick<SessionStore, 'status'>;
  readonly maxStalenessMs: number;
}

/** One reading of an instance's state. */
export interface InstanceState {
  /** The feed's own answer, {@link RevocationFeed.freshness}: requireAuth answers 503 exactly when it is not `fresh`. */
  freshness: 'loading' | 'stale' | 'fresh';
  /** The feed's details, when it reports them. */
  feed: RevocationFeedStatus | undefined;
  /** The store's connection state, when it reports one. */
  store: StoreStatus | undefined;
}

/** Reads the state: the feed's freshness first (the predicate of requireAuth's 503), then the details. Synchronous, no store round trip. */
export function readState({ feed, store }: StateSources): InstanceState {
  return { freshness: feed.freshness(), feed: feed.status?.(), store: store.status?.() };
}

/** How long a reload forced by a gap, or a loss of the store's data, keeps the health check at `warn`: a minute. */
export const RECENT_CHANGE_MS = 60_000;

/** A duration in seconds to a tenth, for messages: `2.5 s`. */
export function inSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `: <the cause in words>`, or nothing when there is no cause. */
function causeInWords(cause: unknown): string {
  return cause === undefined || cause === null ? '' : `: ${describeStoreCause(cause)}`;
}

/**
 * Why the feed cannot vouch for its contents, with its cause in words (`connection refused (...)`, a
 * timeout): named by a failing health check and by the `ERT_FEED_UNTRUSTED` line.
 */
export function feedUntrustedReason(maxStalenessMs: number, state: InstanceState, cause: unknown): string {
  const limit = `revocation.maxStaleness (${describeMs(maxStalenessMs)})`;
  let why: string;
  if (state.freshness === 'loading') why = 'the revocation feed has not loaded from the store yet';
  else if (state.feed === undefined) why = `the revocation feed has not heard from the store for more than ${limit}`;
  else why = `the revocation feed has not heard from the store for ${Math.round(state.feed.stalenessMs)}ms, more than ${limit}`;
  return `${why}${causeInWords(cause)}`;
}

/** Why the store's circuit is open, with the problem in words: named by the health check and by the `ERT_STORE_CIRCUIT_OPEN` line. */
export function circuitOpenReason(store: StoreStatus | undefined): string {
  return `the store stopped answering${causeInWords(store?.problem)}`;
}

/** What a reload forced by a gap means: named by the health check and by the `ERT_FEED_GAP_RELOAD` line. */
export const GAP_RELOAD_WORDS = 'a gap in the revocations the feed heard forced it to reload them all from the store';

/** What a loss of the store's data means: named by the health check and by the `ERT_STORE_DATA_LOST` line. */
export function dataLostWords(at: number): string {
  return (
    `the store lost its data (Redis restarted empty, was flushed or replaced) at ${new Date(at).toISOString()}: ` +
    'every session begun before then was signed out, so those users must log in again'
  );
}
