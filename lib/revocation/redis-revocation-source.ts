// The revocation log in Redis: RedisStore's writes to it, the feeds' reads of it, and the clock readings they take.
import type { KeyObject } from 'node:crypto';
import type { RedisKeys } from '../redis/keys';
import { badReply, expectStrings, late } from '../redis/replies';
import type { Script } from '../redis/script';
import type { ScriptArg, ScriptClient } from '../redis/script-client';
import { REVOCATION_SCRIPTS } from './redis-log-scripts';
import { RedisRevocationFeed, type RevocationSource, type SubscriberLike } from './redis-revocation-feed';
import { type ChannelMac, channelMac, signedMessage } from './revocation-channel-mac';
import type { RevocationFeed, RevocationFeedOptions } from './revocation-feed';
import { applyRevocation, type Revocation, revocationBody } from './revocation-message-codec';

/** The scripts of the revocation log (redis-log-scripts.ts), compiled. */
export type RevocationScripts = typeof REVOCATION_SCRIPTS;

/** What the log needs: its keys, scripts, script runner, clock and client. */
export interface RevocationBackend {
  readonly keys: RedisKeys;
  readonly scripts: RevocationScripts;
  /** How long one command may take (the store's `commandTimeoutMs`). */
  readonly waitMs: number;
  /** Runs a script within the store's budget; `args` receives the deadline (Redis clock). */
  run(s: Script, keys: string[], args: (deadline: number) => ScriptArg[]): Promise<unknown>;
  /** The store's reading of Redis' clock: sampled by every reply that carries Redis' time. */
  readonly clock: { now(): number; sample(redisTimeMs: number, sentAt: number, receivedAt: number): void };
  /** Why the store's client is not answering, when it knows. */
  problem(): unknown;
  /** A new connection for a feed to subscribe on. */
  createSubscriber(): SubscriberLike;
  /** Calls `listener` once the app closes the store's client; `off` undoes it. */
  onClientEnd(listener: () => void): void;
  offClientEnd(listener: () => void): void;
}

/**
 * How many revocations one command of a feed's load reads: a page is well under a millisecond of
 * Redis' time, so a log of any size loads without blocking it (SLOWLOG stays empty).
 */
const LOAD_PAGE_SIZE = 1000;

/**
 * A RedisStore's revocation log: it logs and announces revocations (signed with the channel keys of
 * the feeds opened here), applies them at once to this process's feeds, and is the source those
 * feeds load from and send heartbeats through.
 */
export class RedisRevocationLog {
  private readonly feeds = new Set<RedisRevocationFeed>();
  /** The channel keys of the feeds opened here (one, unless auth instances with different refresh secrets share the store): what messages are signed with. */
  private readonly signers: Array<{ key: KeyObject; mac: ChannelMac }> = [];

  constructor(private readonly backend: RevocationBackend) {}

  /**
   * The log on a client's scripts (RedisStore's, or a verifier's): `client` gives each feed its own
   * subscriber connection (`duplicate()`), and says when the app closed it.
   */
  static on(
    scripts: ScriptClient,
    client: { duplicate(): SubscriberLike; once(event: 'end', listener: () => void): unknown; off(event: 'end', listener: () => void): unknown },
    keys: RedisKeys,
    waitMs: number,
  ): RedisRevocationLog {
    return new RedisRevocationLog({
      keys,
      scripts: REVOCATION_SCRIPTS,
      waitMs,
      run: (s, scriptKeys, args) => scripts.run(s, scriptKeys, args),
      clock: scripts.gate.clock,
      problem: () => scripts.gate.problem,
      createSubscriber: () => client.duplicate(),
      onClientEnd: (listener) => client.once('end', listener),
      offClientEnd: (listener) => client.off('end', listener),
    });
  }

  /** Opens a feed on this log; it closes by itself when the app closes the store's client. */
  open(options: RevocationFeedOptions): RevocationFeed {
    if (!this.signers.some((signer) => signer.key.equals(options.channelKey))) {
      this.signers.push({ key: options.channelKey, mac: channelMac(options.channelKey, this.backend.keys.channel) });
    }
    const onClientEnd = (): void => void feed.close();
    const feed: RedisRevocationFeed = new RedisRevocationFeed(this.source(), options, () => {
      this.feeds.delete(feed);
      this.backend.offClientEnd(onClientEnd);
    });
    this.feeds.add(feed);
    // The app closed the client it gave us: the feed's own connection must not keep the process alive.
    this.backend.onClientEnd(onClientEnd);
    return feed;
  }

  /** Closes every feed opened here. */
  async close(): Promise<void> {
    await Promise.all([...this.feeds].map((feed) => feed.close()));
  }

  /** Applies a revocation to this process's feeds at once, without waiting for the channel. */
  applyLocally(revocation: Revocation): void {
    for (const feed of this.feeds) applyRevocation(feed.set, revocation);
  }

  /** The signed, unnumbered announcement of a revocation a script publishes itself (presentToken's). */
  announcement(revocation: Revocation): string {
    return signedMessage(revocationBody(revocation), this.channelMacs());
  }

