// A deadline plus a circuit breaker for Redis commands: each waits for the connection within a time budget, and all fail fast while Redis hangs.
import { CommandNotSentError, describeStoreCause, ErrorCodes, StoreUnavailableError } from '../errors';
import type { RedisClock } from './clock';
import { type ConnectionWatch, noAnswerReason } from './connection-watch';

/** The connection-state part of an ioredis `Redis` or `Cluster` client that the gate watches. */
export interface ConnectionLike {
  /** ioredis status: `wait` (lazyConnect), `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end`, ... */
  readonly status: string;
  /** Connects a `lazyConnect` client (ioredis' `connect`). */
  connect(): Promise<unknown>;
  /** Probes a Redis that stopped answering (ioredis' `ping`). */
  ping(): Promise<unknown>;
  /** Waits for the connection to be ready, or to end for good. */
  once(event: 'ready' | 'end', listener: () => void): unknown;
  /** Stops waiting for `ready` or `end`. */
  off(event: 'ready' | 'end', listener: () => void): unknown;
}

/** The longest pause between two probes while the circuit is open. */
const MAX_PROBE_INTERVAL_MS = 1000;

/** What a command on a client the app closed fails with. */
const CLIENT_CLOSED = 'the Redis client was closed (quit or disconnect); RedisStore never reopens a client it was given';

/**
 * Runs every command of a RedisStore under one budget, `timeoutMs`:
 * - while the client connects (first connect, reconnect, or `lazyConnect` waiting for a first
 *   command) the command waits for it; a `lazyConnect` client is told to connect;
 * - the command is given its deadline (when the caller will stop waiting, on Redis' clock);
 * - past the budget it fails with `StoreUnavailableError` (`ERR_STORE_TIMEOUT`) and the circuit
 *   opens: later commands fail at once (`ERR_STORE_CIRCUIT_OPEN`) instead of piling up behind a
 *   hung server, while one PING at a time probes it; the first answer closes the circuit;
 * - a command Redis or ioredis answers with an error fails with `ERR_STORE_UNAVAILABLE` (the error
 *   as `cause`), and one on a client the app closed with `ERR_STORE_CLIENT_CLOSED`.
 * Every message says why in words; while the client is not connected, the `cause` is its last
 * connection error (refused, NOAUTH, timed out), which the {@link ConnectionWatch} kept.
 */
export class CommandGate {
  private circuitOpen = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private readyWait: Promise<void> | undefined;
  /** The probe's PING while it is unanswered: never more than one in ioredis' queue. */
  private probePing: Promise<unknown> | undefined;
  /** The timeout that opened the circuit, while it is open. */
  private openedBy: StoreUnavailableError | undefined;
  private closed = false;
  /**
   * How much earlier than the caller's give-up time a script's deadline falls: room for the
   * reply's way back (and a busy event loop), so a script that ran in time is heard in time.
   */
  private readonly deadlineMarginMs: number;

  constructor(
    private readonly client: ConnectionLike,
    private readonly timeoutMs: number,
    readonly clock: RedisClock,
    private readonly watch?: ConnectionWatch,
  ) {
    this.deadlineMarginMs = Math.min(100, Math.max(5, Math.floor(timeoutMs / 5)));
  }

  /** Whether commands currently fail at once because Redis stopped answering. */
  get isCircuitOpen(): boolean {
    return this.circuitOpen;
  }

  /**
   * Why Redis is not answering, when the gate knows: the client's connection error, or the timeout
   * that opened the circuit. What the revocation feed names when it cannot load or goes stale.
   */
  get problem(): unknown {
    return this.watch?.lastError ?? this.openedBy;
  }

  /** Runs `command` with its deadline (Redis clock, epoch ms), within the budget. */
  run<T>(command: (deadline: number) => Promise<T>): Promise<T> {
    if (this.circuitOpen) {
      const connectionError = this.watch?.lastError;
      const why = connectionError !== undefined ? describeStoreCause(connectionError) : (this.openedBy?.message ?? 'a command timed out');
      return Promise.reject(
        new CommandNotSentError(
          `Redis stopped answering; failing fast until it answers a probe again (${why})`,
          ErrorCodes.ERR_STORE_CIRCUIT_OPEN,
          connectionError ?? this.openedBy,
        ),
      );
    }
    return this.attempt(command);
  }

