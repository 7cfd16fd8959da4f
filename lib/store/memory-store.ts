// MemoryStore: the SessionStore contract in one process's memory, for development and tests only.
import { describeValue } from '../describe-value';
import { ErrorCodes } from '../errors';
import { checkKnownKeys, configurationError, type KnownOptions } from '../option-checks';
import { noReloads } from '../revocation/revocation-feed';
import { RevocationSet } from '../revocation/revocation-set';
import { hashesEqual } from '../tokens/hashing';
import {
  type ClaimsChange,
  type CreatedSession,
  type NewSession,
  newSessionRecord,
  PROCESS_CLOCK,
  type PresentationOutcome,
  type RevocationFeed,
  type SessionAmendment,
  type SessionRecord,
  type SessionStore,
  type StoreClock,
  type StoreStatus,
  sessionsBeyondCap,
  type TokenPresentation,
  type UserRevocation,
} from './session-store';

/**
 * Options for {@link MemoryStore}.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'express-refresh-tokens';
 *
 * const store = new MemoryStore({ sweepIntervalMs: 10_000 }); // drop expired sessions every 10 s
 * ```
 */
export interface MemoryStoreOptions {
  /** How often expired entries are swept out, in milliseconds (the timer never keeps the process alive). Defaults to `60000`. */
  sweepIntervalMs?: number;
}

const MEMORY_STORE_OPTIONS = { sweepIntervalMs: true } satisfies KnownOptions<MemoryStoreOptions>;

/** The longest delay setTimeout honours; beyond it (or for a non-number) Node fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** Validates {@link MemoryStoreOptions}: a bad `sweepIntervalMs` would make Node sweep every millisecond. */
function sweepInterval(options: unknown): number {
  if (options === null || typeof options !== 'object') {
    throw configurationError(
      'type',
      ErrorCodes.ERR_INVALID_OPTION,
      `MemoryStore: options must be an object like { sweepIntervalMs: 60000 }; received ${describeValue(options)}.`,
    );
  }
  checkKnownKeys('', options, MEMORY_STORE_OPTIONS, 'MemoryStore');
  const { sweepIntervalMs = 60_000 } = options as MemoryStoreOptions;
  if (!Number.isInteger(sweepIntervalMs) || sweepIntervalMs <= 0 || sweepIntervalMs > MAX_TIMER_MS) {
    throw configurationError(
      'range',
      ErrorCodes.ERR_INVALID_OPTION,
      `MemoryStore: \`sweepIntervalMs\` must be a positive whole number of milliseconds, at most ${MAX_TIMER_MS}; received ${describeValue(sweepIntervalMs)}.`,
    );
  }
  return sweepIntervalMs;
}

interface Family {
  record: SessionRecord;
  currentHash: string;
  previousHash: string;
  /** The current token's generation (the number of rotations). */
  rotations: number;
  /** The fingerprint of the client that made the last rotation (or logged in). */
  clientHash: string;
  /** The proof hash the last rotation came with (see TokenPresentation.proofHash); `''` when it had none. */
  proofHash: string;
}

/**
 * A {@link SessionStore} held in this process's memory. Sessions vanish on restart and are not
 * shared between processes, so revocation does not reach other instances: use it for development
 * and tests, and `RedisStore` in production. It warns when created under `NODE_ENV=production`.
 * Its revocation feed is the store itself: always loaded, never stale, and (as after a Redis data
 * loss) it refuses access tokens of logins from before the store was created.
 *
 * @example
 * ```ts
 * import { createAuth, MemoryStore } from 'express-refresh-tokens';
 *
 * const auth = createAuth({
 *   store: new MemoryStore(),
 *   accessToken: { secret: 'development-only access secret, 32+ bytes' },
 *   refreshToken: { secret: 'development-only refresh secret, 32+ bytes' },
 *   cookie: { secure: false }, // plain http on localhost
 *   authenticate: (req) => (req.body.username === 'demo' && req.body.password === 'demo-password' ? { userId: 'demo' } : null),
 * });
 * ```
 */
export class MemoryStore implements SessionStore {
  private readonly families = new Map<string, Family>();
  private readonly sessionsByUser = new Map<string, Set<string>>();
  /** Each user's seen devices: device fingerprint → the latest absolute deadline of a session with it (mirrors INDEX_SESSION's set). */
  private readonly devicesByUser = new Map<string, Map<string, number>>();
  private readonly revocations = new RevocationSet(Number.POSITIVE_INFINITY);
  private readonly sweepTimer: NodeJS.Timeout;
  /** This process's clock: one process, one clock, so nothing to measure (RedisStore's is Redis'). */
  readonly clock: StoreClock = PROCESS_CLOCK;

