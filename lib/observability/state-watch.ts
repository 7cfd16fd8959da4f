// Reports each change of an instance's state once, never per request: a line to `logger` and a typed event, from status() read on an unref'd timer.
import type { AuthEvents } from '../events';
import type { AuthLogger } from '../options';
import { type FeedReloadCause, feedCheckIntervalMs, noReloads } from '../revocation/revocation-feed';
import { warnOnce } from '../warn-once';
import {
  circuitOpenReason,
  dataLostWords,
  feedUntrustedReason,
  GAP_RELOAD_WORDS,
  type InstanceState,
  inSeconds,
  readState,
  type StateSources,
} from './instance-state';

/**
 * The code that starts each state-change line (`[ERT_FEED_UNTRUSTED] ...`), at its level:
 * - `ERT_FEED_UNTRUSTED` (warn): the revocation feed cannot vouch for its contents: protected routes now answer 503;
 * - `ERT_FEED_TRUSTED` (info): it can again: protected routes are served again;
 * - `ERT_STORE_CIRCUIT_OPEN` (warn): the store stopped answering: logins, refreshes and logouts now answer 503 at once;
 * - `ERT_STORE_CIRCUIT_CLOSED` (info): it answers again;
 * - `ERT_FEED_GAP_RELOAD` (warn): the feed missed revocations and reloaded them all;
 * - `ERT_STORE_DATA_LOST` (error): the store lost its data: every session begun before then was signed out.
 *
 * @example
 * ```ts
 * import type { StateChangeCode } from 'express-refresh-tokens';
 *
 * const pageOnCall: ReadonlySet<StateChangeCode> = new Set(['ERT_FEED_UNTRUSTED', 'ERT_STORE_DATA_LOST']);
 * const code = /^\[(ERT_[A-Z_]+)\]/.exec('[ERT_STORE_DATA_LOST] ...')?.[1] as StateChangeCode | undefined;
 * if (code !== undefined && pageOnCall.has(code)) console.log('page the on-call engineer');
 * ```
 */
export type StateChangeCode =
  | 'ERT_FEED_UNTRUSTED'
  | 'ERT_FEED_TRUSTED'
  | 'ERT_STORE_CIRCUIT_OPEN'
  | 'ERT_STORE_CIRCUIT_CLOSED'
  | 'ERT_FEED_GAP_RELOAD'
  | 'ERT_STORE_DATA_LOST';

/** What the watcher reads, and where it reports. */
export interface StateWatchSources extends StateSources {
  readonly events: AuthEvents;
  readonly logger: AuthLogger | false;
}

/** A running watcher; `stop()` ends it (auth.close() calls it). */
export interface StateWatch {
  /** Stops the timer: nothing more is read or said. */
  stop(): void;
}

const RELOAD_CAUSES: readonly FeedReloadCause[] = ['start', 'reconnect', 'gap'];

/**
 * Starts watching: every min(1000, maxStaleness / 4) ms, on an unref'd timer (nothing per request),
 * it reads the feed's and the store's state and reports what changed since the last reading.
 */
export function watchState(sources: StateWatchSources): StateWatch {
  return new StateWatcher(sources);
}