  /**
   * Logs a revocation where feeds load it from, numbered, then announces it on the channel, signed
   * with its number (known only once logged). The announcement is best effort: a feed that misses it
   * notices the gap in the numbers at its next heartbeats and re-loads.
   */
  async write(revocation: Revocation): Promise<void> {
    const { keys, scripts, run } = this.backend;
    const now = this.backend.clock.now();
    const reply = expectStrings(
      await run(scripts.logRevocation, [keys.log, keys.users, keys.version, keys.epoch, keys.claims], (deadline) => [
        revocation.kind,
        revocation.kind === 's' ? revocation.sessionId : revocation.userId,
        revocation.kind === 'u' ? revocation.revokedBefore : revocation.kind === 'c' ? revocation.changedAt : '',
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
    await run(scripts.publishRevocation, [keys.version], () => [keys.channel, message]).catch(() => undefined);
  }

  /**
   * Reads Redis' clock (on the node of the revocation log), epoch ms with microseconds: the reading
   * keeps the deadlines' offset current and warns once (`ERT_CLOCK_SKEW`) when the clocks differ by
   * more than a second.
   */
  async readClock(): Promise<number> {
    const sentAt = Date.now();
    const reply = await this.backend.run(this.backend.scripts.readClock, [this.backend.keys.epoch], () => []);
    const receivedAt = Date.now();
    const [seconds, microseconds] = Array.isArray(reply) && reply.length === 2 ? reply.map(Number) : [];
    if (!Number.isInteger(seconds) || !Number.isInteger(microseconds)) throw badReply('RedisStore: unexpected TIME reply');
    const redisTimeMs = (seconds as number) * 1000 + (microseconds as number) / 1000;
    this.backend.clock.sample(redisTimeMs, sentAt, receivedAt);
    return redisTimeMs;
  }

  /** What this log signs channel messages with. */
  private channelMacs(): ChannelMac[] {
    return this.signers.map((signer) => signer.mac);
  }

  /**
   * Reads the revocations that still matter, LOAD_PAGE_SIZE per command, handing each page to
   * `apply`: the log by score (resuming at the last score read, past the entries of it already
   * read), then the users hash and the claims hash by HSCAN cursor.
   */
  private async loadRevocations(apply: (page: Revocation[]) => void): Promise<void> {
    const { keys, scripts, run } = this.backend;
    let from = '';
    let offset = 0;
    let upTo = '';
    for (;;) {
      const reply = await run(scripts.loadLogPage, [keys.log], () => [from, offset, LOAD_PAGE_SIZE, upTo]);
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
    for (const [hash, kind] of [
      [keys.users, 'u'],
      [keys.claims, 'c'],
    ] as const) {
      let cursor = '0';
      do {
        const reply = await run(scripts.loadUsersPage, [hash], () => [cursor, LOAD_PAGE_SIZE]);
        if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) throw badReply('RedisStore: unexpected loadUsersPage reply');
        cursor = String(reply[0]);
        apply(userMarks(reply[1], kind));
      } while (cursor !== '0');
    }
  }

  /** The narrow view of the log that a feed gets. */
  private source(): RevocationSource {
    const { keys, scripts, run, clock } = this.backend;
    // Where this feed's heartbeats sweep the users and claims hashes next (see HEARTBEAT).
    let sweepCursor = '0';
    let claimsSweepCursor = '0';
    return {
      channel: keys.channel,
      waitMs: this.backend.waitMs,
      problem: () => this.backend.problem(),
      createSubscriber: () => this.backend.createSubscriber(),
      loadStart: async (epochNonce, retainMs) => {
        const sentAt = Date.now();
        const reply = expectStrings(await run(scripts.loadStart, [keys.epoch, keys.version], () => [epochNonce, retainMs]), 'loadStart');
        if (reply.length !== 3) throw badReply('RedisStore: unexpected loadStart reply');
        clock.sample(Number(reply[1]), sentAt, Date.now());
        return { epoch: reply[0] as string, version: Number(reply[2]) };
      },
      loadRevocations: (apply) => this.loadRevocations(apply),
      heartbeat: async (epoch, retainMs, message) => {
        const sentAt = Date.now();
        const reply = expectStrings(
          await run(scripts.heartbeat, [keys.epoch, keys.version, keys.users, keys.claims], (deadline) => [
            epoch,
            retainMs,
            keys.channel,
            message,
            deadline,
            sweepCursor,
            claimsSweepCursor,
          ]),
          'heartbeat',
        );
        clock.sample(Number(reply[1]), sentAt, Date.now());
        if (reply[0] !== 'ok') return { status: reply[0] === 'changed' ? 'changed' : 'late' };
        if (reply.length !== 5) throw badReply('RedisStore: unexpected heartbeat reply');
        sweepCursor = reply[3] as string;
        claimsSweepCursor = reply[4] as string;
        return { status: 'ok', version: Number(reply[2]) };
      },
    };
  }
}

/** Pairs of a flat Redis reply: `[a, b, c, d]` → `[[a, b], [c, d]]`. */
function pairs(flat: unknown[]): Array<[string, string]> {
  const result: Array<[string, string]> = [];
  for (let index = 0; index + 1 < flat.length; index += 2) result.push([String(flat[index]), String(flat[index + 1])]);
  return result;
}

/** The `userId, '<time> <until>'` pairs of the users hash (`u`: revoked before) or the claims hash (`c`: changed at) as revocations. */
function userMarks(flat: unknown[], kind: 'u' | 'c'): Revocation[] {
  return pairs(flat).map(([userId, entry]) => {
    const [time, until] = entry.split(' ');
    return kind === 'u' ? { kind, userId, revokedBefore: Number(time), until: Number(until) } : { kind, userId, changedAt: Number(time), until: Number(until) };
  });
}
