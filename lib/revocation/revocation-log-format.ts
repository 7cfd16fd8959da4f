// The text form of revocations in the Redis log and on the pub/sub channel, and applying them to a set.
import type { RevocationSet } from './revocation-set';

/** The log member for a revoked session: `s <sessionId>`. */
export function sessionEntry(sessionId: string): string {
  return `s ${sessionId}`;
}

/** The log member for a user revoked before a time: `u <revokedBefore> <userId>` (the id last: it may hold spaces). */
export function userEntry(userId: string, revokedBefore: number): string {
  return `u ${revokedBefore} ${userId}`;
}

/** The channel message announcing a log member that matters until `until`: `r <until> <member>`. */
export function revocationMessage(member: string, until: number): string {
  return `r ${until} ${member}`;
}

/** The channel message of a feed's heartbeat: `h <feedId> <sequence>`. */
export function heartbeatMessage(feedId: string, sequence: number): string {
  return `h ${feedId} ${sequence}`;
}

/** A channel message, read. Anything unreadable is `null` and ignored. */
export type ChannelMessage =
  | { kind: 'revocation'; member: string; until: number }
  | { kind: 'heartbeat'; feedId: string; sequence: number };

/** Reads a channel message. */
export function parseMessage(message: string): ChannelMessage | null {
  const first = message.indexOf(' ');
  const second = message.indexOf(' ', first + 1);
  if (first !== 1 || second === -1) return null;
  const head = message.slice(first + 1, second);
  const rest = message.slice(second + 1);
  if (message[0] === 'r') return { kind: 'revocation', until: Number(head), member: rest };
  if (message[0] === 'h') return { kind: 'heartbeat', feedId: head, sequence: Number(rest) };
  return null;
}

/** Applies one log member to a set; an unreadable member changes nothing. */
export function applyEntry(set: RevocationSet, member: string, until: number): void {
  if (!Number.isFinite(until)) return;
  if (member.startsWith('s ')) {
    set.addSession(member.slice(2), until);
    return;
  }
  const space = member.indexOf(' ', 2);
  if (member.startsWith('u ') && space !== -1) {
    const before = Number(member.slice(2, space));
    if (Number.isFinite(before)) set.addUser(member.slice(space + 1), before, until);
  }
}
