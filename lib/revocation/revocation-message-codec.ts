// The text of revocation-channel messages, and applying a revocation to a set, bounded to what can still matter.
//
// Message bodies (published with their tags: revocation-channel-mac.ts):
// - `r <version>@<epoch> <until> s <sessionId>`, `r <version>@<epoch> <until> u <revokedBefore> <userId>` and
//   `r <version>@<epoch> <until> c <changedAt> <userId>` (a user's claims changed: `updateClaims` with `immediate`):
//   a logged revocation, numbered within the data generation (epoch) it was logged in;
// - `r - <until> s <sessionId>`: announced by PRESENT_TOKEN before it is logged, so not numbered;
// - `h <feedId> <sequence>`: a feed's heartbeat.
// Ids come last, since a user id may hold spaces; the tags follow the message's last space.
import { MAX_ACCESS_TTL_MS, REVOCATION_LEEWAY_MS } from '../tokens/token-lifetimes';
import type { RevocationSet } from './revocation-set';

/**
 * One revocation: a session (`s`), every session of a user whose login began before a time (`u`), or
 * every access token of a user whose claims date from before a time (`c`: the claims changed then).
 */
export type Revocation =
  | { kind: 's'; sessionId: string; until: number }
  | { kind: 'u'; userId: string; revokedBefore: number; until: number }
  | { kind: 'c'; userId: string; changedAt: number; until: number };

/** Where a logged revocation stands: its number, counted within the data generation it was logged in. */
export interface LogPosition {
  version: number;
  epoch: string;
}

/** The body of a revocation message: numbered when it was logged at `position`, unnumbered when announced before. */
export function revocationBody(revocation: Revocation, position?: LogPosition): string {
  const head = position === undefined ? 'r -' : `r ${position.version}@${position.epoch}`;
  switch (revocation.kind) {
    case 's':
      return `${head} ${revocation.until} s ${revocation.sessionId}`;
    case 'u':
      return `${head} ${revocation.until} u ${revocation.revokedBefore} ${revocation.userId}`;
    case 'c':
      return `${head} ${revocation.until} c ${revocation.changedAt} ${revocation.userId}`;
  }
}

/** The body of a feed's heartbeat message. */
export function heartbeatBody(feedId: string, sequence: number): string {
  return `h ${feedId} ${sequence}`;
}

/** A message body, read. Anything unreadable is `null` and ignored. */
export type ChannelMessage =
  | { kind: 'revocation'; position: LogPosition | undefined; revocation: Revocation }
  | { kind: 'heartbeat'; feedId: string; sequence: number };

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

/** Reads `<version>@<epoch>` (or `-`); `null` when it is neither. */
function readPosition(text: string): LogPosition | undefined | null {
  if (text === '-') return undefined;
  const at = text.indexOf('@');
  const version = Number(text.slice(0, at));
  return at > 0 && Number.isSafeInteger(version) && version > 0 ? { version, epoch: text.slice(at + 1) } : null;
}

/** Reads a message body (its tags already checked and cut off). */
export function parseBody(body: string): ChannelMessage | null {
  if (body.startsWith('h ')) {
    const [, feedId, sequence] = words(body, 2) ?? [];
    const number = Number(sequence);
    return feedId === undefined || !Number.isSafeInteger(number) ? null : { kind: 'heartbeat', feedId, sequence: number };
  }
  if (!body.startsWith('r ')) return null;
  const head = words(body, 4);
  if (!head) return null;
  const [, positionText, untilText, kind, rest] = head as [string, string, string, string, string];
  const position = readPosition(positionText);
  if (position === null) return null;
  const until = Number(untilText);
  if (kind === 's') return { kind: 'revocation', position, revocation: { kind: 's', sessionId: rest, until } };
  const user = words(rest, 1);
  if (!user) return null;
  const [time, userId] = user as [string, string];
  if (kind === 'u') return { kind: 'revocation', position, revocation: { kind: 'u', userId, revokedBefore: Number(time), until } };
  if (kind === 'c') return { kind: 'revocation', position, revocation: { kind: 'c', userId, changedAt: Number(time), until } };
  return null;
}

/**
 * How far clocks may disagree before a revocation's end is cut short: a revocation's `until` is
 * another instance's clock (Redis' through the offset it measured), and instances further apart
 * than a second are warned about (ERT_CLOCK_SKEW).
 */
const CLOCK_SLACK_MS = 60_000;

/**
 * The longest a session revocation can matter: until the last access token of the session has
 * expired, and none lives longer than the library's longest `accessToken.ttl` (whatever this
 * instance's own ttl is, so an instance with a shorter one still honours another's longer one).
 */
const LONGEST_SESSION_REVOCATION_MS = MAX_ACCESS_TTL_MS + REVOCATION_LEEWAY_MS + CLOCK_SLACK_MS;

/**
 * A revocation as far as it can still matter at `now`, or `null` when nothing it revokes can still be
 * valid (it lapsed, or it is unreadable): a session's kept at most as long as the longest access
 * token lives; a user's at most `retainMs` (the longest a session lives, plus an access token's
 * life), its "revoked before" mark no later than now; a claims change like a session's, its time no later than now (each plus CLOCK_SLACK_MS). So neither a replayed
 * old message nor a wrong time (a far-future `until` or mark) refuses anything for longer than a
 * revocation ever could.
 */
export function boundedRevocation(revocation: Revocation, now: number, retainMs: number): Revocation | null {
  if (!(revocation.until > now)) return null;
  if (revocation.kind === 's') {
    return revocation.until <= now + LONGEST_SESSION_REVOCATION_MS ? revocation : { ...revocation, until: now + LONGEST_SESSION_REVOCATION_MS };
  }
  if (revocation.kind === 'c') {
    // Like a session's: it matters only while access tokens issued before it live.
    if (!Number.isFinite(revocation.changedAt)) return null;
    return {
      kind: 'c',
      userId: revocation.userId,
      changedAt: Math.min(revocation.changedAt, now + CLOCK_SLACK_MS),
      until: Math.min(revocation.until, now + LONGEST_SESSION_REVOCATION_MS),
    };
  }
  if (!Number.isFinite(revocation.revokedBefore)) return null;
  return {
    kind: 'u',
    userId: revocation.userId,
    revokedBefore: Math.min(revocation.revokedBefore, now + CLOCK_SLACK_MS),
    until: Math.min(revocation.until, now + retainMs + CLOCK_SLACK_MS),
  };
}

/** Applies one revocation to a set; an unreadable one changes nothing. */
export function applyRevocation(set: RevocationSet, revocation: Revocation): void {
  if (!Number.isFinite(revocation.until)) return;
  if (revocation.kind === 's') set.addSession(revocation.sessionId, revocation.until);
  else if (revocation.kind === 'c') {
    if (Number.isFinite(revocation.changedAt)) set.addClaimsChange(revocation.userId, revocation.changedAt, revocation.until);
  } else if (Number.isFinite(revocation.revokedBefore)) set.addUser(revocation.userId, revocation.revokedBefore, revocation.until);
}
