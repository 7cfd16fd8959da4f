// Logouts the store could not carry out: retried in the background, with backoff, until done, moot or given up.
import { StoreUnavailableError } from '../errors';
import type { LogoutAbandonReason } from '../events';

/** The most logouts one instance keeps waiting; past it the oldest gives way (reported as `overflow`). */
export const MAX_PENDING_LOGOUTS = 1000;
/** The wait before the first retry, doubled after each failed round. */
const FIRST_RETRY_DELAY_MS = 250;
/** The longest wait between two rounds: once the store is back, every pending logout is done within it. */
const MAX_RETRY_DELAY_MS = 10_000;

/** One logout to carry out again. */
export interface PendingLogout {
  /** The latest moment the session can still be alive: past it, there is nothing left to end. */
  until: number;
  /** Ends the session (or finds it already gone); rejects with a StoreUnavailableError to be tried again. */
  attempt: () => Promise<void>;
  /** Told, once, that this logout will not be tried again before it was done. */
  abandon: (reason: LogoutAbandonReason) => void;
}

/**
 * A small queue of logouts, per instance, keyed by session: one round tries them in order, and the
 * first outage ends the round and doubles the wait before the next (250 ms up to 10 s); a round that
 * gets through resets it. A logout leaves the queue when its attempt resolves, when its session's
 * latest end has passed (`expired`), when the store answers it with something that is not an outage
 * (`failed`), when {@link MAX_PENDING_LOGOUTS} newer ones push it out (`overflow`), or at
 * {@link PendingLogouts.close} (`closed`). Its timer never keeps the process alive.
 */
export class PendingLogouts {
  private readonly waiting = new Map<string, PendingLogout>();
  private delayMs = FIRST_RETRY_DELAY_MS;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly capacity = MAX_PENDING_LOGOUTS) {}

  /** How many logouts are waiting. */
  get size(): number {
    return this.waiting.size;
  }

  /** Queues a logout of `sessionId` (replacing one already waiting for it), and schedules a round. */
  add(sessionId: string, logout: PendingLogout): void {
    if (this.closed) return logout.abandon('closed');
    this.waiting.delete(sessionId);
    if (this.waiting.size >= this.capacity) {
      const [oldest, pushedOut] = this.waiting.entries().next().value as [string, PendingLogout];
      this.waiting.delete(oldest);
      pushedOut.abandon('overflow');
    }
    this.waiting.set(sessionId, logout);
    this.schedule();
  }

  /** Stops retrying: waits for a round under way to finish, then reports every logout still waiting as `closed`. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
    for (const logout of this.waiting.values()) logout.abandon('closed');
    this.waiting.clear();
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined || this.round !== undefined || this.waiting.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.round = this.retryAll().finally(() => {
        this.round = undefined;
        this.schedule();
      });
    }, this.delayMs);
    this.timer.unref();
  }

  /** One round: drops what has expired, then tries the rest in order until the store fails. */
  private async retryAll(): Promise<void> {
    const now = Date.now();
    for (const [sessionId, logout] of this.waiting) {
      if (logout.until > now) continue;
      this.waiting.delete(sessionId);
      logout.abandon('expired');
    }
    for (const [sessionId, logout] of this.waiting) {
      if (this.closed) return;
      try {
        await logout.attempt();
      } catch (error) {
        if (error instanceof StoreUnavailableError) {
          this.delayMs = Math.min(this.delayMs * 2, MAX_RETRY_DELAY_MS);
          return;
        }
        this.waiting.delete(sessionId);
        logout.abandon('failed');
        continue;
      }
      this.waiting.delete(sessionId);
    }
    this.delayMs = FIRST_RETRY_DELAY_MS;
  }
}
