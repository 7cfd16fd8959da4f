// auth.health() and auth.healthHandler(): the instance's state as an IETF API health check (application/health+json).
import type { RequestHandler } from 'express';
import { describeMs } from '../duration';
import { MAX_CLOCK_OFFSET_MS } from '../redis/clock';
import type { AccessTokenSettings } from '../tokens/access-token';
import {
  circuitOpenReason,
  dataLostWords,
  feedUntrustedReason,
  GAP_RELOAD_WORDS,
  inSeconds,
  RECENT_CHANGE_MS,
  readState,
  type StateSources,
} from './instance-state';

/**
 * A health status, as the IETF draft "Health Check Response Format for HTTP APIs" defines it:
 * `pass` (healthy), `warn` (healthy, with something to look at), `fail` (unhealthy).
 *
 * @example
 * ```ts
 * import type { HealthStatus } from 'express-refresh-tokens';
 *
 * const ready = (status: HealthStatus): boolean => status !== 'fail';
 * console.log(ready(auth.health().status));
 * ```
 */
export type HealthStatus = 'pass' | 'warn' | 'fail';

/**
 * The checks of a {@link HealthReport}, named `<component>:<measurement>` as the draft suggests:
 * - `revocationFeed:staleness`: seconds since the feed last proved it holds every revocation;
 *   `fail` exactly when requireAuth answers 503 (the feed is not loaded, or stale), `warn` past half of `revocation.maxStaleness`;
 * - `revocationFeed:entries`: revocations held in memory;
 * - `revocationFeed:position`: the last revocation applied in order, `{ epoch, version }` (once known);
 * - `revocationFeed:reloads`: completed loads by cause, `{ start, reconnect, gap }`; `warn` for a minute after a gap forced one;
 * - `revocationFeed:dataLosses`: how often the store's data was found replaced; `warn` for a minute after;
 * - `store:circuit`: `closed`, or `open` (`warn`: logins, refreshes and logouts answer 503 at once);
 * - `store:clockOffset`: Redis' clock minus this process's, in ms; `warn` beyond 1000 ms;
 * - `accessToken:signingKey`: the `kid` new access tokens carry, or `HS256 secret` for an HMAC key (never the key).
 *
 * A check the feed or the store cannot report (a custom store without `status()`, MemoryStore's clock) is left out.
 *
 * @example
 * ```ts
 * import type { HealthCheckName } from 'express-refresh-tokens';
 *
 * const name: HealthCheckName = 'store:circuit';
 * console.log(auth.health().checks[name]?.[0]?.observedValue); // 'closed'
 * ```
 */
export type HealthCheckName =
  | 'revocationFeed:staleness'
  | 'revocationFeed:entries'
  | 'revocationFeed:position'
  | 'revocationFeed:reloads'
  | 'revocationFeed:dataLosses'
  | 'store:circuit'
  | 'store:clockOffset'
  | 'accessToken:signingKey';

/**
 * One check's result, in the draft's shape.
 *
 * @example
 * ```ts
 * import type { HealthCheck } from 'express-refresh-tokens';
 *
 * const staleness: HealthCheck | undefined = auth.health().checks['revocationFeed:staleness']?.[0];
 * if (staleness?.status !== 'pass') console.warn(staleness?.output);
 * ```
 */
export interface HealthCheck {
  /** This check's own status; the report's is the worst of them. */
  status: HealthStatus;
  /** `component` (a part of this instance), `datastore` (the store) or `system` (the clocks). */
  componentType: 'component' | 'datastore' | 'system';
  /** What was measured: a number, a word, or a small object (the feed's position, its reloads by cause). */
  observedValue?: number | string | Record<string, number | string>;
  /** The unit of a number, in UCUM: `s`, `ms`, `{entry}`, `{reload}`, `{loss}`. */
  observedUnit?: string;
  /**
   * For `warn` and `fail` only: what is wrong, what it means for users, and its cause in words. It may name
   * Redis' host and port (as a connection error does), never a secret: serve it where only operators look.
   */
  output?: string;
  /** When it was read (ISO 8601). */
  time: string;
}

/**
 * What `auth.health()` returns and `auth.healthHandler()` serves: the shape of the IETF draft "Health
 * Check Response Format for HTTP APIs" (`application/health+json`). `status` is `fail` exactly when
 * `requireAuth` answers 503 (the same predicate: the revocation feed is not loaded, or is stale), `warn`
 * when a check warns (see {@link HealthCheckName}), `pass` otherwise.
 *
 * @example
 * ```ts
 * import type { HealthReport } from 'express-refresh-tokens';
 *
 * const report: HealthReport = auth.health();
 * for (const [name, [check]] of Object.entries(report.checks)) {
 *   if (check !== undefined && check.status !== 'pass') console.warn(`${name}: ${check.output}`);
 * }
 * ```
 */
export interface HealthReport {
  /** `fail` exactly when protected routes answer 503; otherwise the worst of the checks. */
  status: HealthStatus;
  /** What the report is about. */
  description: string;
  /** Each check, by name, as a list of one (the draft allows several per name). */
  checks: { [name in HealthCheckName]?: HealthCheck[] };
}

/** What the health check reads: the instance's state sources and the access-token key in use. */
export interface HealthSources extends StateSources {
  readonly accessToken: Pick<AccessTokenSettings, 'algorithm' | 'kid'>;
}

