// Why a Redis client is not answering: its last connection error, kept to name as the cause, and one warning per outage.
import { describeStoreCause } from '../errors';

/** The part of an ioredis `Redis` or `Cluster` (or the feed's subscriber) a watch listens to. */
export interface WatchableConnection {
  /** ioredis status: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end`. */
  readonly status: string;
  on(event: 'error' | 'ready', listener: (...args: unknown[]) => void): unknown;
}

/** The process warning's code for a store that cannot reach Redis. */
const STORE_UNREACHABLE = 'ERT_STORE_UNREACHABLE';

/**
 * Why a client has not answered a command within its budget, in words: its connection error when it
 * is not connected (`connection refused (connect ECONNREFUSED 127.0.0.1:6379); the client is
 * reconnecting`), what it is waiting for when it has none yet, or, connected, that no reply came.
 */
export function noAnswerReason(status: string, connectionError: unknown): string {
  if (status === 'ready') return 'the command went out on an open connection and no reply came (a stalled or overloaded server, or a network dropping packets)';
  if (connectionError !== undefined) return `${describeStoreCause(connectionError)}; the client is ${status}`;
  if (status === 'connect') return 'Redis accepted the connection but has not answered its first command (a stalled server?)';
  if (status === 'end') return 'the client was closed (quit or disconnect), and the library never reopens a client it was given';
  return `the client has not connected yet (status ${status})`;
}

/**
 * Listens to a client's `error` and `ready` events and keeps its last connection error until it is
 * ready again: ioredis reports why it cannot connect (refused, NOAUTH, a timeout) only there, while
 * the commands waiting meanwhile just time out. Those are the `cause` the store's errors name.
 *
 * Listening changes one thing for the app: ioredis prints "[ioredis] Unhandled error event" with a
 * stack on every failed reconnect only while nobody listens (and ioredis Cluster emits some errors
 * plainly, which would crash a process without a listener). When the app has no `error` listener of
 * its own, a watch made with `warn` says instead, once per outage, what is wrong and what it means
 * for requests (process warning `ERT_STORE_UNREACHABLE`).
 */
export class ConnectionWatch {
  private error: unknown;
  private warned = false;
  private readonly onErrorEvent = (error: unknown): void => this.onError(error);
  private readonly onReady = (): void => {
    this.error = undefined;
    this.warned = false;
  };

  constructor(
    private readonly client: WatchableConnection,
    private readonly warn: boolean,
  ) {
    client.on('error', this.onErrorEvent);
    client.on('ready', this.onReady);
  }

  /** Takes the watch's listeners off the client (one that has `off`, as every ioredis client has). */
  close(): void {
    const off = (this.client as { off?: (event: string, listener: (...args: never[]) => void) => unknown }).off;
    if (typeof off !== 'function') return;
    off.call(this.client, 'error', this.onErrorEvent);
    off.call(this.client, 'ready', this.onReady);
  }

  /** The client's last connection error while it is not ready; `undefined` when it is, or has reported none. */
  get lastError(): unknown {
    return this.client.status === 'ready' ? undefined : this.error;
  }

  /** Why the client has not answered, in words (see {@link noAnswerReason}). */
  reason(): string {
    return noAnswerReason(this.client.status, this.lastError);
  }

  private onError(error: unknown): void {
    this.error = error;
    if (!this.warn || this.warned || listenerCount(this.client) > 1) return;
    this.warned = true;
    process.emitWarning(
      `RedisStore cannot reach Redis: ${describeStoreCause(error)}. ioredis keeps reconnecting; until it is back, logins, refreshes and ` +
        'logouts answer 503, and routes behind requireAuth answer 503 too once the revocation feed has not heard from Redis for ' +
        "revocation.maxStaleness (fail closed). (Said once per outage because the Redis client has no 'error' listener of its own.)",
      { code: STORE_UNREACHABLE },
    );
  }
}

/** How many `error` listeners the client has (ours included); 1 when it cannot say. */
function listenerCount(client: WatchableConnection): number {
  const count = (client as { listenerCount?: (event: string) => number }).listenerCount;
  return typeof count === 'function' ? count.call(client, 'error') : 1;
}

/** A store's hold on the watch of its client: `release()` when the store closes (again is harmless). */
export interface ConnectionLease {
  readonly watch: ConnectionWatch;
  release(): void;
}

const watches = new WeakMap<object, { watch: ConnectionWatch; holders: number }>();

/**
 * A hold on the watch of an app's client, made once however many stores share the client (so it
 * gets one pair of listeners, and one warning per outage); the listeners come off when the last
 * holder releases it. `undefined` for a client that emits no events.
 */
export function watchConnection(client: object): ConnectionLease | undefined {
  if (typeof (client as { on?: unknown }).on !== 'function' || typeof (client as { status?: unknown }).status !== 'string') return undefined;
  let entry = watches.get(client);
  if (entry === undefined) {
    entry = { watch: new ConnectionWatch(client as WatchableConnection, true), holders: 0 };
    watches.set(client, entry);
  }
  const held = entry;
  held.holders += 1;
  let released = false;
  return {
    watch: held.watch,
    release() {
      if (released) return;
      released = true;
      held.holders -= 1;
      if (held.holders > 0) return;
      held.watch.close();
      watches.delete(client);
    },
  };
}
