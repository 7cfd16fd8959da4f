// RedisStore: the SessionStore contract on Redis (ioredis Redis or Cluster), one script per operation.
import type { Store as RateLimitCounters } from 'express-rate-limit';
import type { CommandGate } from '../redis/command-gate';
import { type RedisKeys, redisKeys } from '../redis/keys';
import { badReply, expectStrings, late } from '../redis/replies';
import { type Script, script } from '../redis/script';
import { ScriptClient } from '../redis/script-client';
import { RedisRevocationLog } from '../revocation/redis-revocation-source';
import type { Revocation } from '../revocation/revocation-message-codec';
import { AMEND_SESSION, CREATE_SESSION, INDEX_SESSION, PRESENT_TOKEN, REVOKE_SESSION, REVOKE_USER } from './redis-scripts';
import { encodeNewSession, encodeTime, encodeVerification, luaFieldNumber, readSessionRecord } from './redis-session-layout';
import { type RedisArg, type RedisClientLike, type RedisStoreOptions, redisStoreSettings } from './redis-store-options';
import { redisKnownAddresses, redisRateLimitStore, type ScriptRunner } from './redis-throttling';

export type { RedisArg, RedisClientLike, RedisStoreOptions } from './redis-store-options';

import {
  type ClaimsChange,
  type CreatedSession,
  type KnownAddresses,
  type NewSession,
  newSessionRecord,
  type PresentationOutcome,
  type RevocationFeed,
  type RevocationFeedOptions,
  type SessionAmendment,
  type SessionRecord,
  type SessionStore,
  type StoreClock,
  type StoreStatus,
  sessionsBeyondCap,
  type TokenPresentation,
  type UserRevocation,
} from './session-store';

const SCRIPTS = {
  createSession: script(CREATE_SESSION),
  indexSession: script(INDEX_SESSION),
  presentToken: script(PRESENT_TOKEN),
  revokeSession: script(REVOKE_SESSION),
  amendSession: script(AMEND_SESSION),
  revokeUser: script(REVOKE_USER),
};

/** A deadline that never passes, for the one write that is safe to apply late (discardSession). */
const NO_DEADLINE = Number.MAX_SAFE_INTEGER;

const SESSION_STATUSES = new Set(['rotated', 'retried', 'revoked', 'reuse']);

/**
 * A {@link SessionStore} on Redis through ioredis. Its keys (all with a TTL) are named in
 * redis/keys.ts: one string per family, dying at its expiry; per user a sorted-set index and a
 * "revoked before" mark; and the revocations feeds load, with a version and the data's epoch.
 * Only hashes of refresh secrets are stored. Every script touches one hash slot.
 *
 * Until `close()`, it listens to the client's `error` events to name the cause of its failures (a
 * refused connection, NOAUTH): so ioredis no longer prints "Unhandled error event" for a client without a listener of
 * the app's own, and the store says instead, once per outage, what is wrong (process warning
 * `ERT_STORE_UNREACHABLE`).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createAuth, RedisStore } from 'express-refresh-tokens';
 *
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://localhost:6379');
 * const store = new RedisStore({ client: redis, prefix: 'auth:' });
 * const auth = createAuth({ ...options, store }); // options: the rest of your AuthOptions
 * ```
 */
export class RedisStore implements SessionStore {
  private readonly client: RedisClientLike;
  private readonly keys: RedisKeys;
  /** The client's scripts, run under one command gate (budget, circuit, Redis' clock). */
  private readonly scripts: ScriptClient;
  private readonly gate: CommandGate;
  /** The revocation log: what revocations are written to and the feeds load from. */
  private readonly revocations: RedisRevocationLog;
  /**
   * Redis' clock, read on the node of the revocation log: what login starts, revokeUser marks and
   * the epoch are times of, so instances whose clocks differ agree on what a revocation ends (see
   * redis/clock.ts). `now()` applies the offset measured by the last quick reading.
   */
  readonly clock: StoreClock = {
    read: () => this.revocations.readClock(),
    now: () => this.gate.clock.now(),
  };

