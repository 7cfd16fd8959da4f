// The in-memory set of revocations a feed keeps, and the synchronous verdict requireAuth asks of it.
import type { RevocationVerdict } from './revocation-feed';

/** How often expired entries are dropped. */
const PRUNE_INTERVAL_MS = 10_000;

/**
 * What the set knows of one user: a "revoked before" time (`revokeUser`, the session cap) and a
 * "claims changed at" time (`updateClaims` with `immediate`), each with when it stops mattering; a
 * part that was never set (or lapsed) is 0. One shape for every entry, so the verdict's lookup stays monomorphic.
 */
interface UserMarks {
  before: number;
  until: number;
  claimsChangedAt: number;
  claimsUntil: number;
}

/**
 * Revoked session ids, per-user "revoked before" and "claims changed at" times and a store-wide
 * "valid since" time, each kept until it can no longer matter. Both stores' feeds keep one; RedisRevocationFeed also tracks
 * when it last confirmed it was in touch with Redis (`confirmedAt`).
 */
export class RevocationSet {
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, UserMarks>();
  private readonly pruneTimer: NodeJS.Timeout;
  /** Sessions whose login began before this (epoch ms) are refused: the store lost its data then. */
  private validSince = 0;
  private loaded = false;
  /**
   * When the feed was last known to hold every revocation made, on the monotonic clock
   * (`performance.now()`), so a wall-clock step cannot make a stale feed look fresh.
   */
  private confirmedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly maxStalenessMs: number) {
    this.pruneTimer = setInterval(() => this.prune(Date.now()), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  /**
   * The hot path of `requireAuth`: map lookups and comparisons, no allocation. Order matters: a
   * feed that cannot vouch for its contents never answers `valid`, nor `revoked` from stale data.
   */
  verdict(sessionId: string, userId: string, authTime: number, claimsTime: number = authTime): RevocationVerdict {
    // One predicate for "can vouch" (freshness), so a health check can never disagree with this verdict.
    const freshness = this.freshness();
    if (freshness !== 'fresh') return freshness;
    if (authTime < this.validSince || this.sessions.has(sessionId)) return 'revoked';
    const user = this.users.get(userId);
    // A user with no mark costs what it always did; one with marks, one comparison more.
    if (user === undefined) return 'valid';
    return authTime < user.before || claimsTime < user.claimsChangedAt ? 'revoked' : 'valid';
  }

  /** Whether the set has been loaded once. */
  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Whether the set can vouch for its contents now. */
  freshness(): 'loading' | 'stale' | 'fresh' {
    if (!this.loaded) return 'loading';
    return performance.now() - this.confirmedAt > this.maxStalenessMs ? 'stale' : 'fresh';
  }

  /** Milliseconds since the set was last confirmed current; `Infinity` before it was loaded. */
  stalenessMs(): number {
    return performance.now() - this.confirmedAt;
  }

  /** How many revocations the set holds (sessions and users). */
  get size(): number {
    return this.sessions.size + this.users.size;
  }

  /** Marks the set loaded and current as of `at` (a `performance.now()` reading). */
  confirm(at: number): void {
    this.loaded = true;
    if (at > this.confirmedAt) this.confirmedAt = at;
  }

  /** Refuses every session whose login began before `since`; the mark only ever moves forward. */
  refuseBefore(since: number): void {
    if (since > this.validSince) this.validSince = since;
  }

  /** Adds a revoked session, remembered until `until` (epoch ms). */
  addSession(sessionId: string, until: number): void {
    if (until > (this.sessions.get(sessionId) ?? 0)) this.sessions.set(sessionId, until);
  }

  /** Adds a user revocation: sessions of the user whose login began before `before` are refused until `until`. */
  addUser(userId: string, before: number, until: number): void {
    const known = this.marksOf(userId);
    known.before = Math.max(before, known.before);
    known.until = Math.max(until, known.until);
  }

  /** Adds a claims change: the user's tokens whose claims date from before `changedAt` are refused until `until`. */
  addClaimsChange(userId: string, changedAt: number, until: number): void {
    const known = this.marksOf(userId);
    known.claimsChangedAt = Math.max(changedAt, known.claimsChangedAt);
    known.claimsUntil = Math.max(until, known.claimsUntil);
  }

  /** When the user's claims last changed with `immediate` (epoch ms), or 0; the same mark `verdict` checks. */
  claimsChangedAt(userId: string): number {
    const user = this.users.get(userId);
    return user !== undefined && user.claimsUntil > Date.now() ? user.claimsChangedAt : 0;
  }

  /** The user's entry, made (with nothing marked) when there is none. */
  private marksOf(userId: string): UserMarks {
    let known = this.users.get(userId);
    if (known === undefined) {
      known = { before: 0, until: 0, claimsChangedAt: 0, claimsUntil: 0 };
      this.users.set(userId, known);
    }
    return known;
  }

  /** When `revokeUser` last cut the user off (epoch ms), or 0; the same mark `verdict` checks. */
  revokedBefore(userId: string): number {
    const user = this.users.get(userId);
    return user !== undefined && user.until > Date.now() ? user.before : 0;
  }

  /** Drops entries that can no longer matter. */
  prune(now: number): void {
    for (const [sessionId, until] of this.sessions) if (until <= now) this.sessions.delete(sessionId);
    for (const [userId, entry] of this.users) {
      // Each part is forgotten once it lapsed; the entry once both have.
      if (entry.until <= now) entry.before = entry.until = 0;
      if (entry.claimsUntil <= now) entry.claimsChangedAt = entry.claimsUntil = 0;
      if (entry.until === 0 && entry.claimsUntil === 0) this.users.delete(userId);
    }
  }

  /** Stops the prune timer. */
  close(): void {
    clearInterval(this.pruneTimer);
  }
}
