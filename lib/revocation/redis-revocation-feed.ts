// The revocation feed on Redis: loads the log page by page, follows the (authenticated) channel, re-syncs after reconnects, fails closed when stale.
import { describeStoreCause, ErrorCodes, StoreUnavailableError } from '../errors';
import { ConnectionWatch } from '../redis/connection-watch';
import { randomId } from '../tokens/random-ids';
import { warnOnce } from '../warn-once';
import { authenticatedBody, type ChannelMac, channelMac, signedMessage } from './revocation-channel-mac';
import {
  type FeedReloadCause,
  feedCheckIntervalMs,
  noReloads,
  type RevocationFeed,
  type RevocationFeedOptions,
  type RevocationFeedStatus,
  type RevocationVerdict,
} from './revocation-feed';
import { applyRevocation, boundedRevocation, heartbeatBody, parseBody, type Revocation } from './revocation-message-codec';
import { RevocationSet } from './revocation-set';

/** The dedicated pub/sub connection a feed owns (an ioredis `duplicate()` of the store's client). */
export interface SubscriberLike {
  readonly status: string;
  connect(): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready' | 'error', listener: (...args: unknown[]) => void): unknown;
  disconnect(): void;
}

/** What the feed needs from RedisStore: only the store talks to Redis. */
export interface RevocationSource {
  readonly channel: string;
  /** How long the first request may wait for the feed to load. */
  readonly waitMs: number;
  /** Why the store's own client is not answering, when it knows (its connection error, or the timeout that opened its circuit). */
  problem(): unknown;
  createSubscriber(): SubscriberLike;
  /**
   * Reads the epoch (creating one when there is none: `<Redis time ms>.<epochNonce>`, on Redis' clock
   * so that a fast clock here locks no one out) and the version: the first step of a load.
   */
  loadStart(epochNonce: string, retainMs: number): Promise<{ epoch: string; version: number }>;
  /**
   * Reads every revocation that still matters, a page at a time (each page one short command, so no
   * log is too large to load without blocking Redis), handing each page to `apply` as it arrives.
   */
  loadRevocations(apply: (page: Revocation[]) => void): Promise<void>;
  /**
   * Confirms the epoch and publishes `message` on the channel; `changed` when the epoch is not
   * `epoch`. `version` is how many revocations were logged when the message was published.
   */
  heartbeat(epoch: string, retainMs: number, message: string): Promise<{ status: 'ok'; version: number } | { status: 'changed' | 'late' }>;
}

/** The code of the warning given (once per process) when a channel message fails authentication. */
const UNAUTHENTICATED_WARNING = 'ERT_FEED_MESSAGE_UNAUTHENTICATED';
const UNAUTHENTICATED_MESSAGE =
  'A message on the revocation channel failed authentication and was ignored. Either something publishes there without the key, ' +
  "or this process's key is not the deployment's: a verifier's revocation.feedKey must be the auth service's auth.revocationFeedKey(), " +
  'and every auth instance needs the same refreshToken.secret. Revocations still reach this feed by reloading the log, a heartbeat later. (Said once per process.)';

/** Heartbeats remembered while waiting for their message; older ones could not prove freshness anyway. */
const MAX_PENDING_HEARTBEATS = 16;

/**
 * The most revocation numbers kept beyond a gap, waiting for the ones before it; past that the feed
 * re-loads (a gap is noticed at the next heartbeats anyway: this only bounds memory meanwhile).
 */
const MAX_VERSIONS_AHEAD = 100_000;

/** The longest wait between two loads that failed; the waits double from the heartbeat interval up to it. */
const MAX_LOAD_BACKOFF_MS = 10_000;

/** A heartbeat sent and not yet settled: what its reply said, and what the feed held when its message arrived. */
interface PendingHeartbeat {
  /** When it was sent (`performance.now()`): the moment a settled heartbeat confirms. */
  sentAt: number;
  /** How many revocations were logged when it was published (from the script's reply). */
  loggedVersion?: number;
  /** The feed's `version` when its message arrived: every revocation published before it had arrived too. */
  heardVersion?: number;
}

/** The time a store epoch began (Redis' clock), read from its value `<startMs>.<random>`. */
export function epochStart(epoch: string): number {
  const start = Number(epoch.split('.')[0]);
  // An epoch this library did not write vouches for nothing: refuse everything issued before now.
  return Number.isFinite(start) ? start : Date.now();
}

