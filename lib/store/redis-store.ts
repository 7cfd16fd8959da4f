// RedisStore: the SessionStore contract on Redis (ioredis Redis or Cluster), one script per operation.
import { createHash } from 'node:crypto';
import { describeValue as describe } from '../describe-value';
import { StoreUnavailableError } from '../errors';
import {
  CREATE_SESSION,
  INDEX_SESSION,
  PRESENT_TOKEN,
  REVOKE_SESSION,
  SESSION_FIELDS,
} from './redis-scripts';
import {
  newSessionRecord,
  type NewSession,
  type PresentationOutcome,
  type SessionRecord,
  type SessionStore,
  type TokenPresentation,
} from './session-store';

type RedisArg = string | number;

/**
 * The part of an ioredis `Redis` or `Cluster` client that RedisStore uses. Any ioredis client fits;
 * the type is structural so this package does not force an ioredis version on you.
 */
export interface RedisClientLike {
  /** ioredis connection status; commands are only sent while it is `'ready'`. */
  readonly status: string;
  evalsha(sha: string, numKeys: number, ...args: RedisArg[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: RedisArg[]): Promise<unknown>;
  exists(...keys: string[]): Promise<number>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  smembers(key: string): Promise<string[]>;
  srem(key: string, ...members: string[]): Promise<number>;
}

/** Options for {@link RedisStore}. */
export interface RedisStoreOptions {
  /** A connected ioredis `Redis` or `Cluster`. The store never closes it. Required. */
  client: RedisClientLike;
  /** Prepended to every key, e.g. `'auth:'`. Defaults to `'ert:'`. */
  prefix?: string;
  /**
   * How long one store operation may take before it fails with a 503, in milliseconds. While the
   * client is not connected, operations fail at once rather than wait in ioredis' offline queue.
   * Defaults to `1000`.
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
};

/** The longest delay setTimeout honours; beyond it Node fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

const PRESENTATION_STATUSES = new Set(['rotated', 'retried', 'revoked', 'reuse']);

/**
 * A {@link SessionStore} on Redis through ioredis. Families live in one hash per session
 * (`<prefix>session:{<id>}`) whose TTL is the family's expiry; revocation markers in
 * `<prefix>revoked:{<id>}` (same hash slot); each user's session ids in `<prefix>user:{<userId>}`.
 * Only hashes of refresh secrets are stored. Every key carries a TTL.
 *
 * @example
 * const store = new RedisStore({ client: new Redis(process.env.REDIS_URL), prefix: 'auth:' });
 */
export class RedisStore implements SessionStore {
  private readonly client: RedisClientLike;
  private readonly prefix: string;
  private readonly commandTimeoutMs: number;

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('RedisStore: options must be an object like `{ client: new Redis(url), prefix: "auth:" }`.');
    }
    const { client, prefix = 'ert:', commandTimeoutMs = 1000 } = options;
    if (!client || typeof client !== 'object' || typeof (client as RedisClientLike).evalsha !== 'function') {
      throw new TypeError(
        `RedisStore: \`client\` must be an ioredis Redis or Cluster instance; received ${describe(client)}. ` +
          'Pass `{ client: new Redis(process.env.REDIS_URL) }`.',
      );
    }
    if (typeof prefix !== 'string') {
      throw new TypeError(`RedisStore: \`prefix\` must be a string such as 'auth:'; received ${describe(prefix)}.`);
    }
    if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs <= 0 || commandTimeoutMs > MAX_TIMER_MS) {
      throw new RangeError(
        `RedisStore: \`commandTimeoutMs\` must be a positive whole number of milliseconds, at most ${MAX_TIMER_MS}; received ${describe(commandTimeoutMs)}.`,
      );
    }
    this.client = client;
    this.prefix = prefix;
    this.commandTimeoutMs = commandTimeoutMs;
  }

  async createSession(session: NewSession): Promise<SessionRecord> {
    const record = newSessionRecord(session);
    await this.run(SCRIPTS.createSession, [this.sessionKey(session.sessionId)], [
      session.userId,
      JSON.stringify(session.claims),
      session.userAgent,
      session.secretHash,
      session.now,
      record.expiresAt,
      record.absoluteExpiresAt,
    ]);
    // Indexed only once the session exists: listSessions prunes ids whose session it cannot find,
    // and the two keys may live on different cluster nodes, so the order must be guaranteed here.
    await this.run(SCRIPTS.indexSession, [this.userKey(session.userId)], [session.sessionId, session.absoluteTtlMs]);
    return record;
  }

  async presentToken(sessionId: string, p: TokenPresentation): Promise<PresentationOutcome> {
    const reply = await this.run(SCRIPTS.presentToken, [this.sessionKey(sessionId), this.revokedKey(sessionId)], [
      p.presentedHash,
      p.successorHash,
      p.now,
      p.action,
      p.idleTtlMs,
      p.reuseGraceMs,
      p.revokedMarkerTtlMs,
    ]);
    const values = expectStrings(reply, 'presentToken');
    const status = values[0];
    if (status === 'missing' && values.length === 1) return { status };
    if (status === 'unknown' && values.length === 4) {
      return {
        status,
        chain: { currentHash: values[1] as string, previousHash: values[2] as string, rotations: Number(values[3]) },
      };
    }
    if (status !== undefined && PRESENTATION_STATUSES.has(status) && values.length === 1 + SESSION_FIELDS.length) {
      return {
        status: status as 'rotated' | 'retried' | 'revoked' | 'reuse',
        session: toRecord(sessionId, values.slice(1)),
      };
    }
    throw new StoreUnavailableError(`RedisStore: unexpected presentToken reply (${values.length} values, status ${String(status)})`);
  }

  async revokeSession(sessionId: string, revokedMarkerTtlMs: number): Promise<SessionRecord | null> {
    const reply = await this.run(SCRIPTS.revokeSession, [this.sessionKey(sessionId), this.revokedKey(sessionId)], [
      revokedMarkerTtlMs,
    ]);
    if (reply === null) return null;
    const record = toRecord(sessionId, expectStrings(reply, 'revokeSession', SESSION_FIELDS.length));
    // The user index lives on another hash slot; if this cleanup fails, listSessions prunes it later.
    await this.bounded(() => this.client.srem(this.userKey(record.userId), sessionId)).catch(() => undefined);
    return record;
  }

  async getSession(sessionId: string): Promise<SessionRecord | null> {
    const values = await this.bounded(() => this.client.hmget(this.sessionKey(sessionId), ...SESSION_FIELDS));
    return values[0] === null || values[0] === undefined ? null : toRecord(sessionId, values);
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const userKey = this.userKey(userId);
    const sessionIds = await this.bounded(() => this.client.smembers(userKey));
    const found = await Promise.all(sessionIds.map((id) => this.getSession(id)));
    const gone = sessionIds.filter((_, index) => found[index] === null);
    if (gone.length > 0) await this.bounded(() => this.client.srem(userKey, ...gone));
    return found
      .filter((record): record is SessionRecord => record !== null && record.userId === userId)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    return (await this.bounded(() => this.client.exists(this.revokedKey(sessionId)))) === 1;
  }

  private sessionKey(sessionId: string): string {
    return `${this.prefix}session:{${sessionId}}`;
  }

  private revokedKey(sessionId: string): string {
    return `${this.prefix}revoked:{${sessionId}}`;
  }

  private userKey(userId: string): string {
    return `${this.prefix}user:{${userId}}`;
  }

  /** Runs a script by EVALSHA, loading it with EVAL only when Redis answers NOSCRIPT. */
  private run(s: Script, keys: string[], args: RedisArg[]): Promise<unknown> {
    return this.bounded(async () => {
      try {
        return await this.client.evalsha(s.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return this.client.eval(s.source, keys.length, ...keys, ...args);
      }
    });
  }

  /**
   * Sends a command only while the client is connected, and gives up after `commandTimeoutMs`:
   * an outage becomes a prompt `StoreUnavailableError`, never a request stuck in a retry queue.
   */
  private bounded<T>(command: () => Promise<T>): Promise<T> {
    if (this.client.status !== 'ready') {
      return Promise.reject(new StoreUnavailableError(`Redis is not connected (status: ${this.client.status})`));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new StoreUnavailableError(`Redis did not answer within ${this.commandTimeoutMs}ms`)),
        this.commandTimeoutMs,
      );
      command().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof StoreUnavailableError ? error : new StoreUnavailableError('Redis command failed', { cause: error }));
        },
      );
    });
  }
}

function expectStrings(reply: unknown, operation: string, length?: number): string[] {
  if (!Array.isArray(reply) || (length !== undefined && reply.length !== length)) {
    throw new StoreUnavailableError(`RedisStore: unexpected ${operation} reply`);
  }
  return reply.map((value) => (value === null || value === false ? '' : String(value)));
}

/** Builds a record from SESSION_FIELDS values (strings, as Redis returns them). */
function toRecord(sessionId: string, values: (string | null)[]): SessionRecord {
  const [userId, claims, userAgent, createdAt, lastUsedAt, expiresAt, absoluteExpiresAt] = values;
  return {
    sessionId,
    userId: userId ?? '',
    claims: parseClaims(claims),
    userAgent: userAgent ?? '',
    createdAt: Number(createdAt),
    lastUsedAt: Number(lastUsedAt),
    expiresAt: Number(expiresAt),
    absoluteExpiresAt: Number(absoluteExpiresAt),
  };
}

function parseClaims(json: string | null | undefined): Record<string, unknown> {
  const parsed: unknown = json ? JSON.parse(json) : {};
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}
