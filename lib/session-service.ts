// Session families: starting them, presenting refresh tokens to the store, proving reuse, revoking.
import type { AuthEvents, RevocationReason } from './events';
import type { AuthenticateResult, Configuration } from './options';
import {
  deriveSuccessor,
  formatRefreshToken,
  hashSecret,
  isEarlierToken,
  newRefreshSecret,
  newSessionId,
  parseRefreshToken,
} from './refresh-token';
import type { SessionRecord } from './store/session-store';

/** The longest User-Agent kept with a session. */
const MAX_USER_AGENT_LENGTH = 256;

/** What presenting a refresh token came to. */
export type PresentationResult =
  | { status: 'rotated' | 'retried'; session: SessionRecord; refreshToken: string }
  | { status: 'revoked' | 'reuse'; session: SessionRecord }
  | { status: 'invalid' };

/** A new session and its first refresh token. */
export interface StartedSession {
  session: SessionRecord;
  refreshToken: string;
}

/**
 * The family lifecycle on top of a SessionStore: the store decides atomically, this side holds
 * the derivation key and never hands a secret (only hashes) to the store. Revocations asked for by
 * the app or a user are reported here, once, as `session_revoked` / `user_revoked` events.
 */
export class SessionService {
  constructor(
    private readonly config: Configuration,
    private readonly events: AuthEvents,
  ) {}

  /** Starts a family for a user: a new session id and a random first secret. */
  async start(user: Required<AuthenticateResult>, userAgent: string | undefined): Promise<StartedSession> {
    const { store, refreshToken } = this.config;
    const sessionId = newSessionId();
    const secret = newRefreshSecret();
    try {
      const session = await store.createSession({
        sessionId,
        userId: user.userId,
        claims: user.claims,
        userAgent: (userAgent ?? '').slice(0, MAX_USER_AGENT_LENGTH),
        secretHash: hashSecret(secret),
        now: Date.now(),
        idleTtlMs: refreshToken.idleTtlMs,
        absoluteTtlMs: refreshToken.absoluteTtlMs,
      });
      return { session, refreshToken: formatRefreshToken({ sessionId, secret }) };
    } catch (error) {
      // The client gets a 503 and never sees this session; if the create was only delayed (a stalled
      // server), this revoke is queued behind it on the same connection and removes it when it lands.
      this.revoke(sessionId).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Presents a refresh cookie value: `rotate` for `/refresh`, `revoke` to end the family it belongs
   * to (logout, re-login). A provably earlier token revokes its family (`reuse`); a malformed,
   * unknown, expired or forged one is `invalid` and changes nothing.
   */
  async present(cookieValue: string, action: 'rotate' | 'revoke'): Promise<PresentationResult> {
    const parts = parseRefreshToken(cookieValue);
    if (!parts) return { status: 'invalid' };
    const { store, refreshToken } = this.config;
    const successor = deriveSuccessor(refreshToken.successorKey, parts.sessionId, parts.secret);
    const outcome = await store.presentToken(parts.sessionId, {
      presentedHash: hashSecret(parts.secret),
      successorHash: hashSecret(successor),
      now: Date.now(),
      action,
      idleTtlMs: refreshToken.idleTtlMs,
      reuseGraceMs: refreshToken.reuseGraceMs,
      revokedMarkerTtlMs: refreshToken.revokedMarkerTtlMs,
    });
    switch (outcome.status) {
      case 'rotated':
      case 'retried':
        return { ...outcome, refreshToken: formatRefreshToken({ sessionId: parts.sessionId, secret: successor }) };
      case 'revoked':
      case 'reuse':
        return { status: outcome.status, session: outcome.session };
      case 'unknown': {
        if (!isEarlierToken(refreshToken.successorKey, parts, outcome.chain)) return { status: 'invalid' };
        const session = await this.revoke(parts.sessionId);
        return session ? { status: 'reuse', session } : { status: 'invalid' };
      }
      case 'missing':
        return { status: 'invalid' };
    }
  }

  /** Ends one session now, silently (reuse, clean-up); access tokens carrying its id are refused from now on. */
  revoke(sessionId: string): Promise<SessionRecord | null> {
    return this.config.store.revokeSession(sessionId, this.config.refreshToken.revokedMarkerTtlMs);
  }

  /** Ends one session on request and emits `session_revoked` when it existed. */
  async revokeSession(sessionId: string, reason: RevocationReason): Promise<SessionRecord | null> {
    const record = await this.revoke(sessionId);
    if (record) this.events.emit('session_revoked', { userId: record.userId, sessionId, reason });
    return record;
  }

  /** Ends every session of a user, emits `user_revoked`, and resolves with the ids that were ended. */
  async revokeUser(userId: string): Promise<string[]> {
    const sessions = await this.config.store.listSessions(userId);
    const ended = await Promise.all(sessions.map((session) => this.revoke(session.sessionId)));
    const sessionIds = ended.filter((record): record is SessionRecord => record !== null).map((record) => record.sessionId);
    this.events.emit('user_revoked', { userId, sessionIds });
    return sessionIds;
  }
}