/**
 * Why a stream of revocations on pub/sub, rather than keyspace notifications or a Redis stream:
 * PUBLISH works from inside the Lua scripts (so a reuse revocation is announced atomically with the
 * family's deletion), reaches every node's subscribers on a Cluster, and needs no server
 * configuration; what pub/sub does not keep while a subscriber is away, the log (a sorted set of
 * the revocations that still matter) gives back at every re-sync. Freshness is proved end to end:
 * every logged revocation is numbered, and a heartbeat's reply says how many were logged when its
 * message was published on the same channel, behind them: a feed that hears its heartbeat holding
 * every number up to that missed nothing; one with a gap waits for one more heartbeat (the
 * revocation may still be on its way: it is published once the log has answered), then re-loads.
 * That holds however the subscription was lost and regained (ioredis Cluster moves its subscriber
 * to another node without a `ready` event).
 *
 * Every message is authenticated (revocation-channel-mac.ts) before anything is read from it, so
 * whoever can publish on the channel without the refresh secret revokes nothing and confirms
 * nothing; a heartbeat counts once, and only one this feed sent. What a revocation asks is bounded
 * to what can still matter (boundedRevocation), and the bookkeeping of numbers is linear.
 *
 * A load reads the log a page at a time (each page a short command), so however large the log, no
 * command blocks Redis; a load that fails is retried after a wait that doubles, with jitter, up to
 * MAX_LOAD_BACKOFF_MS, so instances that cannot load do not hammer a Redis in trouble.
 */
export class RedisRevocationFeed implements RevocationFeed {
  readonly set: RevocationSet;
  private readonly id = randomId(9);
  private readonly heartbeats = new Map<number, PendingHeartbeat>();
  /** Authenticates messages, and signs this feed's heartbeats. */
  private readonly mac: ChannelMac;
  /** Versions (of the current epoch) received beyond `version`, waiting for the ones before them. */
  private readonly receivedVersions = new Set<number>();
  /** Every logged revocation up to this version has been applied. */
  private version = 0;
  /** A heartbeat that arrived before revocations logged ahead of it: it confirms once `version` reaches theirs. */
  private awaited: { version: number; sentAt: number } | undefined;
  /** Counts subscriber (re)connections, so a load that raced one does not count as current. */
  private connection = 0;
  private readonly waiters = new Set<() => void>();
  private readonly subscriber: SubscriberLike;
  /** The subscriber's last connection error (reconnects are ioredis' job; staleness is ours). */
  private readonly subscriberWatch: ConnectionWatch;
  /** What made the last load or heartbeat fail, until one succeeds. */
  private failure: unknown;
  private readonly timer: NodeJS.Timeout;
  private readonly intervalMs: number;
  /** Loads that failed in a row, and when the next may start (`performance.now()`). */
  private loadFailures = 0;
  private nextLoadAt = 0;
  private epoch: string | undefined;
  private needsLoad = true;
  /** Why the next load runs: the reason it was first needed since the last one completed. */
  private loadCause: FeedReloadCause = 'start';
  private readonly reloads = noReloads();
  private lastReload: { cause: FeedReloadCause; at: number } | undefined;
  private dataLosses = 0;
  private lastDataLossAt: number | undefined;
  private busy = false;
  private sequence = 0;
  private closed = false;

