// MemoryStore: the SessionStore contract in one process's memory, for development and tests only.
import { hashesEqual } from '../refresh-token';
import {
  newSessionRecord,
  type NewSession,
  type PresentationOutcome,
  type SessionRecord,
  type SessionStore,
  type TokenPresentation,
} from './session-store';

/** Options for {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** How often expired entries are swept out, in milliseconds. Defaults to `60000`. */
  sweepIntervalMs?: number;
}

interface Family {
  record: SessionRecord;
  currentHash: string;
  previousHash: string;
  rotatedAt: number;
  rotations: number;
}

/**
 * A {@link SessionStore} held in this process's memory. Sessions vanish on restart and are not
 * shared between processes, so revocation does not reach other instances: use it for development
 * and tests, and `RedisStore` in production. It warns when created under `NODE_ENV=production`.
 *
 * @example
 * const auth = createAuth({ store: new MemoryStore(), ... });
 */
export class MemoryStore implements SessionStore {
  private readonly families = new Map<string, Family>();
  private readonly revokedUntil = new Map<string, number>();
  private readonly sessionsByUser = new Map<string, Set<string>>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(options: MemoryStoreOptions = {}) {
    if (process.env.NODE_ENV === 'production') {
      process.emitWarning(
        'MemoryStore keeps sessions in one process and loses them on restart; revocations do not reach ' +
          'other instances. Use RedisStore in production.',
        { code: 'ERT_MEMORY_STORE_IN_PRODUCTION' },
      );
    }
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), options.sweepIntervalMs ?? 60_000);
    this.sweepTimer.unref();
  }

  async createSession(session: NewSession): Promise<SessionRecord> {
    const record = newSessionRecord({ ...session, claims: structuredClone(session.claims) });
    this.families.set(session.sessionId, {
      record,
      currentHash: session.secretHash,
      previousHash: '',
      rotatedAt: session.now,
      rotations: 0,
    });
    let ids = this.sessionsByUser.get(session.userId);
    if (!ids) this.sessionsByUser.set(session.userId, (ids = new Set()));
    ids.add(session.sessionId);
    return snapshot(record);
  }

  async presentToken(sessionId: string, p: TokenPresentation): Promise<PresentationOutcome> {
    const family = this.liveFamily(sessionId, p.now);
    if (!family) return { status: 'missing' };
    const ended = (status: 'revoked' | 'reuse'): PresentationOutcome => {
      this.endFamily(family, p.now + p.revokedMarkerTtlMs);
      return { status, session: snapshot(family.record) };
    };

    if (hashesEqual(p.presentedHash, family.currentHash)) {
      if (p.action === 'revoke') return ended('revoked');
      const record = family.record;
      record.lastUsedAt = p.now;
      record.expiresAt = Math.min(p.now + p.idleTtlMs, record.absoluteExpiresAt);
      family.previousHash = family.currentHash;
      family.currentHash = p.successorHash;
      family.rotatedAt = p.now;
      family.rotations += 1;
      return { status: 'rotated', session: snapshot(record) };
    }
    if (family.previousHash !== '' && hashesEqual(p.presentedHash, family.previousHash)) {
      const inGrace = p.reuseGraceMs > 0 && p.now - family.rotatedAt <= p.reuseGraceMs;
      if (inGrace && hashesEqual(p.successorHash, family.currentHash)) {
        return p.action === 'revoke' ? ended('revoked') : { status: 'retried', session: snapshot(family.record) };
      }
      return ended('reuse');
    }
    if (family.previousHash !== '' && hashesEqual(p.successorHash, family.previousHash)) return ended('reuse');
    return {
      status: 'unknown',
      chain: { currentHash: family.currentHash, previousHash: family.previousHash, rotations: family.rotations },
    };
  }

  async revokeSession(sessionId: string, revokedMarkerTtlMs: number): Promise<SessionRecord | null> {
    const now = Date.now();
    this.revokedUntil.set(sessionId, now + revokedMarkerTtlMs);
    const family = this.liveFamily(sessionId, now);
    if (!family) return null;
    this.endFamily(family, now + revokedMarkerTtlMs);
    return snapshot(family.record);
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

  async isRevoked(sessionId: string): Promise<boolean> {
    const until = this.revokedUntil.get(sessionId);
    return until !== undefined && until > Date.now();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
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
    this.revokedUntil.set(family.record.sessionId, revokedUntil);
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
    for (const [sessionId, until] of this.revokedUntil) if (until <= now) this.revokedUntil.delete(sessionId);
  }
}

/** A copy of a record that shares nothing with the stored one, as RedisStore's records never do. */
function snapshot(record: SessionRecord): SessionRecord {
  return { ...record, claims: structuredClone(record.claims) };
}
