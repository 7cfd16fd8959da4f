// The revocation feed on Redis: loads the log at start, follows the channel, re-syncs after reconnects, fails closed when stale.
import { describeStoreCause, ErrorCodes, StoreUnavailableError } from '../errors';
import { randomBase64url } from '../random-text';
import { ConnectionWatch } from '../store/redis-connection-watch';
import type { RevocationFeed, RevocationFeedOptions, RevocationVerdict } from '../store/session-store';
import { applyRevocation, heartbeatMessage, parseMessage, type Revocation } from './revocation-log-format';
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
  /** Reads the epoch (creating `newEpoch` when there is none), the version, and every revocation that still matters. */
  load(newEpoch: string, retainMs: number): Promise<{ epoch: string; version: number; revocations: Revocation[] }>;
  /** Confirms the epoch and publishes `message` (plus the version) on the channel; `changed` when the epoch is not `epoch`. */
  heartbeat(epoch: string, retainMs: number, message: string): Promise<'ok' | 'changed' | 'late'>;
}

/** Heartbeats remembered while waiting for their message; older ones could not prove freshness anyway. */
const MAX_PENDING_HEARTBEATS = 16;

/** The time a store epoch began, read from its value `<startMs>.<random>`. */
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
 * every logged revocation is numbered, and the heartbeat, published on the same channel, carries
 * the latest number: a feed that hears its heartbeat and has every number up to it missed nothing;
 * one with a gap re-loads. That holds however the subscription was lost and regained (ioredis
 * Cluster moves its subscriber to another node without a `ready` event).
 */
export class RedisRevocationFeed implements RevocationFeed {
  readonly set: RevocationSet;
  private readonly id = randomBase64url(9);
  private readonly heartbeats = new Map<number, number>();
  /** Versions received beyond `version`, waiting for the ones before them. */
  private readonly receivedVersions = new Set<number>();
  /** Every logged revocation up to this version has been applied. */
  private version = 0;
  /** Counts subscriber (re)connections, so a load that raced one does not count as current. */
  private connection = 0;
  private readonly waiters = new Set<() => void>();
  private readonly subscriber: SubscriberLike;
  /** The subscriber's last connection error (reconnects are ioredis' job; staleness is ours). */
  private readonly subscriberWatch: ConnectionWatch;
  /** What made the last load or heartbeat fail, until one succeeds. */
  private failure: unknown;
  private readonly timer: NodeJS.Timeout;
  private epoch: string | undefined;
  private needsLoad = true;
  private busy = false;
  private sequence = 0;
  private closed = false;

  constructor(
    private readonly source: RevocationSource,
    private readonly options: RevocationFeedOptions,
    private readonly onClose: () => void,
  ) {
    this.set = new RevocationSet(options.maxStalenessMs);
    this.subscriber = source.createSubscriber();
    this.subscriberWatch = new ConnectionWatch(this.subscriber, false);
    this.subscriber.on('message', (_channel, message) => this.onMessage(message));
    this.subscriber.on('ready', () => {
      this.connection += 1;
      this.needsLoad = true;
      void this.tick();
    });
    if (this.subscriber.status === 'wait') this.subscriber.connect().catch(() => undefined);
    const interval = Math.min(1000, Math.max(25, Math.floor(options.maxStalenessMs / 4)));
    this.timer = setInterval(() => void this.tick(), interval);
    this.timer.unref();
    void this.tick();
  }

  verdict(sessionId: string, userId: string, authTime: number): RevocationVerdict {
    return this.set.verdict(sessionId, userId, authTime);
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.set.close();
    this.subscriber.disconnect();
    this.onClose();
  }

  /** One step of the loop: (re)load when needed, otherwise a heartbeat. Never two at once. */
  private async tick(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      if (this.needsLoad) await this.load();
      else await this.beat();
    } catch (error) {
      // Nothing confirmed: the set ages towards `stale` and the next tick tries again. The error is
      // kept to name as the cause should the feed not load in time, or go stale.
      this.failure = error;
    } finally {
      this.busy = false;
    }
  }

  private async load(): Promise<void> {
    if (this.subscriber.status !== 'ready') return;
    const connection = this.connection;
    // Subscribed before reading the log: whatever is revoked from now on arrives as a message.
    await this.subscriber.subscribe(this.source.channel);
    const startedAt = performance.now();
    const { epoch, version, revocations } = await this.source.load(`${Date.now()}.${randomBase64url(9)}`, this.options.retainMs);
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.set.refuseBefore(epochStart(epoch));
    }
    for (const revocation of revocations) applyRevocation(this.set, revocation);
    this.version = version;
    this.advanceVersion();
    if (connection !== this.connection) return; // the subscriber reconnected meanwhile: load again
    this.needsLoad = false;
    this.failure = undefined;
    this.set.confirm(startedAt);
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  private async beat(): Promise<void> {
    const sequence = ++this.sequence;
    this.heartbeats.set(sequence, performance.now());
    // Replies that never come (a hung Redis) must not pile up: only recent heartbeats can confirm.
    if (this.heartbeats.size > MAX_PENDING_HEARTBEATS) this.heartbeats.delete(this.heartbeats.keys().next().value as number);
    const status = await this.source.heartbeat(this.epoch as string, this.options.retainMs, heartbeatMessage(this.id, sequence));
    this.failure = undefined;
    if (status === 'changed') this.needsLoad = true; // Redis lost its data or was replaced: re-load at once
  }

  /** Moves `version` past every version received in order; what lies beyond a gap waits. */
  private advanceVersion(): void {
    for (const received of this.receivedVersions) if (received <= this.version) this.receivedVersions.delete(received);
    while (this.receivedVersions.delete(this.version + 1)) this.version += 1;
  }

  private onMessage(message: string): void {
    const parsed = parseMessage(message);
    if (parsed?.kind === 'revocation') {
      applyRevocation(this.set, parsed.revocation);
      if (parsed.version !== undefined && parsed.version > this.version) {
        this.receivedVersions.add(parsed.version);
        this.advanceVersion();
      }
      return;
    }
    if (parsed?.kind !== 'heartbeat' || parsed.feedId !== this.id) return;
    const sentAt = this.heartbeats.get(parsed.sequence);
    for (const sequence of this.heartbeats.keys()) if (sequence <= parsed.sequence) this.heartbeats.delete(sequence);
    if (this.needsLoad || sentAt === undefined) return;
    // A revocation logged before this heartbeat never arrived (or the version went back): re-load.
    if (parsed.version !== this.version) {
      this.needsLoad = true;
      return;
    }
    this.set.confirm(sentAt);
  }
}