  constructor(
    private readonly source: RevocationSource,
    private readonly options: RevocationFeedOptions,
    private readonly onClose: () => void,
  ) {
    this.set = new RevocationSet(options.maxStalenessMs);
    this.mac = channelMac(options.channelKey, source.channel);
    this.subscriber = source.createSubscriber();
    this.subscriberWatch = new ConnectionWatch(this.subscriber, false);
    this.subscriber.on('message', (_channel, message) => this.onMessage(message));
    this.subscriber.on('ready', () => {
      this.connection += 1;
      this.requestLoad(this.connection === 1 ? 'start' : 'reconnect');
      // A new connection is news: the next load need not wait out the previous ones' back-off.
      this.loadFailures = 0;
      this.nextLoadAt = 0;
      void this.tick();
    });
    if (this.subscriber.status === 'wait') this.subscriber.connect().catch(() => undefined);
    this.intervalMs = feedCheckIntervalMs(options.maxStalenessMs);
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  verdict(sessionId: string, userId: string, authTime: number, claimsTime?: number): RevocationVerdict {
    return this.set.verdict(sessionId, userId, authTime, claimsTime);
  }

  freshness(): 'loading' | 'stale' | 'fresh' {
    return this.set.freshness();
  }

  /**
   * Why the feed cannot load or confirm, when it knows: its subscriber's connection error, the load
   * or heartbeat that failed last, or what the store knows of its own client.
   */
  lastFailure(): unknown {
    return this.subscriberWatch.lastError ?? this.failure ?? this.source.problem();
  }

  ready(): Promise<void> {
    if (this.set.isLoaded) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        const cause = this.lastFailure();
        const why = cause === undefined ? this.subscriberWatch.reason() : describeStoreCause(cause);
        reject(
          new StoreUnavailableError(`the revocation feed could not load from Redis within ${this.source.waitMs}ms: ${why}`, {
            code: ErrorCodes.ERR_REVOCATION_FEED_NOT_LOADED,
            cause,
          }),
        );
      }, this.source.waitMs);
      timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.add(done);
    });
  }

  status(): RevocationFeedStatus {
    return {
      freshness: this.set.freshness(),
      stalenessMs: this.set.stalenessMs(),
      entries: this.set.size,
      position: this.epoch === undefined ? undefined : { epoch: this.epoch, version: this.version },
      reloads: { ...this.reloads },
      lastReload: this.lastReload,
      dataLosses: this.dataLosses,
      lastDataLossAt: this.lastDataLossAt,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.set.close();
    this.subscriber.disconnect();
    this.onClose();
  }

  /** Asks for a load; the first reason given since the last completed load is the one it is counted under. */
  private requestLoad(cause: FeedReloadCause): void {
    if (!this.needsLoad) this.loadCause = cause;
    this.needsLoad = true;
  }

  /** One step of the loop: (re)load when needed and not backing off, otherwise a heartbeat. Never two at once. */
  private async tick(): Promise<void> {
    if (this.busy || this.closed) return;
    if (this.needsLoad && performance.now() < this.nextLoadAt) return;
    this.busy = true;
    const loading = this.needsLoad;
    try {
      if (loading) await this.load();
      else await this.beat();
    } catch (error) {
      // Nothing confirmed: the set ages towards `stale` and a later tick tries again. The error is
      // kept to name as the cause should the feed not load in time, or go stale.
      this.failure = error;
      if (loading) this.backOff();
    } finally {
      this.busy = false;
    }
  }

  /**
   * Puts the next load off after one failed: the heartbeat interval, doubled for each failure in a
   * row up to MAX_LOAD_BACKOFF_MS, of which a random half ("equal jitter", so instances that failed
   * together do not retry together).
   */
  private backOff(): void {
    this.loadFailures += 1;
    const ceiling = Math.min(MAX_LOAD_BACKOFF_MS, this.intervalMs * 2 ** Math.min(this.loadFailures - 1, 20));
    this.nextLoadAt = performance.now() + ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private async load(): Promise<void> {
    if (this.subscriber.status !== 'ready') return;
    const connection = this.connection;
    // Subscribed before reading the log: whatever is revoked from now on arrives as a message.
    await this.subscriber.subscribe(this.source.channel);
    const startedAt = performance.now();
    const { epoch, version } = await this.source.loadStart(randomId(9), this.options.retainMs);
    if (epoch !== this.epoch) {
      if (this.epoch !== undefined) {
        this.dataLosses += 1;
        this.lastDataLossAt = Date.now();
      }
      this.epoch = epoch;
      this.set.refuseBefore(epochStart(epoch));
      this.receivedVersions.clear(); // numbers of another generation
    } else {
      for (const received of this.receivedVersions) if (received <= version) this.receivedVersions.delete(received);
    }
    // Everything logged up to `version` is in what the pages read (or has lapsed); what is logged
    // later arrives as a message, numbered beyond it.
    this.version = version;
    this.awaited = undefined;
    this.advanceVersion();
    await this.source.loadRevocations((page) => {
      const now = Date.now();
      for (const revocation of page) this.apply(revocation, now);
    });
    if (connection !== this.connection) return; // the subscriber reconnected meanwhile: load again
    this.needsLoad = false;
    this.reloads[this.loadCause] += 1;
    this.lastReload = { cause: this.loadCause, at: Date.now() };
    this.loadFailures = 0;
    this.failure = undefined;
    this.set.confirm(startedAt);
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  private async beat(): Promise<void> {
    const sequence = ++this.sequence;
    const pending: PendingHeartbeat = { sentAt: performance.now() };
    this.heartbeats.set(sequence, pending);
    // Replies that never come (a hung Redis) must not pile up: only recent heartbeats can confirm.
    if (this.heartbeats.size > MAX_PENDING_HEARTBEATS) this.heartbeats.delete(this.heartbeats.keys().next().value as number);
    const message = signedMessage(heartbeatBody(this.id, sequence), [this.mac]);
    const reply = await this.source.heartbeat(this.epoch as string, this.options.retainMs, message);
    this.failure = undefined;
    if (reply.status === 'changed') this.requestLoad('gap'); // Redis lost its data or was replaced: re-load at once (the load names the loss)
    if (reply.status !== 'ok') return;
    pending.loggedVersion = reply.version;
    this.settle(sequence, pending);
  }

  /**
   * Judges a heartbeat once both its reply and its message are in (in either order): it confirms
   * the feed when every revocation logged before it has arrived, now or (`awaited`) a little later.
   */
  private settle(sequence: number, pending: PendingHeartbeat): void {
    const { heardVersion, loggedVersion, sentAt } = pending;
    if (heardVersion === undefined || loggedVersion === undefined || this.heartbeats.get(sequence) !== pending) return;
    this.heartbeats.delete(sequence);
    if (this.needsLoad) return;
    if (heardVersion > loggedVersion) {
      this.requestLoad('gap'); // the count went back: Redis lost its numbers
    } else if (this.version >= loggedVersion) {
      this.set.confirm(sentAt);
    } else if (this.awaited === undefined) {
      this.awaited = { version: loggedVersion, sentAt }; // may still be on their way
    } else {
      this.requestLoad('gap'); // the ones the last heartbeat waited for never came
    }
  }

  /** Moves `version` past every version received in order (what lies beyond a gap waits), and confirms a heartbeat that waited for them. */
  private advanceVersion(): void {
    while (this.receivedVersions.delete(this.version + 1)) this.version += 1;
    if (this.awaited !== undefined && this.version >= this.awaited.version) {
      this.set.confirm(this.awaited.sentAt);
      this.awaited = undefined;
    }
  }

  /** Applies a revocation as far as it can still matter. */
  private apply(revocation: Revocation, now: number): void {
    const bounded = boundedRevocation(revocation, now, this.options.retainMs);
    if (bounded !== null) applyRevocation(this.set, bounded);
  }

  /** Notes a logged revocation's number; only numbers of the current epoch count. */
  private receive(version: number, epoch: string): void {
    if (version <= this.version || epoch !== this.epoch) return;
    if (this.receivedVersions.size >= MAX_VERSIONS_AHEAD) {
      this.receivedVersions.clear();
      this.requestLoad('gap');
      return;
    }
    this.receivedVersions.add(version);
    this.advanceVersion();
  }

  private onMessage(message: string): void {
    // Authenticated before anything else is read: a forgery costs one HMAC and changes nothing.
    const body = authenticatedBody(message, this.mac);
    if (body === null) return warnOnce(UNAUTHENTICATED_WARNING, UNAUTHENTICATED_MESSAGE);
    const parsed = parseBody(body);
    if (parsed === null) return;
    if (parsed.kind === 'revocation') {
      this.apply(parsed.revocation, Date.now());
      if (parsed.position !== undefined) this.receive(parsed.position.version, parsed.position.epoch);
      return;
    }
    if (parsed.feedId !== this.id) return;
    // Each sequence counts once: a replayed heartbeat (or one older than the last heard) finds nothing.
    for (const sequence of this.heartbeats.keys()) if (sequence < parsed.sequence) this.heartbeats.delete(sequence);
    const pending = this.heartbeats.get(parsed.sequence);
    if (pending === undefined || pending.heardVersion !== undefined) return;
    pending.heardVersion = this.version;
    this.settle(parsed.sequence, pending);
  }
}