  /**
   * Creates an empty store.
   *
   * @param options - `sweepIntervalMs`, how often expired sessions are dropped (default 60000).
   * @throws `TypeError` or `RangeError` (code `ERR_INVALID_OPTION` or `ERR_UNKNOWN_OPTION`) for a bad option.
   *
   * @example
   * ```ts
   * const store = new MemoryStore();
   * afterAll(() => store.close()); // in a test suite: stop its sweep timer
   * ```
   */
  constructor(options: MemoryStoreOptions = {}) {
    const sweepIntervalMs = sweepInterval(options);
    if (process.env.NODE_ENV === 'production') {
      process.emitWarning(
        'MemoryStore keeps sessions in one process and loses them on restart; revocations do not reach ' + 'other instances. Use RedisStore in production.',
        { code: 'ERT_MEMORY_STORE_IN_PRODUCTION' },
      );
    }
    this.revocations.refuseBefore(Date.now());
    this.revocations.confirm(Number.POSITIVE_INFINITY);
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), sweepIntervalMs);
    this.sweepTimer.unref();
  }

  async createSession(session: NewSession): Promise<CreatedSession | null> {
    if (session.now < this.revocations.revokedBefore(session.userId)) return null; // mirrors INDEX_SESSION
    const record = newSessionRecord({ ...session, claims: structuredClone(session.claims) });
    const newDevice = session.deviceHash === undefined ? undefined : this.seeDevice(session.userId, session.deviceHash, record.absoluteExpiresAt);
    this.families.set(session.sessionId, {
      record,
      currentHash: session.secretHash,
      previousHash: '',
      rotations: 0,
      clientHash: session.clientHash,
      proofHash: '',
    });
    const ids = this.sessionsByUser.get(session.userId) ?? new Set<string>();
    this.sessionsByUser.set(session.userId, ids);
    ids.add(session.sessionId);
    // Over the cap: the oldest sessions end as one user revocation, every session whose login began
    // before the newest of them, remembered as long as their access tokens live (mirrors
    // RedisStore.endOldestBeyond).
    const beyond = sessionsBeyondCap(await this.listSessions(session.userId), session.maxSessionsPerUser);
    if (beyond !== null) {
      const { revokedBefore, oneByOne } = beyond;
      await this.revokeUser(session.userId, { revokedBefore, retainMs: Date.now() + session.revocationTtlMs - revokedBefore });
      for (const record of oneByOne) await this.revokeSession(record.sessionId, session.revocationTtlMs);
    }
    return newDevice === undefined ? snapshot(record) : { ...snapshot(record), newDevice };
  }

  /** The same decision as RedisStore's PRESENT_TOKEN script, its steps numbered alike. */
  async presentToken(sessionId: string, p: TokenPresentation): Promise<PresentationOutcome> {
    const now = Date.now();
    // 1. No live family: missing.
    const family = this.liveFamily(sessionId, now);
    if (!family) return { status: 'missing' };
    const ended = (status: 'revoked' | 'reuse'): PresentationOutcome => {
      this.endFamily(family, now + p.revocationTtlMs);
      return { status, session: snapshot(family.record) };
    };
    // 2. The current token: rotate (or end the family on 'revoke').
    if (hashesEqual(p.presentedHash, family.currentHash)) {
      if (p.action === 'revoke') return ended('revoked');
      const record = family.record;
      record.lastUsedAt = now;
      record.expiresAt = Math.min(now + p.idleTtlMs, record.absoluteExpiresAt);
      family.previousHash = family.currentHash;
      family.currentHash = p.successorHash;
      family.rotations += 1;
      family.clientHash = p.clientHash;
      family.proofHash = p.proofHash ?? '';
      return { status: 'rotated', session: snapshot(record) };
    }
    // 3. The previous token: the request that rotated it replayed (its very proof) is refused and changes
    // nothing; a retry inside the grace window by the client that rotated it is answered; otherwise reuse.
    if (family.previousHash !== '' && hashesEqual(p.presentedHash, family.previousHash)) {
      if (p.proofHash && hashesEqual(p.proofHash, family.proofHash)) return { status: 'unknown' };
      const inGrace = p.reuseGraceMs > 0 && now - family.record.lastUsedAt <= p.reuseGraceMs;
      if (inGrace && hashesEqual(p.successorHash, family.currentHash) && hashesEqual(p.clientHash, family.clientHash)) {
        return p.action === 'revoke' ? ended('revoked') : { status: 'retried', session: snapshot(family.record) };
      }
      return ended('reuse');
    }
    // 4. An earlier generation: the token is authentic (the caller checked its MAC), so it is reuse.
    if (p.generation < family.rotations) return ended('reuse');
    // 5. Anything else is no token of this family: refused, nothing changes.
    return { status: 'unknown' };
  }

  async revokeSession(sessionId: string, revocationTtlMs: number): Promise<SessionRecord | null> {
    const now = Date.now();
    this.revocations.addSession(sessionId, now + revocationTtlMs);
    const family = this.liveFamily(sessionId, now);
    if (!family) return null;
    this.forget(family);
    return snapshot(family.record);
  }

  async discardSession(sessionId: string): Promise<void> {
    const family = this.families.get(sessionId);
    if (family) this.forget(family);
  }

  async revokeUser(userId: string, { revokedBefore, retainMs }: UserRevocation): Promise<SessionRecord[]> {
    const until = revokedBefore + retainMs;
    this.revocations.addUser(userId, revokedBefore, until);
    const ended: SessionRecord[] = [];
    const now = Date.now();
    for (const sessionId of [...(this.sessionsByUser.get(userId) ?? [])]) {
      const family = this.liveFamily(sessionId, now);
      if (!family || family.record.createdAt >= revokedBefore) continue;
      this.forget(family);
      ended.push(snapshot(family.record));
    }
    return ended;
  }

  /** Mirrors RedisStore's AMEND_SESSION script. */
  async amendSession(sessionId: string, { verification, claims }: SessionAmendment): Promise<SessionRecord | null> {
    const family = this.liveFamily(sessionId, Date.now());
    if (!family) return null;
    const { record } = family;
    if (claims !== undefined) {
      const at = Math.floor(claims.updatedAt);
      // Claims changed at a later time stay: the latest change wins, whatever order the calls land in.
      if (record.claimsUpdatedAt !== undefined && record.claimsUpdatedAt > at) return null;
      record.claims = structuredClone(claims.value);
      record.claimsUpdatedAt = at;
    }
    if (verification !== undefined) record.verification = structuredClone(verification);
    return snapshot(record);
  }

  async markClaimsChanged(userId: string, { changedAt, retainMs }: ClaimsChange): Promise<void> {
    this.revocations.addClaimsChange(userId, Math.floor(changedAt), Math.floor(changedAt) + retainMs);
  }

  async getSession(sessionId: string): Promise<SessionRecord | null> {
    const family = this.liveFamily(sessionId, Date.now());
    return family ? snapshot(family.record) : null;
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const now = Date.now();
    const records: SessionRecord[] = [];
    for (const sessionId of this.sessionsByUser.get(userId) ?? []) {
      const family = this.liveFamily(sessionId, now);
      if (family) records.push(snapshot(family.record));
    }
    return records.sort((a, b) => a.createdAt - b.createdAt);
  }

  openRevocationFeed(): RevocationFeed {
    const revocations = this.revocations;
    return {
      verdict: (sessionId, userId, authTime, claimsTime) => revocations.verdict(sessionId, userId, authTime, claimsTime),
      freshness: () => revocations.freshness(),
      status: () => ({
        freshness: revocations.freshness(),
        stalenessMs: 0, // in-process: always current
        entries: revocations.size,
        reloads: { ...noReloads(), start: 1 },
        dataLosses: 0,
      }),
      ready: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }

  /** Always closed: nothing between this process and its own memory can stop answering. */
  status(): StoreStatus {
    return { circuit: 'closed' };
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.revocations.close();
  }

  /**
   * Records that the user logged in from a device (its fingerprint) with a session living until
   * `lives`, and says whether none of the user's sessions that could still be alive had it: the
   * lapsed ones are dropped first, and each keeps its latest deadline. Mirrors INDEX_SESSION.
   */
  private seeDevice(userId: string, deviceHash: string, lives: number): boolean {
    const devices = this.devicesByUser.get(userId) ?? new Map<string, number>();
    this.devicesByUser.set(userId, devices);
    pruneDevices(devices, Date.now());
    const known = devices.get(deviceHash);
    devices.set(deviceHash, Math.max(known ?? lives, lives));
    return known === undefined;
  }

  /** The family if it exists and has not expired; an expired one is dropped on sight. */
  private liveFamily(sessionId: string, now: number): Family | undefined {
    const family = this.families.get(sessionId);
    if (family && family.record.expiresAt <= now) {
      this.forget(family);
      return undefined;
    }
    return family;
  }

  private endFamily(family: Family, revokedUntil: number): void {
    this.revocations.addSession(family.record.sessionId, revokedUntil);
    this.forget(family);
  }

  private forget(family: Family): void {
    this.families.delete(family.record.sessionId);
    const ids = this.sessionsByUser.get(family.record.userId);
    ids?.delete(family.record.sessionId);
    if (ids?.size === 0) this.sessionsByUser.delete(family.record.userId);
  }

  private sweep(now: number): void {
    for (const family of this.families.values()) this.liveFamily(family.record.sessionId, now);
    for (const [userId, devices] of this.devicesByUser) if (pruneDevices(devices, now) === 0) this.devicesByUser.delete(userId);
    this.revocations.prune(now); // user cut-offs and revoked ids that lapsed
  }
}

/** Drops the devices whose every session has passed its absolute deadline; returns how many are left. */
function pruneDevices(devices: Map<string, number>, now: number): number {
  for (const [hash, lives] of devices) if (lives <= now) devices.delete(hash);
  return devices.size;
}

/** A copy of a record that shares nothing with the stored one, as RedisStore's records never do. */
function snapshot(record: SessionRecord): SessionRecord {
  const copy = { ...record, claims: structuredClone(record.claims) };
  if (record.verification !== undefined) copy.verification = structuredClone(record.verification);
  return copy;
}
