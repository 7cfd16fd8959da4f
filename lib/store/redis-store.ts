// RedisStore: the SessionStore contract on Redis (ioredis Redis or Cluster), one script per operation.
import { createHash, type KeyObject } from 'node:crypto';
import { describeValue as describe } from '../describe-value';
import { ErrorCodes, StoreUnavailableError } from '../errors';
import { checkKnownKeys, configurationError, missingOr } from '../option-checks';
import { RedisRevocationFeed, type RevocationSource, type SubscriberLike } from '../revocation/redis-revocation-feed';
import { type ChannelMac, channelMac, signedMessage } from '../revocation/revocation-channel-mac';
import { applyRevocation, type Revocation, revocationBody } from '../revocation/revocation-log-format';
import { type ClockOffset, clockOffset, RedisClock } from './redis-clock';
import { CommandGate, type ConnectionLike } from './redis-command-gate';
import { type ConnectionLease, type ConnectionWatch, watchConnection } from './redis-connection-watch';
import { type RedisKeys, redisKeys } from './redis-keys';
import {
  CREATE_SESSION,
  HEARTBEAT,
  INDEX_SESSION,
  LOAD_LOG_PAGE,
  LOAD_START,
  LOAD_USERS_PAGE,
  LOG_REVOCATION,
  PRESENT_TOKEN,
  PUBLISH_REVOCATION,
  READ_CLOCK,
  REVOKE_SESSION,
  REVOKE_USER,
} from './redis-scripts';
import { encodeSession, encodeTime, readSessionRecord } from './redis-session-layout';
import {
  type NewSession,
  newSessionRecord,
  type PresentationOutcome,
  type RevocationFeed,
  type RevocationFeedOptions,
  type SessionRecord,
  type SessionStore,
  type StoreClock,
  sessionsBeyondCap,
  type TokenPresentation,
  type UserRevocation,
} from './session-store';

/** An argument of a Redis command as {@link RedisClientLike} takes it. */
export type RedisArg = string | number;

/**
 * The part of an ioredis `Redis` or `Cluster` client that RedisStore uses. Any ioredis client fits;
 * the type is structural so this package does not force an ioredis version on you.
 *
 * @example
 * ```ts
 * import { Cluster } from 'ioredis';
 * import { RedisStore, type RedisClientLike } from 'express-refresh-tokens';
 *
 * const client: RedisClientLike = new Cluster([{ host: 'redis-1', port: 6379 }, { host: 'redis-2', port: 6379 }]);
 * const store = new RedisStore({ client, prefix: 'auth:' });
 * ```
 */
export interface RedisClientLike extends ConnectionLike {
  /** Runs a loaded script by its SHA-1 (ioredis' `evalsha`). */
  evalsha(sha: string, numKeys: number, ...args: RedisArg[]): Promise<unknown>;
  /** Loads and runs a script, after a `NOSCRIPT` answer (ioredis' `eval`). */
  eval(script: string, numKeys: number, ...args: RedisArg[]): Promise<unknown>;
  /** Reads a string key (ioredis' `get`). */
  get(key: string): Promise<string | null>;
  /** Reads a range of a sorted set (ioredis' `zrange`). */
  zrange(key: string, start: number, stop: number): Promise<string[]>;
  /** Removes members of a sorted set (ioredis' `zrem`). */
  zrem(key: string, ...members: string[]): Promise<number>;
  /** A new connection with the same options: the revocation feed's subscriber. */
  duplicate(): SubscriberLike;
}

/**
 * Options for {@link RedisStore}.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStore, type RedisStoreOptions } from 'express-refresh-tokens';
 *
 * const options: RedisStoreOptions = {
 *   client: new Redis(process.env.REDIS_URL ?? 'redis://localhost:6379', { lazyConnect: true }),
 *   prefix: 'myapp:auth:', // default 'ert:'
 *   commandTimeoutMs: 500, // answer 503 after half a second rather than wait (default 1000)
 * };
 * const store = new RedisStore(options);
 * ```
 */
