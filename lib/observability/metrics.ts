// OpenTelemetry metrics: the instruments (names, units and attributes are fixed: docs and alert rules use them) and what feeds them.
import type { Attributes, BatchObservableResult, Counter, Histogram, Meter, Observable } from '@opentelemetry/api';
import { ErrorCodes, type StoreUnavailableError } from '../errors';
import type { AuthEventMap, AuthEvents, RevocationReason, UserRevocationReason } from '../events';
import type { FeedReloadCause, RevocationFeed } from '../revocation/revocation-feed';
import type { SessionStore } from '../store/session-store';
import type { LoginResult, RefreshResult } from './operation-results';

/** The namespace every instrument and attribute of the library is named under. */
export const NAMESPACE = 'express_refresh_tokens';
/** The attribute naming how an operation ended (see {@link LoginResult}, {@link RefreshResult}). */
export const RESULT_ATTRIBUTE = `${NAMESPACE}.result`;
const REASON_ATTRIBUTE = `${NAMESPACE}.reason`;
const CAUSE_ATTRIBUTE = `${NAMESPACE}.cause`;
/** OpenTelemetry's general attribute for the class of an error. */
export const ERROR_TYPE_ATTRIBUTE = 'error.type';

/**
 * Why sessions were ended, the `express_refresh_tokens.reason` of `express_refresh_tokens.revocations`:
 * `logout` (`POST /logout`, or `DELETE /sessions/:id`), `logout_all` (`POST /logout-all`), `api`
 * (`auth.revokeSession`), `user` (`auth.revokeUser`), `reuse` (a replayed refresh token ended its family),
 * `replaced` (a login from a browser still holding a session's cookie ended that session). Sessions that
 * `maxSessionsPerUser` pushes out are not counted: the store contract does not say which ones it ended.
 */
export type RevocationMetricReason = 'logout' | 'logout_all' | 'api' | 'reuse' | 'replaced' | 'user';

/**
 * Why `requireAuth` refused a request, the `express_refresh_tokens.reason` of
 * `express_refresh_tokens.access_token.rejections`: `missing` (no bearer token), `malformed` (a 400:
 * a broken or oversized `Authorization` header, or a token sent in two places), `invalid` (signature,
 * algorithm, type, claims, key), `expired`, `revoked` (its session or user), `feed_stale` and
 * `feed_loading` (503: the revocation feed could not vouch for itself, or had not loaded in time).
 */
export type AccessTokenRejectionReason = 'missing' | 'malformed' | 'invalid' | 'expired' | 'revoked' | 'step_up_required' | 'feed_stale' | 'feed_loading';

/**
 * The class of a store failure, the `error.type` of `express_refresh_tokens.store.errors`: `timeout`
 * (no answer within `commandTimeoutMs`, or an answer too late to act on), `circuit_open` (failed fast
 * while the store is known to be down), `script` (Redis answered an error, or a reply the store cannot
 * read), `connection` (anything else: a refused or lost connection, a closed client, a custom store's error).
 */
export type StoreErrorType = 'timeout' | 'circuit_open' | 'connection' | 'script';

/** What the metrics read: the events they count, and the states the observable instruments report. */
export interface MetricSources {
  /** The instance's events: revocations and store errors are counted from them. */
  events: AuthEvents;
  /** The instance's revocation feed, whose `status()` (or `freshness()`) the feed's gauges read. */
  feed: RevocationFeed;
  /** The session store, whose `status()` the circuit gauge reads (none without it). */
  store: Pick<SessionStore, 'status'>;
}

/** The instruments the router and requireAuth record into; the rest are fed by events and observed. */
export interface AuthMetrics {
  /** Counts a login attempt by its result. */
  loginAttempt(result: LoginResult): void;
  /** Records a refresh's duration (seconds) by its result. */
  refreshDuration(result: RefreshResult, seconds: number): void;
  /** Counts an access token refused by requireAuth. Called on its refusal paths only: a passing request records nothing. */
  rejection(reason: AccessTokenRejectionReason): void;
  /** Stops listening to the events and removes the observable callback. */
  close(): void;
}