  /**
   * Creates the store on a client you own: it connects a `lazyConnect` client when first needed and
   * never closes it; the revocation feed of each auth instance opens one duplicate of it to subscribe.
   *
   * @param options - `client` (required), `prefix` (default `'ert:'`), `commandTimeoutMs` (default `1000`).
   * @throws `TypeError` or `RangeError` (code `ERR_MISSING_OPTION`, `ERR_UNKNOWN_OPTION` or
   * `ERR_INVALID_OPTION`) for a missing client, a prefix with `{` or `}`, or a bad timeout.
   *
   * @example
   * ```ts
   * const store = new RedisStore({ client: new Redis({ host: 'redis.internal', lazyConnect: true }), prefix: 'auth:' });
   * ```
   */
  constructor(options: RedisStoreOptions) {
    const { client, prefix, commandTimeoutMs } = redisStoreSettings(options);
    this.client = client;
    this.keys = redisKeys(prefix);
    this.scripts = new ScriptClient(client, commandTimeoutMs);
    this.gate = this.scripts.gate;
    this.revocations = RedisRevocationLog.on(this.scripts, client, this.keys, commandTimeoutMs);
  }

  async createSession(session: NewSession): Promise<CreatedSession | null> {
    const record: CreatedSession = newSessionRecord(session);
    const stored = encodeNewSession(session, record);
    const created = await this.run(SCRIPTS.createSession, [this.keys.session(session.sessionId)], (deadline) => [stored, record.expiresAt, deadline]);
    if (created !== 'ok') throw late('createSession');
    // Indexed only once the session exists (the two keys may live on different cluster nodes), and
    // refused there when revokeUser ran after this login began: revokeUser marks the user first.
    // A create that failed changed nothing (late scripts refuse); an index that failed leaves a
    // family nobody will be given, so it is discarded.
    const userKeys = [this.keys.userIndex(session.userId), this.keys.userRevoked(session.userId)];
    const indexed = await this.run(SCRIPTS.indexSession, userKeys, (deadline) => [
      session.sessionId,
      session.now,
      session.absoluteTtlMs,
      deadline,
      session.deviceHash ?? '',
    ]).catch((error: unknown) => {
      this.discardSession(session.sessionId).catch(() => undefined);
      throw error;
    });
    const reply = Array.isArray(indexed) ? (indexed as unknown[]) : [];
    const status = reply[0];
    if (status === 'ok') {
      if (reply[2] === 1 || reply[2] === 0) record.newDevice = reply[2] === 1;
      // Maybe over the cap (the index may still list expired sessions): count the live ones, and the
      // oldest beyond the cap end as a revokeSession ends them. Best effort: the new session exists
      // either way. Mirrors MemoryStore.createSession.
      if (Number(reply[1]) > session.maxSessionsPerUser) {
        await this.endOldestBeyond(session.userId, session.maxSessionsPerUser, session.revocationTtlMs).catch(() => undefined);
      }
      return record;
    }
    // Redis just answered, so wait (within the budget) for the clean-up: the caller sees nothing left.
    await this.gate.run(() => this.discardSession(session.sessionId)).catch(() => undefined);
    if (status === 'revoked') return null;
    throw late('createSession');
  }

  async presentToken(sessionId: string, p: TokenPresentation): Promise<PresentationOutcome> {
    // The family's revocation, made only on the paths that end it (a rotation, the usual case, needs none).
    let revocation: Revocation | undefined;
    const ending = (): Revocation => (revocation ??= this.sessionRevocation(sessionId, p.revocationTtlMs));
    // A rotation announces nothing, so a refresh is sent without the signed message (one HMAC and its
    // bytes less). If the script must end the family instead (reuse), it changes nothing and replies
    // 'announce'; the presentation is then sent again with the message, and judged anew.
    const present = async (announcement: string): Promise<string[]> =>
      expectStrings(
        await this.run(SCRIPTS.presentToken, [this.keys.session(sessionId)], (deadline) => [
          `${p.presentedHash} ${p.successorHash} ${p.action} ${p.idleTtlMs} ${p.reuseGraceMs} ${deadline} ${p.generation} ${p.clientHash} ${p.proofHash || '-'}`,
          this.keys.channel,
          announcement,
        ]),
        'presentToken',
      );
    let values = await present(p.action === 'revoke' ? this.revocations.announcement(ending()) : '');
    if (values[0] === 'announce') values = await present(this.revocations.announcement(ending()));
    const status = values[0];
    if (status === 'late') throw late('presentToken');
    if (status === 'missing' && values.length === 1) return { status };
    if (status === 'unknown' && values.length === 1) return { status };
    if (status === undefined || !SESSION_STATUSES.has(status) || values.length !== 2) {
      throw badReply(`RedisStore: unexpected presentToken reply (${values.length} values, status ${String(status)})`);
    }
    const session = readSessionRecord(sessionId, values[1] as string);
    if (status === 'revoked' || status === 'reuse') {
      // The script already deleted the family and announced it; logging it (another slot) lets feeds
      // that were disconnected just then catch up. If that fails, the ones connected have it anyway.
      this.revocations.applyLocally(ending());
      await Promise.all([this.revocations.write(ending()), this.unindex(session)]).catch(() => undefined);
    }
    return { status: status as 'rotated' | 'retried' | 'revoked' | 'reuse', session };
  }