export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster`, connected or not (`lazyConnect` works). The store never closes it. Required. */
  client: RedisClientLike;
  /** Prepended to every key, e.g. `'auth:'`; must not hold `{` or `}`. Defaults to `'ert:'`. */
  prefix?: string;
  /**
   * How long one store operation may take, waiting for the connection included, before it fails
   * with a 503, in milliseconds. After such a timeout, operations fail at once until Redis answers
   * a probe again. Defaults to `1000`.
   */
  commandTimeoutMs?: number;
}

interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  createSession: script(CREATE_SESSION),
  indexSession: script(INDEX_SESSION),
  presentToken: script(PRESENT_TOKEN),
  revokeSession: script(REVOKE_SESSION),
  revokeUser: script(REVOKE_USER),
  logRevocation: script(LOG_REVOCATION),
  publishRevocation: script(PUBLISH_REVOCATION),
  loadStart: script(LOAD_START),
  loadLogPage: script(LOAD_LOG_PAGE),
  loadUsersPage: script(LOAD_USERS_PAGE),
  heartbeat: script(HEARTBEAT),
  readClock: script(READ_CLOCK),
};

/** What the login throttling needs of a RedisStore: its client, prefix and time budget, and the watch on the client's connection. */
export interface RateLimitBackend {
  client: { call(command: string, ...args: Array<string | number>): Promise<unknown> };
  prefix: string;
  commandTimeoutMs: number;
  /** Why the client is not answering, for the throttling's error messages. */
  connection: ConnectionWatch | undefined;
}

const rateLimitBackends = new WeakMap<object, RateLimitBackend>();

/** @internal For createAuth's throttling: the Redis behind a RedisStore, or undefined for any other store. */
export function rateLimitBackendOf(store: unknown): RateLimitBackend | undefined {
  return typeof store === 'object' && store !== null ? rateLimitBackends.get(store) : undefined;
}

/** The longest delay setTimeout honours; beyond it Node fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** A deadline that never passes, for the one write that is safe to apply late (discardSession). */
const NO_DEADLINE = Number.MAX_SAFE_INTEGER;

const SESSION_STATUSES = new Set(['rotated', 'retried', 'revoked', 'reuse']);

/**
 * How many revocations one command of a feed's load reads: a page is well under a millisecond of
 * Redis' time, so a log of any size loads without blocking it (SLOWLOG stays empty).
 */
const LOAD_PAGE_SIZE = 1000;

/** The error for a script that refused to run because its caller had already given up. */
function late(operation: string): StoreUnavailableError {
  return new StoreUnavailableError(`RedisStore: ${operation} reached Redis after its deadline and changed nothing`, {
    code: ErrorCodes.ERR_STORE_DEADLINE_EXCEEDED,
  });
}

/** The error for a reply the store cannot read: another program writes its keys, or versions are mixed. */
function badReply(message: string): StoreUnavailableError {
  return new StoreUnavailableError(message, { code: ErrorCodes.ERR_STORE_BAD_REPLY });
}

const OPTION_NAMES = ['client', 'prefix', 'commandTimeoutMs'] as const;

/**
 * A {@link SessionStore} on Redis through ioredis. Its keys (all with a TTL) are named in
 * redis-keys.ts: one string per family, dying at its expiry; per user a sorted-set index and a
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
  private readonly commandTimeoutMs: number;
  private readonly gate: CommandGate;
  /** The store's hold on the watch of the client's `error` events, released by `close()`. */
  private readonly connection: ConnectionLease | undefined;
  private readonly feeds = new Set<RedisRevocationFeed>();
  /** The channel keys of the feeds opened on this store (one, unless auth instances with different refresh secrets share it): what it signs messages with. */
  private readonly signers: Array<{ key: KeyObject; mac: ChannelMac }> = [];
  /**
   * Redis' clock, read on the node of the revocation log: what login starts, revokeUser marks and
   * the epoch are times of, so instances whose clocks differ agree on what a revocation ends (see
   * redis-clock.ts). `now()` applies the offset measured by the last quick reading.
   */
  readonly clock: StoreClock = {
    read: async () => (await this.measureClock()).redisTimeMs,
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
    if (options === null || typeof options !== 'object') {
      throw configurationError('type', missingOr(options), 'RedisStore: options must be an object like `{ client: new Redis(url), prefix: "auth:" }`.');
    }
    checkKnownKeys('', options, OPTION_NAMES, 'RedisStore');
    const { client, prefix = 'ert:', commandTimeoutMs = 1000 } = options;
    if (
      !client ||
      typeof client !== 'object' ||
      typeof (client as RedisClientLike).evalsha !== 'function' ||
      typeof (client as RedisClientLike).duplicate !== 'function'
    ) {
      throw configurationError(
        'type',
        missingOr(client),
        `RedisStore: \`client\` must be an ioredis Redis or Cluster instance; received ${describe(client)}. ` +
          'Pass `{ client: new Redis(process.env.REDIS_URL) }`.',
      );
    }
    if (typeof prefix !== 'string') {
      throw configurationError('type', ErrorCodes.ERR_INVALID_OPTION, `RedisStore: \`prefix\` must be a string such as 'auth:'; received ${describe(prefix)}.`);
    }
    if (/[{}]/.test(prefix)) {
      throw configurationError(
        'type',
        ErrorCodes.ERR_INVALID_OPTION,
        `RedisStore: \`prefix\` must not contain '{' or '}'; received ${describe(prefix)}. ` +
          'The store adds its own hash tags so that the keys of one session share a Redis Cluster slot; remove the braces.',
      );
    }
    if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs <= 0 || commandTimeoutMs > MAX_TIMER_MS) {
      throw configurationError(
        'range',
        ErrorCodes.ERR_INVALID_OPTION,
        `RedisStore: \`commandTimeoutMs\` must be a positive whole number of milliseconds, at most ${MAX_TIMER_MS}; received ${describe(commandTimeoutMs)}.`,
      );
    }
    this.client = client;
    this.keys = redisKeys(prefix);
    this.commandTimeoutMs = commandTimeoutMs;
    // Listens to the client's `error` events, so failures can name their cause (see ConnectionWatch for what that changes).
    this.connection = watchConnection(client);
    const connection = this.connection?.watch;
    this.gate = new CommandGate(client, commandTimeoutMs, new RedisClock(Math.max(5, commandTimeoutMs / 4)), connection);
    const call = (client as { call?: (command: string, ...args: Array<string | number>) => Promise<unknown> }).call;
    if (typeof call === 'function') {
      // The throttling's sender has its own time budget and NOSCRIPT fallback, so it gets the client as it is.
      rateLimitBackends.set(this, { client: { call: (command, ...args) => call.call(client, command, ...args) }, prefix, commandTimeoutMs, connection });
    }
  }

  async createSession(session: NewSession): Promise<SessionRecord | null> {
    const record = newSessionRecord(session);
    const now = encodeTime(session.now);
    const stored = encodeSession({
      u: session.userId,
      c: JSON.stringify(session.claims),
      ua: session.userAgent,
      ca: now,
      lu: now,
      ex: encodeTime(record.expiresAt),
      ad: encodeTime(record.absoluteExpiresAt),
      cur: session.secretHash,
      prev: '',
      gen: '0',
      cl: session.clientHash,
    });
    const created = await this.run(SCRIPTS.createSession, [this.keys.session(session.sessionId)], (deadline) => [stored, record.expiresAt, deadline]);
    if (created !== 'ok') throw late('createSession');
    // Indexed only once the session exists (the two keys may live on different cluster nodes), and
    // refused there when revokeUser ran after this login began: revokeUser marks the user first.
    // A create that failed changed nothing (late scripts refuse); an index that failed leaves a
    // family nobody will be given, so it is discarded.
    const indexed = await this.run(SCRIPTS.indexSession, [this.keys.userIndex(session.userId), this.keys.userRevoked(session.userId)], (deadline) => [
      session.sessionId,
      session.now,
      session.absoluteTtlMs,
      deadline,
    ]).catch((error: unknown) => {
      this.discardSession(session.sessionId).catch(() => undefined);
      throw error;
    });
    const reply = Array.isArray(indexed) ? (indexed as unknown[]) : [];
    const status = reply[0];
    if (status === 'ok') {
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
    const revocation: Revocation = { kind: 's', sessionId, until: this.gate.clock.now() + p.revocationTtlMs };
    const reply = await this.run(SCRIPTS.presentToken, [this.keys.session(sessionId)], (deadline) => [
      `${p.presentedHash} ${p.successorHash} ${p.action} ${p.idleTtlMs} ${p.reuseGraceMs} ${deadline} ${p.generation} ${p.clientHash}`,
      this.keys.channel,
      signedMessage(revocationBody(revocation), this.channelMacs()),
    ]);
    const values = expectStrings(reply, 'presentToken');
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
      this.applyLocally(revocation);
      await Promise.all([this.logRevocation(revocation), this.unindex(session)]).catch(() => undefined);
    }
    return { status: status as 'rotated' | 'retried' | 'revoked' | 'reuse', session };
  }

  async revokeSession(sessionId: string, revocationTtlMs: number): Promise<SessionRecord | null> {
    const revocation: Revocation = { kind: 's', sessionId, until: this.gate.clock.now() + revocationTtlMs };
    // Logged first: if ending the family then fails, its access tokens are refused all the same,
    // and a refresh of it is refused too (the service checks the feed), so the failure fails closed.
    await this.logRevocation(revocation);
    this.applyLocally(revocation);
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

  async getSession(sessionId: string): Promise<SessionRecord | null> {
    const value = await this.gate.run(() => this.client.get(this.keys.session(sessionId)));
    return value === null ? null : readSessionRecord(sessionId, value);
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const userKey = this.keys.userIndex(userId);
    const sessionIds = await this.gate.run(() => this.client.zrange(userKey, 0, -1));
    const found = await Promise.all(sessionIds.map((id) => this.getSession(id)));
    const gone = sessionIds.filter((_, index) => found[index] === null);
    if (gone.length > 0) await this.gate.run(() => this.client.zrem(userKey, ...gone));
    return found.filter((record): record is SessionRecord => record !== null && record.userId === userId).sort((a, b) => a.createdAt - b.createdAt);
  }

  openRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
    if (!this.signers.some((signer) => signer.key.equals(options.channelKey))) {
      this.signers.push({ key: options.channelKey, mac: channelMac(options.channelKey, this.keys.channel) });
    }
    const onClientEnd = (): void => void feed.close();
    const feed: RedisRevocationFeed = new RedisRevocationFeed(this.revocationSource(), options, () => {
      this.feeds.delete(feed);
      this.client.off('end', onClientEnd);
    });
    this.feeds.add(feed);
    // The app closed the client it gave us: the feed's own connection must not keep the process alive.
    this.client.once('end', onClientEnd);
    return feed;
  }

  async close(): Promise<void> {
    this.gate.close();
    this.connection?.release();
    await Promise.all([...this.feeds].map((feed) => feed.close()));
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
    await this.logRevocation(revocation);
    this.applyLocally(revocation);
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

  /**
   * Logs a revocation where feeds load it from, numbered, then announces it on the channel, signed
   * with its number (known only once logged). The announcement is best effort: a feed that misses it
   * notices the gap in the numbers at its next heartbeats and re-loads.
   */
  private async logRevocation(revocation: Revocation): Promise<void> {
    const now = this.gate.clock.now();
    const { log, users, version, epoch } = this.keys;
    const reply = expectStrings(
      await this.run(SCRIPTS.logRevocation, [log, users, version, epoch], (deadline) => [
        revocation.kind,
        revocation.kind === 's' ? revocation.sessionId : revocation.userId,
        revocation.kind === 'u' ? revocation.revokedBefore : '',
        revocation.until,
        deadline,
        Math.max(1, revocation.until - now),
      ]),
      'logRevocation',
    );
    if (reply[0] === 'late') throw late('revocation log');
    if (reply[0] !== 'ok' || reply.length !== 3) throw badReply('RedisStore: unexpected logRevocation reply');
    const macs = this.channelMacs();
    if (macs.length === 0) return; // no feed opened here: nobody could check a signature of ours
    const message = signedMessage(revocationBody(revocation, { version: Number(reply[1]), epoch: reply[2] as string }), macs);
    await this.run(SCRIPTS.publishRevocation, [version], () => [this.keys.channel, message]).catch(() => undefined);
  }

  /** What this store signs channel messages with. */
  private channelMacs(): ChannelMac[] {
    return this.signers.map((signer) => signer.mac);
  }

  /**
   * Reads the revocations that still matter, LOAD_PAGE_SIZE per command, handing each page to
   * `apply`: the log by score (resuming at the last score read, past the entries of it already
   * read), then the users hash by HSCAN cursor.
   */
  private async loadRevocations(apply: (page: Revocation[]) => void): Promise<void> {
    let from = '';
    let offset = 0;
    let upTo = '';
    for (;;) {
      const reply = await this.run(SCRIPTS.loadLogPage, [this.keys.log], () => [from, offset, LOAD_PAGE_SIZE, upTo]);
      if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) throw badReply('RedisStore: unexpected loadLogPage reply');
      upTo = String(reply[0]);
      const entries = pairs(reply[1]);
      apply(entries.map(([sessionId, until]) => ({ kind: 's', sessionId, until: Number(until) })));
      const last = entries.at(-1)?.[1];
      if (entries.length < LOAD_PAGE_SIZE || last === undefined) break;
      const atLast = entries.filter(([, until]) => until === last).length;
      offset = last === from ? offset + atLast : atLast;
      from = last;
    }
    let cursor = '0';
    do {
      const reply = await this.run(SCRIPTS.loadUsersPage, [this.keys.users], () => [cursor, LOAD_PAGE_SIZE]);
      if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) throw badReply('RedisStore: unexpected loadUsersPage reply');
      cursor = String(reply[0]);
      apply(userRevocations(reply[1]));
    } while (cursor !== '0');
  }

  /** Applies a revocation to this process's feeds at once, without waiting for the channel. */
  private applyLocally(revocation: Revocation): void {
    for (const feed of this.feeds) applyRevocation(feed.set, revocation);
  }

  /** The narrow view of this store that a revocation feed gets. */
  private revocationSource(): RevocationSource {
    // Where this feed's heartbeats sweep the users hash next (see HEARTBEAT).
    let sweepCursor = '0';
    return {
      channel: this.keys.channel,
      waitMs: this.commandTimeoutMs,
      problem: () => this.gate.problem,
      createSubscriber: () => this.client.duplicate(),
      loadStart: async (epochNonce, retainMs) => {
        const sentAt = Date.now();
        const reply = expectStrings(await this.run(SCRIPTS.loadStart, [this.keys.epoch, this.keys.version], () => [epochNonce, retainMs]), 'loadStart');
        if (reply.length !== 3) throw badReply('RedisStore: unexpected loadStart reply');
        this.gate.clock.sample(Number(reply[1]), sentAt, Date.now());
        return { epoch: reply[0] as string, version: Number(reply[2]) };
      },
      loadRevocations: (apply) => this.loadRevocations(apply),
      heartbeat: async (epoch, retainMs, message) => {
        const sentAt = Date.now();
        const { epoch: epochKey, version, users, channel } = this.keys;
        const reply = expectStrings(
          await this.run(SCRIPTS.heartbeat, [epochKey, version, users], (deadline) => [epoch, retainMs, channel, message, deadline, sweepCursor]),
          'heartbeat',
        );
        this.gate.clock.sample(Number(reply[1]), sentAt, Date.now());
        if (reply[0] !== 'ok') return { status: reply[0] === 'changed' ? 'changed' : 'late' };
        if (reply.length !== 4) throw badReply('RedisStore: unexpected heartbeat reply');
        sweepCursor = reply[3] as string;
        return { status: 'ok', version: Number(reply[2]) };
      },
    };
  }

  /**
   * Reads Redis' clock (on the node of the revocation log) and measures this process's offset from
   * it: the reading keeps the deadlines' offset current and warns once (`ERT_CLOCK_SKEW`) when the
   * clocks differ by more than a second. The one measurement a health check would report.
   */
  private async measureClock(): Promise<ClockOffset & { redisTimeMs: number }> {
    const sentAt = Date.now();
    const reply = await this.gate.run(() => this.send(SCRIPTS.readClock, [this.keys.epoch], []));
    const receivedAt = Date.now();
    const [seconds, microseconds] = Array.isArray(reply) && reply.length === 2 ? reply.map(Number) : [];
    if (!Number.isInteger(seconds) || !Number.isInteger(microseconds)) throw badReply('RedisStore: unexpected TIME reply');
    const redisTimeMs = (seconds as number) * 1000 + (microseconds as number) / 1000;
    this.gate.clock.sample(redisTimeMs, sentAt, receivedAt);
    return { redisTimeMs, ...clockOffset(redisTimeMs, sentAt, receivedAt) };
  }

  /** Runs a script within the gate's budget; `args` receives the deadline (Redis clock) for scripts that take one. */
  private run(s: Script, keys: string[], args: (deadline: number) => RedisArg[]): Promise<unknown> {
    return this.gate.run((deadline) => this.send(s, keys, args(deadline)));
  }

  /** Sends a script by EVALSHA, loading it with EVAL only when Redis answers NOSCRIPT. */
  private send(s: Script, keys: string[], args: RedisArg[]): Promise<unknown> {
    return this.client.evalsha(s.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.client.eval(s.source, keys.length, ...keys, ...args);
    });
  }
}