/** One attribute set per value, made once: recording allocates none. */
function attributeSets<V extends string>(name: string, values: readonly V[]): Record<V, Attributes> {
  const sets = {} as Record<V, Attributes>;
  for (const value of values) sets[value] = Object.freeze({ [name]: value });
  return sets;
}

const LOGIN_RESULTS = attributeSets<LoginResult>(RESULT_ATTRIBUTE, [
  'success',
  'invalid_credentials',
  'invalid_request',
  'invalid_proof',
  'throttled',
  'store_unavailable',
  'error',
]);
const REFRESH_RESULTS = attributeSets<RefreshResult>(RESULT_ATTRIBUTE, [
  'rotated',
  'retried',
  'reuse_detected',
  'invalid',
  'invalid_proof',
  'expired',
  'revoked',
  'invalid_request',
  'throttled',
  'store_unavailable',
  'error',
]);
const REVOCATION_REASONS = attributeSets<RevocationMetricReason>(REASON_ATTRIBUTE, ['logout', 'logout_all', 'api', 'reuse', 'replaced', 'user']);
const REJECTION_REASONS = attributeSets<AccessTokenRejectionReason>(REASON_ATTRIBUTE, [
  'missing',
  'malformed',
  'invalid',
  'expired',
  'revoked',
  'step_up_required',
  'feed_stale',
  'feed_loading',
]);
const STORE_ERROR_TYPES = attributeSets<StoreErrorType>(ERROR_TYPE_ATTRIBUTE, ['timeout', 'circuit_open', 'connection', 'script']);
const RELOAD_CAUSES: readonly FeedReloadCause[] = ['start', 'reconnect', 'gap'];
const RELOAD_CAUSE_ATTRIBUTES = attributeSets<FeedReloadCause>(CAUSE_ATTRIBUTE, RELOAD_CAUSES);

const SESSION_REVOCATIONS: Record<RevocationReason, RevocationMetricReason> = { api: 'api', user_request: 'logout', new_login: 'replaced' };
const USER_REVOCATIONS: Record<UserRevocationReason, RevocationMetricReason> = { api: 'user', logout_all: 'logout_all' };

/**
 * Bucket boundaries (seconds) for refresh durations: a refresh is one store round trip and an HMAC or
 * two, so milliseconds; the top buckets catch the waits of an outage (up to `commandTimeoutMs`).
 */
const REFRESH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The class of a store failure reported by a `store_error` event, or `undefined` when it is no failure
 * of the store: the revocation feed's refusals (counted as access-token rejections, and shown by the
 * feed's gauges) and an instance refusing work while it closes.
 */
export function storeErrorType(error: StoreUnavailableError): StoreErrorType | undefined {
  switch (error.code) {
    case ErrorCodes.ERR_STORE_TIMEOUT:
    case ErrorCodes.ERR_STORE_DEADLINE_EXCEEDED:
      return 'timeout';
    case ErrorCodes.ERR_STORE_CIRCUIT_OPEN:
      return 'circuit_open';
    case ErrorCodes.ERR_STORE_BAD_REPLY:
      return 'script';
    default:
      if (!error.code.startsWith('ERR_STORE_')) return undefined;
      // Redis' own error reply (OOM, READONLY, NOPERM, a script error) is ioredis' ReplyError.
      return error.cause instanceof Error && error.cause.name === 'ReplyError' ? 'script' : 'connection';
  }
}

/**
 * Creates every instrument on `meter`: the router records login attempts and refresh durations,
 * requireAuth its refusals; revocations and store errors are counted from `sources.events`; the
 * revocation feed's and the store's states are read by one batch callback at each collection.
 */