  async revokeSession(sessionId: string, revocationTtlMs: number): Promise<SessionRecord | null> {
    const revocation = this.sessionRevocation(sessionId, revocationTtlMs);
    // Logged first: if ending the family then fails, its access tokens are refused all the same,
    // and a refresh of it is refused too (the service checks the feed), so the failure fails closed.
    await this.revocations.write(revocation);
    this.revocations.applyLocally(revocation);
    const session = await this.endFamily(sessionId);
    if (session) await this.unindex(session).catch(() => undefined);
    return session;
  }

  async discardSession(sessionId: string): Promise<void> {
    // Straight onto the connection, behind the writes it cleans up after, with no deadline and no
    // timeout: if Redis is stalled it runs when Redis resumes. Only ever sent for a family that was
    // written, so an outage cannot pile these up.
    const session = endedSession(sessionId, await this.send(SCRIPTS.revokeSession, [this.keys.session(sessionId)], [NO_DEADLINE]));
    if (session) await this.client.zrem(this.keys.userIndex(session.userId), sessionId);
  }

  async revokeUser(userId: string, { revokedBefore, retainMs }: UserRevocation): Promise<SessionRecord[]> {
    return this.endSessionsBefore(userId, revokedBefore, revokedBefore + retainMs, retainMs);
  }

  async amendSession(sessionId: string, amendment: SessionAmendment): Promise<SessionRecord | null> {
    const { verification, claims } = amendment;
    const changes: Array<string | number> = [];
    if (verification !== undefined) changes.push(luaFieldNumber('sv'), encodeVerification(verification));
    if (claims !== undefined) changes.push(luaFieldNumber('c'), JSON.stringify(claims.value), luaFieldNumber('cu'), encodeTime(claims.updatedAt));
    const claimsAt = claims === undefined ? '' : Math.floor(claims.updatedAt);
    const values = expectStrings(
      await this.run(SCRIPTS.amendSession, [this.keys.session(sessionId)], (deadline) => [deadline, claimsAt, ...changes]),
      'amendSession',
    );
    if (values[0] === 'amended' && values.length === 2) return readSessionRecord(sessionId, values[1] as string);
    if ((values[0] === 'missing' || values[0] === 'newer') && values.length === 1) return null;
    if (values[0] === 'late') throw late('amendSession');
    throw badReply(`RedisStore: unexpected amendSession reply (${values.length} values, status ${String(values[0])})`);
  }

  async markClaimsChanged(userId: string, { changedAt, retainMs }: ClaimsChange): Promise<void> {
    const revocation: Revocation = { kind: 'c', userId, changedAt: Math.floor(changedAt), until: Math.floor(changedAt) + retainMs };
    await this.revocations.write(revocation);
    this.revocations.applyLocally(revocation);
  }

  async getSession(sessionId: string): Promise<SessionRecord | null> {
    const value = await this.gate.run(() => this.client.get(this.keys.session(sessionId)));
    return value === null ? null : readSessionRecord(sessionId, value);
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const userKey = this.keys.userIndex(userId);
    // The index's seen devices (`~<fingerprint>`, scored below 0) come first and are not sessions.
    const sessionIds = (await this.gate.run(() => this.client.zrange(userKey, 0, -1))).filter((id) => !id.startsWith('~'));
    const found = await Promise.all(sessionIds.map((id) => this.getSession(id)));
    const gone = sessionIds.filter((_, index) => found[index] === null);
    if (gone.length > 0) await this.gate.run(() => this.client.zrem(userKey, ...gone));
    return found.filter((record): record is SessionRecord => record !== null && record.userId === userId).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Login throttling's counters of one kind, under `<prefix>rl:<name>:`: scripts run within this store's budget and circuit. */
  rateLimitStore(name: string): RateLimitCounters {
    return redisRateLimitStore(this.runScript, this.keys.throttling(name));
  }

  /** Login throttling's known-address marks, under `<prefix>rl:known-address:`, within this store's budget and circuit. */
  knownAddresses(ttlMs: number): KnownAddresses {
    return redisKnownAddresses(this.runScript, this.keys.throttling('known-address'), ttlMs);
  }

  /** The circuit breaker's state, why Redis is not answering (when it knows) and the measured clock offset. */
  status(): StoreStatus {
    return { circuit: this.gate.isCircuitOpen ? 'open' : 'closed', problem: this.gate.problem, clockOffsetMs: this.gate.clock.offset };
  }

  openRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
    return this.revocations.open(options);
  }