/** Reads REVOKE_SESSION's reply: the session it ended, or `null` when there was none. */
function endedSession(sessionId: string, reply: unknown): SessionRecord | null {
  const values = expectStrings(reply, 'revokeSession');
  if (values[0] === 'missing') return null;
  if (values[0] === 'revoked' && values.length === 2) return readSessionRecord(sessionId, values[1] as string);
  throw late('revokeSession');
}

/** Pairs of a flat Redis reply: `[a, b, c, d]` → `[[a, b], [c, d]]`. */
function pairs(flat: unknown[]): Array<[string, string]> {
  const result: Array<[string, string]> = [];
  for (let index = 0; index + 1 < flat.length; index += 2) result.push([String(flat[index]), String(flat[index + 1])]);
  return result;
}

/** The users hash's `userId, 'before until'` pairs as revocations. */
function userRevocations(flat: unknown[]): Revocation[] {
  return pairs(flat).map(([userId, entry]) => {
    const [before, until] = entry.split(' ');
    return { kind: 'u', userId, revokedBefore: Number(before), until: Number(until) };
  });
}

function expectStrings(reply: unknown, operation: string): string[] {
  if (!Array.isArray(reply)) throw badReply(`RedisStore: unexpected ${operation} reply`);
  return reply.map((value) => (value === null || value === false ? '' : String(value)));
}