export function createAuthMetrics(meter: Meter, sources: MetricSources): AuthMetrics {
  const { events, feed, store } = sources;
  const name = (suffix: string): string => `${NAMESPACE}.${suffix}`;

  const loginAttempts: Counter = meter.createCounter(name('login.attempts'), { unit: '{attempt}', description: 'Login attempts, by result.' });
  const refreshDurations: Histogram = meter.createHistogram(name('refresh.duration'), {
    unit: 's',
    description: 'Duration of refresh requests, from the CSRF check to the answer, by result.',
    advice: { explicitBucketBoundaries: REFRESH_BUCKETS },
  });
  const revocations: Counter = meter.createCounter(name('revocations'), { unit: '{revocation}', description: 'Sessions or users revoked, by reason.' });
  const rejections: Counter = meter.createCounter(name('access_token.rejections'), {
    unit: '{rejection}',
    description: 'Requests refused by requireAuth, by reason.',
  });
  const storeErrors: Counter = meter.createCounter(name('store.errors'), { unit: '{error}', description: 'Failed session-store operations, by type.' });

  const staleness = meter.createObservableGauge(name('revocation_feed.staleness'), {
    unit: 's',
    description: 'Time since the revocation feed last confirmed it holds every revocation.',
  });
  const trusted = meter.createObservableGauge(name('revocation_feed.trusted'), {
    unit: '1',
    description: 'Whether the revocation feed can vouch for its contents (1), or requireAuth answers 503 (0).',
  });
  const entries = meter.createObservableGauge(name('revocation_feed.entries'), { unit: '{entry}', description: 'Revocations the feed holds in memory.' });
  const reloads = meter.createObservableCounter(name('revocation_feed.reloads'), {
    unit: '{reload}',
    description: 'Completed loads of the revocation feed, by cause.',
  });
  const dataLosses = meter.createObservableCounter(name('revocation_feed.data_losses'), {
    unit: '{loss}',
    description: "Times the feed found the store's data replaced (every earlier session signed out).",
  });
  const circuitOpen = meter.createObservableGauge(name('store.circuit_open'), {
    unit: '1',
    description: "Whether the store's circuit is open (1): commands fail fast.",
  });
  const observables: Observable[] = [staleness, trusted, entries, reloads, dataLosses, circuitOpen];

  const observe = (result: BatchObservableResult): void => {
    const feedStatus = feed.status?.();
    result.observe(trusted, (feedStatus?.freshness ?? feed.freshness()) === 'fresh' ? 1 : 0);
    if (feedStatus !== undefined) {
      // Infinity before the first load: nothing to report yet (`trusted` says 0).
      if (Number.isFinite(feedStatus.stalenessMs)) result.observe(staleness, feedStatus.stalenessMs / 1000);
      result.observe(entries, feedStatus.entries);
      for (const cause of RELOAD_CAUSES) result.observe(reloads, feedStatus.reloads[cause], RELOAD_CAUSE_ATTRIBUTES[cause]);
      result.observe(dataLosses, feedStatus.dataLosses);
    }
    const storeStatus = store.status?.();
    if (storeStatus !== undefined) result.observe(circuitOpen, storeStatus.circuit === 'open' ? 1 : 0);
  };
  meter.addBatchObservableCallback(observe, observables);

  const unsubscribes: Array<() => void> = [];
  const listen = <E extends keyof AuthEventMap>(event: E, listener: (...args: AuthEventMap[E]) => void): void => {
    events.on(event, listener);
    unsubscribes.push(() => events.off(event, listener));
  };
  const revoked = (reason: RevocationMetricReason): void => revocations.add(1, REVOCATION_REASONS[reason]);
  listen('logout', () => revoked('logout'));
  listen('session_revoked', ({ reason }) => revoked(SESSION_REVOCATIONS[reason]));
  listen('user_revoked', ({ reason }) => revoked(USER_REVOCATIONS[reason]));
  listen('reuse_detected', () => revoked('reuse'));
  listen('store_error', ({ error }) => {
    const type = storeErrorType(error);
    if (type !== undefined) storeErrors.add(1, STORE_ERROR_TYPES[type]);
  });

  return {
    loginAttempt: (result) => loginAttempts.add(1, LOGIN_RESULTS[result]),
    refreshDuration: (result, seconds) => refreshDurations.record(seconds, REFRESH_RESULTS[result]),
    rejection: (reason) => rejections.add(1, REJECTION_REASONS[reason]),
    close() {
      meter.removeBatchObservableCallback(observe, observables);
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
    },
  };
}