  /** Stops probing. */
  close(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
  }

  private attempt<T>(command: (deadline: number) => Promise<T>): Promise<T> {
    if (this.client.status === 'end') {
      return Promise.reject(new CommandNotSentError(CLIENT_CLOSED, ErrorCodes.ERR_STORE_CLIENT_CLOSED));
    }
    const giveUpAt = Date.now() + this.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let sent = false;
      const timer = setTimeout(() => {
        settled = true;
        const connectionError = this.watch?.lastError;
        const message = `Redis did not answer within ${this.timeoutMs}ms: ${noAnswerReason(this.client.status, connectionError)}`;
        const error = sent
          ? new StoreUnavailableError(message, { code: ErrorCodes.ERR_STORE_TIMEOUT, cause: connectionError })
          : new CommandNotSentError(message, ErrorCodes.ERR_STORE_TIMEOUT, connectionError);
        this.openCircuit(error);
        reject(error);
      }, this.timeoutMs);
      timer.unref(); // whoever waits holds the process open (a request's socket); a lone probe must not
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error instanceof StoreUnavailableError ? error : this.commandFailed(error));
      };
      const send = (): void => {
        if (settled) return; // gave up while waiting for the connection: send nothing
        sent = true;
        let reply: Promise<T>;
        try {
          reply = command(this.clock.toRedis(giveUpAt - this.deadlineMarginMs));
        } catch (error) {
          fail(error);
          return;
        }
        reply.then((value) => {
          // A reply, even one that came too late for its caller, shows Redis answers again.
          this.circuitOpen = false;
          this.openedBy = undefined;
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(value);
        }, fail);
      };
      // Connected (the usual case): sent at once, not a promise tick later.
      if (this.client.status === 'ready') send();
      else this.connected().then(send, fail);
    });
  }

  /**
   * Resolves once a client that is not ready yet (connecting, reconnecting, or `lazyConnect` waiting:
   * asked to connect here) becomes ready; rejects if it ends first. `attempt` handles a ready or
   * ended client itself.
   */
  private connected(): Promise<void> {
    if (this.client.status === 'wait') this.client.connect().catch(() => undefined);
    this.readyWait ??= new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        this.client.off('end', onEnd);
        this.readyWait = undefined;
        resolve();
      };
      const onEnd = (): void => {
        this.client.off('ready', onReady);
        this.readyWait = undefined;
        reject(new CommandNotSentError('the Redis client was closed', ErrorCodes.ERR_STORE_CLIENT_CLOSED));
      };
      this.client.once('ready', onReady);
      this.client.once('end', onEnd);
    });
    return this.readyWait;
  }

  /**
   * The error for a command ioredis or Redis answered with an error: while the client is not
   * connected, its connection error is the real cause (the command's own error, such as ioredis'
   * "max retries per request", only follows from it); otherwise the reply itself (OOM, READONLY, …).
   */
  private commandFailed(error: unknown): StoreUnavailableError {
    // A command sent just as the app's quit() closed the connection fails with ioredis' "Connection is
    // closed." once the client has ended: that is the closed client, not an outage.
    if (this.client.status === 'end') {
      return new StoreUnavailableError(CLIENT_CLOSED, { code: ErrorCodes.ERR_STORE_CLIENT_CLOSED, cause: error });
    }
    const connectionError = this.watch?.lastError;
    return connectionError === undefined
      ? new StoreUnavailableError(`Redis command failed: ${describeStoreCause(error)}`, { cause: error })
      : new StoreUnavailableError(`Redis command failed: ${noAnswerReason(this.client.status, connectionError)}`, { cause: connectionError });
  }

  private openCircuit(openedBy: StoreUnavailableError): void {
    if (this.circuitOpen || this.closed) return;
    this.circuitOpen = true;
    this.openedBy = openedBy;
    this.probe();
  }

  private probe(): void {
    if (!this.circuitOpen || this.closed) return;
    this.attempt(() => {
      this.probePing ??= this.client.ping().finally(() => (this.probePing = undefined));
      return this.probePing;
    }).then(
      () => undefined,
      () => {
        if (this.closed) return;
        this.probeTimer = setTimeout(() => this.probe(), Math.min(this.timeoutMs, MAX_PROBE_INTERVAL_MS));
        this.probeTimer.unref();
      },
    );
  }
}