  async close(): Promise<void> {
    this.scripts.close();
    await this.revocations.close();
  }

  /**
   * Ends the user's oldest live sessions beyond `max`, as one user revocation rather than one per
   * session: every session whose login began before the newest of them was pushed out ends (one that
   * began in that very millisecond too, unless one kept did: then those pushed out end one by one,
   * see sessionsBeyondCap), and the user's "revoked before" mark moves there,
   * remembered as long as their access tokens live. However many sessions a user's logins push out,
   * the log holds one entry for that user. Mirrors MemoryStore.createSession.
   */
  private async endOldestBeyond(userId: string, max: number, revocationTtlMs: number): Promise<void> {
    const beyond = sessionsBeyondCap(await this.listSessions(userId), max);
    if (beyond === null) return;
    await this.endSessionsBefore(userId, beyond.revokedBefore, this.gate.clock.now() + revocationTtlMs, revocationTtlMs);
    for (const record of beyond.oneByOne) await this.revokeSession(record.sessionId, revocationTtlMs);
  }

  /**
   * Ends every session of a user whose login began before `revokedBefore`, logins in flight included
   * (INDEX_SESSION refuses them while the user's mark lives, `markTtlMs`), and has every feed refuse
   * them until `until`. Logged first, so a failure half-way fails closed. revokeUser and the cap both.
   */
  private async endSessionsBefore(userId: string, revokedBefore: number, until: number, markTtlMs: number): Promise<SessionRecord[]> {
    const revocation: Revocation = { kind: 'u', userId, revokedBefore, until };
    await this.revocations.write(revocation);
    this.revocations.applyLocally(revocation);
    const reply = await this.run(SCRIPTS.revokeUser, [this.keys.userIndex(userId), this.keys.userRevoked(userId)], (deadline) => [
      revokedBefore,
      markTtlMs,
      deadline,
    ]);
    if (!Array.isArray(reply) || reply[0] !== 'ok' || !Array.isArray(reply[1])) {
      if (Array.isArray(reply) && reply[0] === 'late') throw late('revokeUser');
      throw badReply('RedisStore: unexpected revokeUser reply');
    }
    const ended = await Promise.all((reply[1] as unknown[]).map((id) => this.endFamily(String(id))));
    return ended.filter((record): record is SessionRecord => record !== null && record.userId === userId);
  }

  /** Deletes a family; resolves with what it was, or `null` when there was none. */
  private async endFamily(sessionId: string): Promise<SessionRecord | null> {
    return endedSession(sessionId, await this.run(SCRIPTS.revokeSession, [this.keys.session(sessionId)], (deadline) => [deadline]));
  }

  /** Takes an ended session out of its user's index (listSessions also prunes what this misses). */
  private async unindex(session: SessionRecord): Promise<void> {
    await this.gate.run(() => this.client.zrem(this.keys.userIndex(session.userId), session.sessionId));
  }

  /** {@link RedisStore.run} for scripts that take no deadline: what the throttling's counters run through. */
  private readonly runScript: ScriptRunner = (s, keys, args) => this.run(s, keys, () => args);

  /** A session's revocation, kept until its access tokens have all expired (`revocationTtlMs` from now, on Redis' clock). */
  private sessionRevocation(sessionId: string, revocationTtlMs: number): Revocation {
    return { kind: 's', sessionId, until: this.gate.clock.now() + revocationTtlMs };
  }

  /** Runs a script within the gate's budget; `args` receives the deadline (Redis clock) for scripts that take one. */
  private run(s: Script, keys: string[], args: (deadline: number) => RedisArg[]): Promise<unknown> {
    return this.scripts.run(s, keys, args);
  }

  /** Sends a script outside the gate (see ScriptClient.send). */
  private send(s: Script, keys: string[], args: RedisArg[]): Promise<unknown> {
    return this.scripts.send(s, keys, args);
  }
}

/** Reads REVOKE_SESSION's reply: the session it ended, or `null` when there was none. */
function endedSession(sessionId: string, reply: unknown): SessionRecord | null {
  const values = expectStrings(reply, 'revokeSession');
  if (values[0] === 'missing') return null;
  if (values[0] === 'revoked' && values.length === 2) return readSessionRecord(sessionId, values[1] as string);
  throw late('revokeSession');
}