/** Compares each reading with the last, and says what changed once. */
class StateWatcher implements StateWatch {
  /**
   * Whether the feed was last reported as vouching. `starting` until it first loads: a load at start
   * is not news, unless it takes longer than `maxStaleness` (then protected routes answer 503).
   */
  private feedTrust: 'starting' | 'trusted' | 'untrusted' = 'starting';
  private readonly startedAt = performance.now();
  private untrustedAt = 0;
  /** When the circuit was seen open (`performance.now()`), while it is. */
  private circuitOpenedAt: number | undefined;
  private readonly reloads = noReloads();
  private dataLosses = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly sources: StateWatchSources) {
    this.timer = setInterval(() => this.check(), feedCheckIntervalMs(sources.maxStalenessMs));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads the state and reports what changed: the store's circuit first (often the cause), then the feed. */
  private check(): void {
    const state = readState(this.sources);
    const now = performance.now();
    this.checkCircuit(state, now);
    this.checkReloads(state);
    this.checkFeedTrust(state, now);
  }

  private checkCircuit({ store }: InstanceState, now: number): void {
    const open = store?.circuit === 'open';
    if (open === (this.circuitOpenedAt !== undefined)) return;
    if (open) {
      this.circuitOpenedAt = now;
      this.write(
        'warn',
        'ERT_STORE_CIRCUIT_OPEN',
        `Logins, refreshes and logouts now answer 503 at once: ${circuitOpenReason(store)}. ` +
          'Protected routes are still served until the revocation feed is revocation.maxStaleness behind. Check Redis if this lasts.',
      );
      this.sources.events.emit('store_circuit_open', { cause: store?.problem });
      return;
    }
    const openForMs = now - (this.circuitOpenedAt as number);
    this.circuitOpenedAt = undefined;
    this.write('info', 'ERT_STORE_CIRCUIT_CLOSED', `The store answers again after ${inSeconds(openForMs)}: logins, refreshes and logouts are served again.`);
    this.sources.events.emit('store_circuit_closed', { openForMs });
  }

  private checkReloads({ feed }: InstanceState): void {
    if (feed === undefined) return;
    let gapReloaded = false;
    for (const cause of RELOAD_CAUSES) {
      for (; this.reloads[cause] < feed.reloads[cause]; this.reloads[cause] += 1) {
        gapReloaded ||= cause === 'gap';
        this.sources.events.emit('feed_reloaded', { cause });
      }
    }
    if (feed.dataLosses > this.dataLosses) {
      this.dataLosses = feed.dataLosses;
      const at = feed.lastDataLossAt ?? Date.now();
      // The loss explains a reload it forced: one line, not two.
      this.write(
        'error',
        'ERT_STORE_DATA_LOST',
        `${capitalised(dataLostWords(at))}. Check Redis' persistence (appendonly) and eviction (maxmemory-policy noeviction).`,
      );
      this.sources.events.emit('store_data_lost', { at });
    } else if (gapReloaded) {
      this.write(
        'warn',
        'ERT_FEED_GAP_RELOAD',
        `${capitalised(GAP_RELOAD_WORDS)}; access tokens were checked against the full list again at once. ` +
          "Nothing to do unless it repeats: then the feed's pub/sub connection loses messages (see Redis' client-output-buffer-limit pubsub).",
      );
    }
  }

  private checkFeedTrust(state: InstanceState, now: number): void {
    if (state.freshness === 'fresh') {
      if (this.feedTrust === 'untrusted') {
        const untrustedForMs = now - this.untrustedAt;
        this.write(
          'info',
          'ERT_FEED_TRUSTED',
          `Protected routes are served again: the revocation feed caught up with the store after ${inSeconds(untrustedForMs)}.`,
        );
        this.sources.events.emit('feed_trusted', { untrustedForMs });
      }
      this.feedTrust = 'trusted';
      return;
    }
    if (this.feedTrust === 'untrusted') return;
    if (this.feedTrust === 'starting' && now - this.startedAt <= this.sources.maxStalenessMs) return;
    this.feedTrust = 'untrusted';
    this.untrustedAt = now;
    const cause = this.sources.feed.lastFailure?.();
    this.write(
      'warn',
      'ERT_FEED_UNTRUSTED',
      `Protected routes now answer 503: ${feedUntrustedReason(this.sources.maxStalenessMs, state, cause)}. ` +
        'They are served again as soon as the feed hears from the store.',
    );
    this.sources.events.emit('feed_untrusted', { freshness: state.freshness, cause });
  }

  /** Writes `[code] text` at `level`. A logger that throws changes nothing else; it is said once per process. */
  private write(level: keyof AuthLogger, code: StateChangeCode, text: string): void {
    const { logger } = this.sources;
    if (logger === false) return;
    try {
      logger[level](`[${code}] ${text}`);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      warnOnce(
        'ERT_LOGGER_ERROR',
        `The logger given to createAuth threw when writing a state change (${code}): ${reason}. ` +
          'The library went on as if it had not; the same changes are events on auth.events. (Said once per process.)',
      );
    }
  }
}

/** `text` with its first letter in upper case, to start a sentence. */
function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
