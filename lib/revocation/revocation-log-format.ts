// The text form of revocations on the pub/sub channel, and applying a revocation to a set.
//
// Messages: `r <version> <until> s <sessionId>` and `r <version> <until> u <revokedBefore> <userId>`
// (the version is `-` for the announcement a script makes before the entry is logged, ids last since
// a user id may hold spaces); heartbeats `h <feedId> <sequence> <version>`. LOG_REVOCATION and
// HEARTBEAT add the version in Lua to what is built here.
import type { RevocationSet } from './revocation-set';

/** One revocation: a session, or every session of a user whose login began before a time. */
export type Revocation = { kind: 's'; sessionId: string; until: number } | { kind: 'u'; userId: string; revokedBefore: number; until: number };

/** What follows `r <version>` in a revocation message. */
export function messageSuffix(revocation: Revocation): string {
  return revocation.kind === 's' ? ` ${revocation.until} s ${revocation.sessionId}` : ` ${revocation.until} u ${revocation.revokedBefore} ${revocation.userId}`;
}

/** A revocation message without a version (announced before it is logged). */
export function unversionedMessage(revocation: Revocation): string {
  return `r -${messageSuffix(revocation)}`;
}

/** The start of a feed's heartbeat message; HEARTBEAT appends the version. */
export function heartbeatMessage(feedId: string, sequence: number): string {
  return `h ${feedId} ${sequence}`;
}

/** A channel message, read. Anything unreadable is `null` and ignored. */
export type ChannelMessage =
  | { kind: 'revocation'; version: number | undefined; revocation: Revocation }
  | { kind: 'heartbeat'; feedId: string; sequence: number; version: number };

/** Splits off the first `count` space-separated words; the rest (which may hold spaces) comes last. */
function words(text: string, count: number): string[] | null {
  const parts: string[] = [];
  let start = 0;
  for (let index = 0; index < count; index++) {
    const space = text.indexOf(' ', start);
    if (space === -1) return null;
    parts.push(text.slice(start, space));
    start = space + 1;
  }
  parts.push(text.slice(start));
  return parts;
}

/** Reads a channel message. */
export function parseMessage(message: string): ChannelMessage | null {
  if (message.startsWith('h ')) {
    const [, feedId, sequence, version] = words(message, 3) ?? [];
    return feedId === undefined ? null : { kind: 'heartbeat', feedId, sequence: Number(sequence), version: Number(version) };
  }
  if (!message.startsWith('r ')) return null;
  const head = words(message, 4);
  if (!head) return null;
  const [, versionText, untilText, kind, rest] = head as [string, string, string, string, string];
  const version = versionText === '-' ? undefined : Number(versionText);
  const until = Number(untilText);
  if (kind === 's') return { kind: 'revocation', version, revocation: { kind: 's', sessionId: rest, until } };
  const user = words(rest, 1);
  if (kind !== 'u' || !user) return null;
  return { kind: 'revocation', version, revocation: { kind: 'u', userId: user[1] as string, revokedBefore: Number(user[0]), until } };
}

/** Applies one revocation to a set; an unreadable one changes nothing. */
export function applyRevocation(set: RevocationSet, revocation: Revocation): void {
  if (!Number.isFinite(revocation.until)) return;
  if (revocation.kind === 's') set.addSession(revocation.sessionId, revocation.until);
  else if (Number.isFinite(revocation.revokedBefore)) set.addUser(revocation.userId, revocation.revokedBefore, revocation.until);
}