const DESCRIPTION = 'express-refresh-tokens: whether this instance can check access tokens (fail: protected routes answer 503)';

const SEVERITY: Record<HealthStatus, number> = { pass: 0, warn: 1, fail: 2 };

/**
 * Reads the instance's state into a {@link HealthReport}. Synchronous and without a store round trip.
 * Only the staleness check can `fail`, and it fails exactly when the feed's freshness is not `fresh`.
 */
export function healthReport(sources: HealthSources): HealthReport {
  const state = readState(sources);
  const { freshness, feed, store } = state;
  const now = Date.now();
  const time = new Date(now).toISOString();
  const checks: HealthReport['checks'] = {};
  const add = (name: HealthCheckName, check: Omit<HealthCheck, 'time'>): void => {
    checks[name] = [{ ...check, time }];
  };

  const halfMs = sources.maxStalenessMs / 2;
  const staleness: Omit<HealthCheck, 'time'> = { status: 'pass', componentType: 'component' };
  if (feed !== undefined && Number.isFinite(feed.stalenessMs)) {
    staleness.observedValue = Math.round(feed.stalenessMs) / 1000;
    staleness.observedUnit = 's';
  }
  if (freshness !== 'fresh') {
    staleness.status = 'fail';
    staleness.output = `protected routes answer 503: ${feedUntrustedReason(sources.maxStalenessMs, state, sources.feed.lastFailure?.())}`;
  } else if (feed !== undefined && feed.stalenessMs > halfMs) {
    staleness.status = 'warn';
    staleness.output =
      `the revocation feed last heard from the store ${inSeconds(feed.stalenessMs)} ago, more than half of revocation.maxStaleness ` +
      `(${describeMs(sources.maxStalenessMs)}): protected routes will answer 503 if it reaches that`;
  }
  add('revocationFeed:staleness', staleness);

  if (feed !== undefined) {
    add('revocationFeed:entries', { status: 'pass', componentType: 'component', observedValue: feed.entries, observedUnit: '{entry}' });
    if (feed.position !== undefined) {
      add('revocationFeed:position', { status: 'pass', componentType: 'component', observedValue: { ...feed.position } });
    }
    const reloads: Omit<HealthCheck, 'time'> = { status: 'pass', componentType: 'component', observedValue: { ...feed.reloads }, observedUnit: '{reload}' };
    const gapAt = feed.lastReload?.cause === 'gap' ? feed.lastReload.at : undefined;
    if (gapAt !== undefined && now - gapAt < RECENT_CHANGE_MS) {
      reloads.status = 'warn';
      reloads.output = `${GAP_RELOAD_WORDS}, ${inSeconds(now - gapAt)} ago`;
    }
    add('revocationFeed:reloads', reloads);
    const losses: Omit<HealthCheck, 'time'> = { status: 'pass', componentType: 'component', observedValue: feed.dataLosses, observedUnit: '{loss}' };
    if (feed.lastDataLossAt !== undefined && now - feed.lastDataLossAt < RECENT_CHANGE_MS) {
      losses.status = 'warn';
      losses.output = dataLostWords(feed.lastDataLossAt);
    }
    add('revocationFeed:dataLosses', losses);
  }

  if (store !== undefined) {
    const circuit: Omit<HealthCheck, 'time'> = { status: 'pass', componentType: 'datastore', observedValue: store.circuit };
    if (store.circuit === 'open') {
      circuit.status = 'warn';
      circuit.output = `logins, refreshes and logouts answer 503: ${circuitOpenReason(store)}`;
    }
    add('store:circuit', circuit);
    if (store.clockOffsetMs !== undefined) {
      const offsetMs = Math.round(store.clockOffsetMs);
      const clock: Omit<HealthCheck, 'time'> = { status: 'pass', componentType: 'system', observedValue: offsetMs, observedUnit: 'ms' };
      if (Math.abs(offsetMs) > MAX_CLOCK_OFFSET_MS) {
        clock.status = 'warn';
        clock.output =
          `Redis' clock and this process's differ by ${inSeconds(Math.abs(offsetMs))}, more than ${inSeconds(MAX_CLOCK_OFFSET_MS)}: ` +
          `this instance judges access-token expiry by its own clock, so tokens expire ${offsetMs < 0 ? 'early' : 'late'} here; synchronise the clocks (NTP)`;
      }
      add('store:clockOffset', clock);
    }
  }

  const { kid, algorithm } = sources.accessToken;
  add('accessToken:signingKey', { status: 'pass', componentType: 'component', observedValue: kid ?? `${algorithm} secret` });

  let status: HealthStatus = 'pass';
  for (const list of Object.values(checks)) for (const check of list) if (SEVERITY[check.status] > SEVERITY[status]) status = check.status;
  return { status, description: DESCRIPTION, checks };
}

/**
 * An Express handler answering `report()` as `application/health+json`: 200 for `pass` and `warn`, 503
 * for `fail`, with `Cache-Control: no-store` (a probe must never read a cached answer).
 */
export function createHealthHandler(report: () => HealthReport): RequestHandler {
  return function healthHandler(_req, res) {
    const health = report();
    const body = JSON.stringify(health);
    res.statusCode = health.status === 'fail' ? 503 : 200;
    res.setHeader('Content-Type', 'application/health+json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  };
}
